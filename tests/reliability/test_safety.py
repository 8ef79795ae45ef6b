"""Nothing from a config or a data file is executed, and credentials stay out of the runs table and the logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import deltalake
import pytest

import postmix
from postmix.config import load_config
from postmix.errors import ConfigError
from postmix.spark.stage import StageOutcome, StageSpec, run_stage

SAFETY = "safety"
REPO = Path(postmix.__file__).resolve().parents[2]
SCANNED = ("lib/postmix", "jobs")
# Code that would execute or deserialise something a user or a data file controls.
FORBIDDEN = {
    "pickle.load": re.compile(r"\b(c?pickle|dill|cloudpickle)\.loads?\("),
    "marshal.load": re.compile(r"\bmarshal\.loads?\("),
    "eval(": re.compile(r"(?<![\w.])eval\("),
    "exec(": re.compile(r"(?<![\w.])exec\("),
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "os.system": re.compile(r"\bos\.system\("),
    "os.popen": re.compile(r"\bos\.popen\("),
    "yaml.load(": re.compile(r"\byaml\.(load|unsafe_load|full_load)\("),
    "torch.load(": re.compile(r"\btorch\.load\("),
    "joblib.load(": re.compile(r"\bjoblib\.load\("),
    "read_pickle": re.compile(r"\bread_pickle\("),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
}
# (file relative to the repo, rule) -> why it is legitimate. Model loading belongs here, from configured model paths
# only (fastText .ftz and sentence-transformers safetensors need none of the rules above today).
ALLOWED: dict[tuple[str, str], str] = {}
SECRET = "XYZ-in-process-secret-7731"


def violations(root: Path = REPO) -> list[str]:
    found = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            relative = str(path.relative_to(root))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                for rule, pattern in FORBIDDEN.items():
                    if pattern.search(code) and (relative, rule) not in ALLOWED:
                        found.append(f"{relative}:{number}: {rule}: {line.strip()}")
    return found


def test_the_package_neither_executes_nor_unpickles_anything(outcome):
    found = violations()
    outcome(SAFETY, "no_exec_no_unpickle_in_code", "grep of lib/postmix and jobs for " + ", ".join(FORBIDDEN),
            f"no match outside the allow-list ({len(ALLOWED)} entries)", f"{len(found)} match(es): {found[:3]}"
            if found else "no match")
    assert not found


def test_the_grep_catches_each_rule(tmp_path):
    (tmp_path / "lib" / "postmix").mkdir(parents=True)
    (tmp_path / "jobs").mkdir()
    samples = ["pickle.loads(b)", "marshal.load(f)", "eval(x)", "exec(x)", "run(c, shell=True)", "os.system(c)",
               "os.popen(c)", "yaml.load(t)", "torch.load(p)", "joblib.load(p)", "pd.read_pickle(p)",
               "np.load(p, allow_pickle=True)"]
    (tmp_path / "lib" / "postmix" / "bad.py").write_text("\n".join(samples) + "\nmodel.eval()\n", encoding="utf-8")
    assert len(violations(tmp_path)) == len(FORBIDDEN)


def test_yaml_python_tags_are_refused(tmp_path, outcome):
    marker = tmp_path / "EXECUTED"
    config = tmp_path / "evil.yaml"
    config.write_text(f"run_id: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    outcome(SAFETY, "yaml_python_tag_in_config", "load_config on run_id: !!python/object/apply:os.system [...]",
            "ConfigError (yaml.safe_load), nothing runs",
            f"{type(caught.value).__name__}: {'not valid YAML' if 'not valid YAML' in str(caught.value) else caught.value}"
            f"; marker {'CREATED' if marker.exists() else 'absent'}")
    assert "not valid YAML" in str(caught.value) and "python/object" in str(caught.value)
    assert not marker.exists()


def test_a_secret_in_a_failing_stage_is_redacted_in_runs_and_logs(spark, warehouse, caplog, outcome):
    """A stage whose error message carries a spark conf secret: runs.error and every log record hide it."""

    def body(_inputs) -> StageOutcome:
        raise RuntimeError(f"cannot open s3a://bucket/x with fs.s3a.secret.key={SECRET} and token: {SECRET}")

    spec = StageSpec("ingest", {"spark": {"conf": {"spark.hadoop.fs.s3a.secret.key": SECRET}}}, "fp", ())
    with caplog.at_level(logging.DEBUG), pytest.raises(RuntimeError):
        run_stage(spark, warehouse, "run-secret", spec, body)
    [row] = deltalake.DeltaTable(f"{warehouse}/runs").to_pyarrow_table().to_pylist()
    in_runs = SECRET in (row["error"] or "") or SECRET in row["params"]
    in_logs = any(SECRET in record.getMessage() for record in caplog.records)
    outcome(SAFETY, "secret_in_failing_stage_error", "a stage fails with fs.s3a.secret.key=<secret> in its "
            "message and in its params", "runs.error and runs.params redacted; no log record holds it",
            f"status {row['status']}; in runs: {'LEAKED' if in_runs else 'redacted'}; "
            f"in logs: {'LEAKED' if in_logs else 'absent'}")
    assert row["status"] == "failed" and "redacted" in row["error"]
    assert not in_runs and not in_logs
