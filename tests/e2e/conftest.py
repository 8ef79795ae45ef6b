"""End-to-end fixtures: the demo data, one local-mode reference run of the whole pipeline, and a table comparison.

The reference run uses the shared in-process `spark` fixture (local[2]); the cluster and Airflow tests run the
same config in other processes and compare every Delta table they wrote against it, read with delta-rs (no Spark).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
JARS_DIR = Path(os.environ.get("POSTMIX_JARS_DIR") or REPO_ROOT / ".jars")

DEMO_BUDGET = 300  # samples selected: the default of `postmix demo --budget`

# Columns that measure a run rather than its result: when it ran, how long, how much memory, which code checkout.
RUN_MEASUREMENTS = {"runs": ("duration_s", "peak_rss_mb", "code_version")}
# Entries of runs.counts that are measurements of the attempt, not results: the select stage's own time and memory,
# and the report's size (the report shows the stage timings).
COUNT_MEASUREMENTS = ("select_wall_ms", "select_peak_rss_mb", "report_bytes")


@pytest.fixture(scope="session")
def project() -> dict:
    """The checkout's paths: repo, python (the project venv), jars (Delta); skips with how to get what is missing."""
    if not VENV_PYTHON.is_file():
        pytest.skip(f"needs the project environment {VENV_PYTHON}: run `make env`")
    jars = sorted(JARS_DIR.glob("*.jar"))
    if not jars:
        pytest.skip(f"needs the Delta jars in {JARS_DIR}: run `make env`")
    return {"repo": REPO_ROOT, "python": VENV_PYTHON, "jars_dir": JARS_DIR, "jars": jars}


@pytest.fixture(scope="session")
def demo_sources(tmp_path_factory) -> list[dict]:
    """The bundled demo data (5 files, ~3.2K rows with duplicates and broken rows), written once per session."""
    from postmix.demo.generate import write_demo_sources

    specs = write_demo_sources(tmp_path_factory.mktemp("demo-sources"), seed=0)
    return [{"name": s.name, "path": s.path} for s in specs]


@pytest.fixture(scope="session")
def write_config(demo_sources):
    """write_config(path, warehouse) -> path of a pipeline config over the demo data, with `postmix demo`'s
    selection budget. The warehouse is not part of the run id: every config written here shares one run id."""

    def write(path: Path, warehouse: Path) -> Path:
        config = {"warehouse": str(warehouse), "sources": demo_sources, "select": {"budget": DEMO_BUDGET}}
        path.write_text(yaml.safe_dump(config, sort_keys=True))
        return path

    return write


@pytest.fixture(scope="session")
def local_reference(spark, write_config, tmp_path_factory) -> dict:
    """The whole pipeline (whatever postmix.pipeline.STAGES holds) in local mode: {warehouse, run_id, stages}."""
    from postmix.config import load_config
    from postmix.pipeline import STAGES, run_pipeline

    folder = tmp_path_factory.mktemp("local-reference")
    config = load_config(write_config(folder / "conf.yaml", folder / "warehouse"))
    run_pipeline(spark, config)
    return {"warehouse": Path(config.warehouse), "run_id": config.effective_run_id,
            "stages": [name for name, _ in STAGES]}


def delta_tables(warehouse: Path) -> list[str]:
    return sorted(p.name for p in warehouse.iterdir() if (p / "_delta_log").is_dir())


def excluded_columns(table: str) -> set[str]:
    """Timestamps of any table (from its declared schema) and the runs table's measurements."""
    from postmix.schemas.declared import load_schema

    schema = load_schema(table)
    return {c.name for c in schema.columns if c.type.kind == "timestamp"} | set(RUN_MEASUREMENTS.get(table, ()))


def canonical_rows(warehouse: Path, table: str, run_id_alias: dict[str, str]) -> list[str]:
    """Every row as sorted-key JSON (excluded columns dropped, run ids mapped through `run_id_alias`), sorted."""
    from deltalake import DeltaTable

    data = DeltaTable(str(warehouse / table)).to_pyarrow_table()
    keep = [name for name in data.column_names if name not in excluded_columns(table)]
    rows = []
    for row in data.select(keep).to_pylist():
        if table == "runs":
            row["counts"] = {k: v for k, v in sorted(row["counts"] or []) if k not in COUNT_MEASUREMENTS}
        text = json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)
        for actual, expected in run_id_alias.items():
            text = text.replace(json.dumps(actual)[1:-1], json.dumps(expected)[1:-1])
        rows.append(text)
    return sorted(rows)


@pytest.fixture(scope="session")
def assert_same_tables():
    """assert_same_tables(actual_warehouse, reference, run_id): same tables, and in each the same rows."""

    def check(actual: Path, reference: dict, run_id: str) -> list[str]:
        tables = delta_tables(reference["warehouse"])
        assert delta_tables(actual) == tables
        alias = {run_id: reference["run_id"]} if run_id != reference["run_id"] else {}
        for table in tables:
            got = canonical_rows(actual, table, alias)
            want = canonical_rows(reference["warehouse"], table, {})
            assert len(got) == len(want), f"{table}: {len(got)} rows, local mode wrote {len(want)}"
            differing = sorted(set(got) ^ set(want))
            assert got == want, f"{table}: {len(differing)} rows differ from local mode, e.g. {differing[:2]}"
        return tables

    return check


def run_logged(command: list[str], log: Path, env: dict[str, str], timeout_s: float, cwd: Path = REPO_ROOT):
    """Run a command with its output in `log`; on failure the assertion shows the log's tail. The command runs in
    its own process group, so a timeout also ends the JVMs and Python workers it started."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"{' '.join(command[:4])} ... still running after {timeout_s:.0f}s:\n"
                                 + log.read_text(errors="replace")[-3000:]) from None
    assert returncode == 0, f"{' '.join(command[:4])} ... exited {returncode}:\n" + \
        log.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="session")
def run_command():
    return run_logged


@pytest.fixture(scope="session")
def project_env(project) -> dict[str, str]:
    """The environment the Makefile exports to every Spark process."""
    env = dict(os.environ)
    env.update(PYSPARK_PYTHON=str(VENV_PYTHON), PYSPARK_DRIVER_PYTHON=str(VENV_PYTHON),
               POSTMIX_JARS_DIR=str(JARS_DIR), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("PYTHONPATH", None)  # the child processes find postmix the way a user's would
    return env


sys.path.insert(0, str(REPO_ROOT / "deploy" / "cluster"))  # loopback.py: the standalone cluster helper


# What the libraries print when they are not silenced (postmix.console): log4j lines, Spark's and the JVM's start-up
# lines, faiss's loader, model-loading bars, Python warnings, py4j.
CONSOLE_NOISE = re.compile(
    r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d [A-Z]+ |\b(WARN|INFO|DEBUG)\b|warning|locally checkpointed|faiss|log4j|py4j"
    r"|Loading (checkpoint|weights)|%\||setLogLevel|incubator|Ivy|:: resolv|Traceback", re.IGNORECASE)
# postmix's own progress bars (tqdm on stderr, select) are postmix's output.
POSTMIX_BARS = ("lazy greedy", "kcenter", "dense gradient sampler")
# postmix's own lines: the stage summaries (`[stage] run ...: done` and their indented counts), the demo's and
# export's lines, and postmix's log lines (`HH:MM:SS message`).
POSTMIX_LINE = re.compile(r"^(\[[a-z]+\] run |  \S|postmix demo: |mixture table: |report: |\d\d:\d\d:\d\d )")


def console_noise(text: str) -> list[str]:
    """The lines of a console capture that are not postmix's own (carriage returns split tqdm's redraws)."""
    noise = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(POSTMIX_BARS):
            continue
        if CONSOLE_NOISE.search(line) or not POSTMIX_LINE.match(line):
            noise.append(line)
    return noise


@pytest.fixture(scope="session")
def noise_in():
    return console_noise
