"""Kill -9 of the driver at each stage's writes, then rerun: the tables converge to an uninterrupted run's. Two
ingests into one warehouse at once: serialised by Delta's conflict detection, no duplicates, no corruption.

The killed runs and the concurrent pair are real `postmix` subprocesses (a real SIGKILL of the driver JVM's
parent), all started together to overlap their slow JVM starts; reruns and baselines run in-process on the shared
session. Adding a stage's crash points = one line in PIPELINE_CRASH_POINTS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import deltalake
import numpy as np
import pytest

from postmix import cli
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.parse import parse_split
from postmix.ingest.splits import plan_splits
from postmix.pipeline import STAGES

import reliability_corpus as corpus

pytestmark = pytest.mark.slow

# `postmix ingest` killed right after its commit to each table (runs: the `running` record, before any data).
INGEST_CRASH_POINTS = ["ingest:samples", "ingest:rejects", "ingest:runs"]
# `postmix run` killed after a later stage's commit: add one "<stage>:<table>" line per stage as stages land.
PIPELINE_CRASH_POINTS: list[str] = []
# One warehouse, one `postmix run` per line, each killed inside a later stage's writes (the previous kill's stage is
# resumed first), then a last uninterrupted rerun: every stage of the pipeline is killed once and resumed, at the
# cost of about one pipeline run plus a JVM start per line. Mid-stage points where a stage writes several tables.
PIPELINE_KILL_CHAIN = [
    "annotate:annotations",
    "embed:embeddings",
    "semantic:label_graph",  # after sample_labels and semantic_labels, before near_duplicates
    "select:selections",
    "mixture:mixtures",  # before mixture_metrics
    "report:runs",  # its `running` record: killed while the report is being built
]
# The command killed at a random moment: "run" once a full pipeline fits the test budget (about 5 min per run of
# every stage on this 2-core machine today, and the case needs three: baseline, killed run, rerun).
RANDOM_KILL_COMMAND = "ingest"
CRASH_CASES = [("ingest", t) for t in INGEST_CRASH_POINTS] + [("run", t) for t in PIPELINE_CRASH_POINTS]
# The default run kills ingest after its samples commit (the data table); the other crash points, one more JVM
# each on 2 cores, run in `make test-extended` only.
DEFAULT_CRASH_CASES = {("ingest", "ingest:samples")}
CRASH_PARAMS = [pytest.param(case, marks=() if case in DEFAULT_CRASH_CASES else pytest.mark.extended)
                for case in CRASH_CASES]
SECRET = "XYZ-reliability-s3a-secret-0451"
SECRET_CONF = f"spark.hadoop.fs.s3a.secret.key={SECRET}"
# Columns of `runs` that differ between an interrupted-then-resumed run and an uninterrupted one by design:
# timestamps and timings, the attempt counter, the commit-count-dependent table versions and the input fingerprint
# made from them (a killed attempt's commits add versions; the versions are checked separately), and the code
# version (its .dirty flag follows the checkout, which other work may change meanwhile).
# Counters that describe one attempt, not the run: a forced rerun reports samples_new=0 (tests/spark), so after a
# kill the resumed attempt counts its own earlier partial write as already present (ingest, annotate and embed are
# incremental per sample: what the killed attempt committed, the resumed one finds done); the select stage's own
# time and memory measurements; and the report's size (the report shows the stage timings).
ATTEMPT_COUNTS = ("samples_already_present", "samples_new", "samples_already_annotated", "samples_pending",
                  "samples_already_embedded", "samples_embedded", "texts_encoded", "rows_truncated", "rows_without_vector",
                  "select_peak_rss_mb", "select_wall_ms", "report_bytes")
# annotate's task distribution ("task.<name>") counts the samples this attempt annotated
ATTEMPT_COUNT_PREFIXES = ("task.",)
RUNS_VOLATILE = ("started_at", "finished_at", "duration_s", "peak_rss_mb", "attempt", "input_versions",
                 "output_versions", "input_fingerprint", "code_version")
# All subprocesses run at once (their JVM starts overlap); on a loaded 2-core machine they take minutes each.
SUBPROCESS_TIMEOUT_S = 1800
# Small inputs: fewer shuffle partitions make each Delta merge cheaper (Spark settings are not in the run id).
LIGHT_CONF = ("spark.sql.shuffle.partitions=2", "spark.databricks.delta.snapshotPartitions=1")
FAULTS = "faults: kill -9 and rerun"
# Per table, the columns left out of the comparison: the runs table's above, and the mixture's Delta versions for
# time travel, which a killed attempt's commits shift (checked separately, by recorded_versions_exist).
TABLE_VOLATILE = {"runs": RUNS_VOLATILE, "mixtures": ("input_versions",)}


# ---------------------------------------------------------------- inputs

def chat_rows(prefix: str, n: int) -> list[dict]:
    rows = [corpus.good_chat(f"{prefix}{i}") for i in range(n)]
    rows += [corpus.chat(f"{prefix}bad{i}", ("user", "q"), ("user", "again")) for i in range(5)]
    return rows


def write_fault_sources(folder: Path) -> dict[str, str]:
    """Three small sources: `shared` (both concurrent runs read it), `a` and `b` (b repeats some of a's rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    shared = corpus.write_jsonl(folder, "shared.jsonl", chat_rows("sh", 300))
    a = corpus.write_jsonl(folder, "a.jsonl", chat_rows("a", 120))
    b = corpus.write_jsonl(folder, "b.jsonl", chat_rows("a", 40) + chat_rows("b", 80))
    return {"shared": shared, "a": a, "b": b}


def source_args(paths: dict[str, str], names: tuple[str, ...]) -> list[str]:
    return [arg for name in names for arg in ("--source", f"{name}={paths[name]}")]


# ---------------------------------------------------------------- subprocesses

@dataclass
class Proc:
    popen: subprocess.Popen
    log: Path
    warehouse: Path
    killed_by_test: bool = False

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def launch(argv: list[str], warehouse: Path, log: Path, crash_after: str | None = None) -> Proc:
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.pop("POSTMIX_CRASH_AFTER", None)
    if crash_after:
        env["POSTMIX_CRASH_AFTER"] = crash_after
    postmix = str(Path(sys.executable).parent / "postmix")
    confs = [arg for conf in (SECRET_CONF, *LIGHT_CONF) for arg in ("--conf", conf)]
    cmd = [postmix, *argv, "--warehouse", str(warehouse), *confs, "--verbose"]
    with open(log, "wb") as out:
        popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Proc(popen, log, warehouse)


def kill_at_random_moment(proc: Proc, delay: float) -> None:
    """Wait for the first `runs` commit (the run is writing), then SIGKILL after `delay` seconds."""
    first_commit = proc.warehouse / "runs" / "_delta_log" / f"{1:020d}.json"
    while proc.popen.poll() is None and not first_commit.exists():
        time.sleep(0.1)
    deadline = time.monotonic() + delay
    while proc.popen.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.popen.poll() is None:
        os.kill(proc.popen.pid, signal.SIGKILL)
        proc.killed_by_test = True


def wait_all(procs: list[Proc]) -> None:
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
    for proc in procs:
        try:
            proc.popen.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()


@pytest.fixture(scope="module")
def fault_paths(tmp_path_factory) -> dict[str, str]:
    """The source files every run here reads (the same paths, so the same derived run id)."""
    folder = tmp_path_factory.mktemp("fault-sources")
    paths = write_fault_sources(folder)
    (folder / "run.yaml").write_text(RUN_CONFIG, encoding="utf-8")
    return {**paths, "config": str(folder / "run.yaml")}


# `postmix run` needs a selection budget; the config every `run` here uses (ingest-only runs ignore it).
RUN_CONFIG = "select:\n  budget: 50\n"


def command_args(command: str, paths: dict[str, str], names: tuple[str, ...]) -> list[str]:
    config = ["--config", paths["config"]] if command == "run" else []
    return [command, *config, *source_args(paths, names)]


@pytest.fixture(scope="module")
def baselines(spark, fault_paths, tmp_path_factory):
    """Uninterrupted runs, in-process on the shared session: {command: (warehouse, wall seconds)}, made on first use.

    An ingest-only warehouse is compared with the ingest tables and runs row of an ingest baseline (same run id)."""
    made: dict[str, tuple[Path, float]] = {}

    def baseline(command: str) -> tuple[Path, float]:
        if command not in made:
            warehouse = tmp_path_factory.mktemp(f"baseline-{command}") / "wh"
            started = time.monotonic()
            assert cli.main([*command_args(command, fault_paths, ("shared", "a")),
                             "--warehouse", str(warehouse)]) == 0
            made[command] = (warehouse, time.monotonic() - started)
        return made[command]

    return baseline


def selected_crash_cases(session) -> list[tuple[str, str]]:
    """The crash cases this session runs (the others are deselected by `-m`: no process is launched for them)."""
    return [item.callspec.params["case"] for item in session.items
            if getattr(item, "originalname", None) == "test_kill_after_a_commit_then_rerun_converges"]


@pytest.fixture(scope="module")
def launched(request, fault_paths, baselines, tmp_path_factory):
    """Start every selected crash run, the random kill and the concurrent pair together; wait for all of them."""
    root = tmp_path_factory.mktemp("faults")
    paths = fault_paths
    crash = {case: launch(command_args(case[0], paths, ("shared", "a")), root / f"wh-{case[1].replace(':', '-')}",
                          root / f"crash-{case[1].replace(':', '-')}.log", crash_after=case[1])
             for case in selected_crash_cases(request.session)}
    random_kill = launch(command_args(RANDOM_KILL_COMMAND, paths, ("shared", "a")), root / "wh-random",
                         root / "random.log")
    concurrent = [launch(["ingest", *source_args(paths, names)], root / "wh-concurrent", root / f"conc-{i}.log")
                  for i, names in enumerate((("shared", "a"), ("shared", "b")))]
    rng = np.random.default_rng(20240611)
    # somewhere inside the run, whatever its stages: a seeded fraction of an uninterrupted run's wall time
    delay = float(rng.uniform(0.1, 0.9)) * baselines(RANDOM_KILL_COMMAND)[1]
    killer = threading.Thread(target=kill_at_random_moment, args=(random_kill, delay))
    killer.start()
    wait_all([*crash.values(), random_kill, *concurrent])
    killer.join()
    random_kill, delay = kill_again_if_it_finished_first(random_kill, delay, paths, root)
    return {"root": root, "paths": paths, "crash": crash, "random": random_kill, "concurrent": concurrent,
            "delay": delay}


def kill_again_if_it_finished_first(proc: Proc, delay: float, paths, root: Path, tries: int = 3) -> tuple[Proc, float]:
    """A run faster than the baseline can finish before its kill, which would test nothing: relaunch it in a
    fresh warehouse with a third of the delay, a few times, until a kill lands."""
    for attempt in range(1, tries + 1):
        if proc.killed_by_test or proc.popen.returncode != 0:
            break
        delay /= 3
        proc = launch(command_args(RANDOM_KILL_COMMAND, paths, ("shared", "a")), root / f"wh-random-{attempt}",
                      root / f"random-{attempt}.log")
        kill_at_random_moment(proc, delay)
        wait_all([proc])
    return proc, delay


# ---------------------------------------------------------------- comparing warehouses

def tables_in(warehouse: Path) -> list[str]:
    return sorted(p.name for p in warehouse.iterdir() if (p / "_delta_log").is_dir()) if warehouse.exists() else []


INGEST_TABLES = ["rejects", "runs", "samples"]


def table_rows(warehouse: Path, table: str, stages: tuple[str, ...]) -> list[str]:
    """The table's rows as sorted canonical JSON (runs: only these stages' rows, without volatile columns)."""
    rows = deltalake.DeltaTable(str(warehouse / table)).to_pyarrow_table().to_pylist()
    rows = [{k: v for k, v in r.items() if k not in TABLE_VOLATILE.get(table, ())} for r in rows]
    if table == "runs":
        rows = [{**r, "counts": {k: v for k, v in dict(r["counts"] or []).items()
                                 if k not in ATTEMPT_COUNTS and not k.startswith(ATTEMPT_COUNT_PREFIXES)}}
                for r in rows if r["stage"] in stages]
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


def differences(actual: Path, expected: Path, command: str) -> list[str]:
    """What differs between the rerun warehouse and the baseline's tables of the command's stages."""
    stages = stages_of(command)
    want_tables = INGEST_TABLES if command == "ingest" else tables_in(expected)
    if tables_in(actual) != want_tables:
        return [f"tables {tables_in(actual)} != {want_tables}"]
    diffs = []
    for table in want_tables:
        got, want = table_rows(actual, table, stages), table_rows(expected, table, stages)
        if got != want:
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            diffs.append(f"{table}: {len(got)} vs {len(want)} rows; missing {missing[:2]}; extra {extra[:2]}")
    return diffs


def recorded_versions_exist(warehouse: Path, table: str = "runs", column: str = "output_versions") -> bool:
    """Every Delta version that `table.column` records is a committed version of the table it names (runs:
    the stages' outputs; mixtures: the inputs a mixture is rebuilt from by time travel)."""
    if not (warehouse / table).exists():
        return True
    for row in deltalake.DeltaTable(str(warehouse / table)).to_pyarrow_table().to_pylist():
        for name, version in dict(row[column] or []).items():
            if version > deltalake.DeltaTable(str(warehouse / name)).version():
                return False
    return True


def stages_of(command: str) -> tuple[str, ...]:
    return ("ingest",) if command == "ingest" else tuple(name for name, _ in STAGES)


def rerun_in_process(command: str, launched, warehouse: Path) -> int:
    return cli.main([*command_args(command, launched["paths"], ("shared", "a")), "--warehouse", str(warehouse)])


def readable_after_kill(warehouse: Path) -> dict[str, int]:
    """Each table left by the killed run opens as a valid Delta table (its last commit is whole)."""
    return {t: deltalake.DeltaTable(str(warehouse / t)).version() for t in tables_in(warehouse)}


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("case", CRASH_PARAMS, ids=lambda c: f"{c[0]}-{c[1]}")
def test_kill_after_a_commit_then_rerun_converges(launched, baselines, case, outcome):
    command, target = case
    proc = launched["crash"][case]
    code = proc.popen.returncode
    left = readable_after_kill(proc.warehouse)
    rerun = rerun_in_process(command, launched, proc.warehouse)
    diffs = differences(proc.warehouse, baselines(command)[0], command)
    outcome(FAULTS, f"{command} POSTMIX_CRASH_AFTER={target}",
            f"`postmix {command}` SIGKILLed right after its commit to {target.split(':')[1]}, then rerun",
            "killed (-9); every table readable; rerun exit 0; tables equal the uninterrupted run's",
            f"exit {code}; tables left: {', '.join(left) or 'none'}; rerun exit {rerun}; "
            + ("tables equal" if not diffs else "DIFFER: " + "; ".join(diffs)))
    assert code == -signal.SIGKILL, proc.output()[-3000:]
    assert rerun == 0
    assert not diffs
    assert recorded_versions_exist(proc.warehouse)


@pytest.mark.extended
def test_pipeline_killed_inside_every_stage_resumes_to_the_uninterrupted_tables(fault_paths, baselines, outcome,
                                                                               tmp_path):
    warehouse = tmp_path / "wh-chain"
    argv = command_args("run", fault_paths, ("shared", "a"))
    steps = []
    for point in PIPELINE_KILL_CHAIN:
        proc = launch(argv, warehouse, tmp_path / f"chain-{point.replace(':', '-')}.log", crash_after=point)
        wait_all([proc])
        left = readable_after_kill(warehouse)
        steps.append((point, proc.popen.returncode, left))
        assert proc.popen.returncode == -signal.SIGKILL, f"{point}: " + proc.output()[-3000:]
        assert point.split(":")[1] in left, f"{point}: the killed run never reached that commit"
    rerun = rerun_in_process("run", {"paths": fault_paths}, warehouse)
    diffs = differences(warehouse, baselines("run")[0], "run")
    attempts = {r["stage"]: r["attempt"] for r in deltalake.DeltaTable(str(warehouse / "runs")).to_pyarrow_table()
                .to_pylist()}
    outcome(FAULTS, "run killed inside every stage in turn",
            "`postmix run` SIGKILLed after " + ", then ".join(PIPELINE_KILL_CHAIN)
            + " (each rerun resumes the stage killed before), then run once more",
            "every kill -9; every table readable after each; last rerun exit 0; tables equal the uninterrupted run's",
            f"exits {sorted({code for _, code, _ in steps})}; tables readable after each kill; rerun exit {rerun}; "
            f"attempts per stage {attempts}; " + ("tables equal" if not diffs else "DIFFER: " + "; ".join(diffs)))
    assert rerun == 0
    assert not diffs
    assert recorded_versions_exist(warehouse) and recorded_versions_exist(warehouse, "mixtures", "input_versions")


def test_kill_at_a_random_moment_then_rerun_converges(launched, baselines, outcome):
    proc = launched["random"]
    code = proc.popen.returncode
    left = readable_after_kill(proc.warehouse)
    rerun = rerun_in_process(RANDOM_KILL_COMMAND, launched, proc.warehouse)
    expected = baselines(RANDOM_KILL_COMMAND)[0]
    diffs = differences(proc.warehouse, expected, RANDOM_KILL_COMMAND)
    killed = "killed mid-run (-9)" if proc.killed_by_test and code == -signal.SIGKILL else f"exit {code} before the kill"
    outcome(FAULTS, f"{RANDOM_KILL_COMMAND} SIGKILL at a random moment",
            f"`postmix {RANDOM_KILL_COMMAND}` SIGKILLed after its first runs commit plus a seeded random 10-90% of an uninterrupted "
            "run's wall time (relaunched with a third of the delay if it finished first), then rerun",
            "every table readable; rerun exit 0; tables equal the uninterrupted run's",
            f"{killed}; tables left readable; rerun exit {rerun}; "
            + ("tables equal" if not diffs else "DIFFER: " + "; ".join(diffs)))
    assert proc.killed_by_test and code == -signal.SIGKILL, proc.output()[-3000:]
    assert set(left) <= set(tables_in(expected))
    assert rerun == 0 and not diffs


def expected_union(paths: dict[str, str], names: set[str]) -> tuple[dict[str, list], set[tuple]]:
    """Engine-free: sample_id -> sorted holders, and (source, location, reason) of rejects, for these sources."""
    params = IngestParams()
    samples: dict[str, set] = {}
    rejects = set()
    for split in plan_splits([SourceSpec(n, paths[n]) for n in sorted(names)], params):
        for row in parse_split(split, params):
            if row["kind"] == "sample":
                samples.setdefault(row["sample_id"], set()).add((row["source"], row["source_id"], row["location"]))
            else:
                rejects.add((row["source"], row["location"], row["reason"]))
    return {k: sorted(v) for k, v in samples.items()}, rejects


def test_two_concurrent_ingests_serialise_without_duplicates(launched, outcome):
    procs = launched["concurrent"]
    warehouse = procs[0].warehouse
    codes = [p.popen.returncode for p in procs]
    outputs = [p.output() for p in procs]
    samples = deltalake.DeltaTable(str(warehouse / "samples")).to_pyarrow_table().to_pylist()
    rejects = deltalake.DeltaTable(str(warehouse / "rejects")).to_pyarrow_table().to_pylist()
    runs = deltalake.DeltaTable(str(warehouse / "runs")).to_pyarrow_table().to_pylist()
    ok_sources = {"shared"} | {name for code, name in zip(codes, ("a", "b")) if code == 0}
    want_samples, want_rejects = expected_union(launched["paths"], ok_sources)
    got_samples = {s["sample_id"]: sorted((h["source"], h["source_id"], h["location"]) for h in s["sources"])
                   for s in samples}
    got_rejects = {(r["source"], r["location"], r["reason"]) for r in rejects}
    duplicates = len(samples) - len(got_samples)
    statuses = sorted(r["status"] for r in runs)
    errors = [line for out in outputs for line in out.splitlines() if line.startswith("postmix: error:")]
    outcome("concurrency", "two ingests, overlapping sources, same warehouse",
            "`postmix ingest` of {shared, a} and of {shared, b} started together into one warehouse",
            "both succeed (retries serialise them) or one fails with a `postmix: error:` naming the conflict; "
            "no duplicate sample_id; sources union as computed without Spark; one runs row per run",
            f"exits {codes}; runs statuses {statuses}; {duplicates} duplicate sample_id; union "
            f"{'correct' if got_samples == want_samples and got_rejects == want_rejects else 'WRONG'}; "
            f"errors: {errors or 'none'}")
    assert all("Traceback" not in out for out in outputs), outputs
    assert duplicates == 0
    assert len(runs) == 2 and len({r["run_id"] for r in runs}) == 2
    if codes == [0, 0]:
        assert statuses == ["succeeded", "succeeded"]
        assert got_samples == want_samples and got_rejects == want_rejects
    else:
        assert sorted(codes) == [0, 2] and len(errors) == 1 and "conflict" in errors[0], outputs
        assert set(map(tuple, sum(want_samples.values(), []))) <= {h for v in got_samples.values() for h in v}


def test_secrets_in_spark_conf_never_reach_logs_or_the_runs_table(launched, outcome):
    procs = [*launched["crash"].values(), launched["random"], *launched["concurrent"]]
    leaked_logs = [p.log.name for p in procs if SECRET in p.output()]
    leaked_runs = []
    for warehouse in {p.warehouse for p in procs}:
        if (warehouse / "runs").exists():
            for row in deltalake.DeltaTable(str(warehouse / "runs")).to_pyarrow_table().to_pylist():
                if any(SECRET in str(row[c] or "") for c in ("params", "error")):
                    leaked_runs.append(warehouse.name)
    outcome("safety", "secret_in_spark_conf_subprocess",
            f"--conf {SECRET_CONF.split('=')[0]}=... --verbose on every fault-injection run",
            "the value appears in no captured stdout/stderr and in no runs.params / runs.error",
            f"{len(procs)} runs checked; leaked in logs: {leaked_logs or 'none'}; in runs: {leaked_runs or 'none'}")
    assert not leaked_logs and not leaked_runs


@pytest.fixture(scope="module")
def identical_pair(fault_paths, tmp_path_factory):
    """The same `postmix ingest` command started twice at once into one new warehouse (same run id)."""
    root = tmp_path_factory.mktemp("identical")
    procs = [launch(["ingest", *source_args(fault_paths, ("shared", "a"))], root / "wh", root / f"same-{i}.log")
             for i in range(2)]
    wait_all(procs)
    return procs


@pytest.mark.extended  # two more JVMs; the overlapping-sources pair above covers concurrency in the default run
def test_two_identical_concurrent_ingests_retry_quietly_and_count_honestly(identical_pair, fault_paths, outcome):
    procs = identical_pair
    warehouse = procs[0].warehouse
    codes = [p.popen.returncode for p in procs]
    outputs = [p.output() for p in procs]
    samples = deltalake.DeltaTable(str(warehouse / "samples")).to_pyarrow_table().to_pylist()
    runs = deltalake.DeltaTable(str(warehouse / "runs")).to_pyarrow_table().to_pylist()
    want_samples, _ = expected_union(fault_paths, {"shared", "a"})
    traces = [i for i, out in enumerate(outputs) if "Exception" in out or "Traceback" in out]
    [row] = runs if len(runs) == 1 else [None]
    counts = dict((row or {}).get("counts") or [])
    outcome("concurrency", "two identical ingests at once",
            "the same `postmix ingest` command started twice together into one new warehouse (one run id)",
            "both exit 0 (or one names the conflict in one line); no exception text in either output; samples "
            "right; the one runs row counts every new sample (samples_new summed over the processes)",
            f"exits {codes}; exception text in outputs {traces or 'none'}; {len(samples)} samples of "
            f"{len(want_samples)}; runs rows {len(runs)}, samples_new {counts.get('samples_new')}, "
            f"merged_attempts {counts.get('merged_attempts', 1)}")
    assert not traces, [outputs[i][-3000:] for i in traces]
    assert {s["sample_id"] for s in samples} == set(want_samples) and len(samples) == len(want_samples)
    assert row is not None and row["status"] == "succeeded"
    if codes == [0, 0]:
        assert counts["samples_new"] == len(want_samples), counts
    else:
        assert sorted(codes) == [0, 2], outputs
