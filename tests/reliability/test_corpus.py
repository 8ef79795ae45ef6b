"""Every generated defect ends in reject rows with a reason (ONE ingest over the whole row corpus), or in one clear
`postmix: error:` line before anything is written (path and config defects, through the CLI in-process)."""

from __future__ import annotations

import argparse
import os
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import deltalake
import pytest

from postmix import cli
from postmix.commands import COMMANDS
from postmix.config import load_config
from postmix.errors import PostmixError
from postmix.ingest.parse import MAX_DETAIL_CHARS
from postmix.spark.ingest import run_ingest

import reliability_corpus as corpus

ROWS = "bad input: rows"
PATHS = "bad input: paths and config"
# No input may make a command hang: each path case gets this many seconds, the one corpus ingest CORPUS_TIMEOUT_S.
CASE_TIMEOUT_S = int(os.environ.get("POSTMIX_RELIABILITY_CASE_TIMEOUT_S", "300"))
CORPUS_TIMEOUT_S = int(os.environ.get("POSTMIX_RELIABILITY_CORPUS_TIMEOUT_S", "1800"))


class CaseTimeout(Exception):
    """A reliability case ran past its deadline (a hang is a failure, not a wait)."""


@contextmanager
def deadline(seconds: float, what: str):
    """Fail the block with CaseTimeout after `seconds` (SIGALRM: interrupts py4j's socket waits too)."""

    def expire(signum, frame):
        raise CaseTimeout(f"{what}: still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def corpus_run(spark, tmp_path_factory):
    """Build the corpus and ingest it once; return the config, the outcome and the tables as Python rows."""
    root = tmp_path_factory.mktemp("corpus")
    corpus.PICKLE_MARKER.unlink(missing_ok=True)
    specs = corpus.build_row_corpus(root / "src")
    config = load_config(None, {"sources": specs, "ingest": corpus.CORPUS_PARAMS, "warehouse": str(root / "wh")})
    with deadline(CORPUS_TIMEOUT_S, "the corpus ingest"):
        result = run_ingest(spark, config)
    tables = {t: deltalake.DeltaTable(f"{config.warehouse}/{t}").to_pyarrow_table().to_pylist()
              for t in ("samples", "rejects", "runs")}
    return {"root": root, "config": config, "outcome": result, **tables}


def holders_by_source(samples: list[dict]) -> Counter:
    """How many input rows of each source became (or duplicated) a stored sample."""
    return Counter(h["source"] for s in samples for h in s["sources"])


def describe(reasons: Counter, n_samples: int) -> str:
    parts = [f"{n}x {reason}" for reason, n in sorted(reasons.items())]
    if n_samples:
        parts.append(f"{n_samples} sample(s) kept")
    return ", ".join(parts) or "nothing"


@pytest.mark.parametrize("defect", corpus.ROW_DEFECTS, ids=lambda d: d.id)
def test_row_defect_ends_in_rejects_with_a_reason(corpus_run, defect, outcome):
    rejects = [r for r in corpus_run["rejects"] if r["source"] == defect.id]
    reasons = Counter(r["reason"] for r in rejects)
    n_samples = holders_by_source(corpus_run["samples"])[defect.id]
    observed = describe(reasons, n_samples)
    outcome(ROWS, defect.id, defect.description, defect.expected,
            observed if defect.samples >= 0 or not n_samples else observed.replace(
                f"{n_samples} sample(s) kept", "rows before the break kept"))
    assert dict(reasons) == defect.rejects
    assert n_samples > 0 if defect.samples < 0 else n_samples == defect.samples
    assert all(r["detail"] for r in rejects), "every reject says why"
    assert all(len(r["detail"]) <= MAX_DETAIL_CHARS for r in rejects), [len(r["detail"]) for r in rejects]
    if defect.detail:
        assert all(defect.detail in r["detail"] for r in rejects), [r["detail"] for r in rejects]


def test_a_hanging_case_fails_at_its_deadline(outcome):
    import time

    started = time.monotonic()
    with pytest.raises(CaseTimeout) as caught:
        with deadline(0.2, "sleeper"):
            time.sleep(5)
    waited = time.monotonic() - started
    outcome("bounds", "per_case_timeout", f"every path case runs under a {CASE_TIMEOUT_S} s deadline, the corpus "
            f"ingest under {CORPUS_TIMEOUT_S} s (SIGALRM); checked on a 5 s sleep with a 0.2 s deadline",
            "CaseTimeout after about 0.2 s (the case fails, the run goes on)",
            f"{type(caught.value).__name__} after {waited:.1f} s")
    assert "still running after 0.2 s" in str(caught.value) and waited < 2


def test_the_corpus_covers_at_least_30_distinct_defects():
    ids = [d.id for d in corpus.ROW_DEFECTS] + [d.id for d in corpus.PATH_DEFECTS]
    assert len(set(ids)) == len(ids) >= 30


def test_counts_reconcile_and_match_the_tables(corpus_run):
    counts = corpus_run["outcome"].counts
    assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_duplicate"] + counts["rows_rejected"]
    assert len(corpus_run["rejects"]) == counts["rows_rejected"]
    assert len(corpus_run["samples"]) == counts["rows_accepted"]
    assert [r["status"] for r in corpus_run["runs"]] == ["succeeded"]


def test_rejects_keep_a_bounded_raw_excerpt(corpus_run):
    limit = corpus_run["config"].ingest.raw_excerpt_chars
    assert all(r["raw"] is None or len(r["raw"]) <= limit for r in corpus_run["rejects"])
    big = [r for r in corpus_run["rejects"] if r["source"] in ("field_10mb", "record_50mb_line")]
    assert len(big) == 2 and all(len(r["raw"]) <= limit for r in big)


# ---------------------------------------------------------------- path-level defects through the CLI

def expected_error(defect) -> str:
    return f"exit 2, {defect.error_class}: ...{defect.error}..."


def error_class_of(argv: list[str]) -> str:
    """The PostmixError subclass the command raises (main() prints only its message)."""
    parser = cli.build_parser(COMMANDS)
    args: argparse.Namespace = parser.parse_args(argv)
    with pytest.raises(PostmixError) as caught:
        COMMANDS[args.command].run(args)
    return type(caught.value).__name__


@pytest.mark.parametrize("defect", corpus.PATH_DEFECTS, ids=lambda d: d.id)
def test_path_defect_is_one_clear_error_before_anything_is_written(spark, tmp_path, capsys, defect, outcome):
    warehouse = tmp_path / "wh"
    argv = defect.argv(tmp_path) + ["--warehouse", str(warehouse)]
    with deadline(CASE_TIMEOUT_S, defect.id):
        code = cli.main(argv)
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("postmix: error:")]
    observed = f"exit {code}: " + " / ".join(error_lines).replace(str(tmp_path), "<tmp>")[:240]
    outcome(PATHS, defect.id, defect.description, expected_error(defect), observed)
    assert code == 2
    assert len(error_lines) == 1 and defect.error in error_lines[0], err
    assert "Traceback" not in err
    assert not warehouse.exists(), "nothing may be written"
    assert not (tmp_path / corpus.MARKER_NAME).exists()
    assert not list(tmp_path.parent.rglob("escaped*")), "nothing may be written outside the warehouse"
    with deadline(CASE_TIMEOUT_S, defect.id):
        assert error_class_of(argv) == defect.error_class
    assert not warehouse.exists()


# ---------------------------------------------------------------- data is never executed

SAFETY = "safety"


def test_shell_metacharacters_in_data_are_just_text(corpus_run, outcome):
    folder = corpus_run["root"] / "src" / "shell_metacharacters"
    [sample] = [s for s in corpus_run["samples"] if s["source"] == "shell_metacharacters"]
    stored = sample["messages"][0]["content"]
    executed = (folder / corpus.MARKER_NAME).exists()
    outcome(SAFETY, "shell_metacharacters_in_data", "a message holding $(touch X), backticks, ; rm -rf, | sh",
            "stored verbatim, nothing runs",
            f"stored {'verbatim' if '$(touch' in stored and '`touch' in stored else 'ALTERED'}, "
            f"marker file {'CREATED' if executed else 'absent'}")
    assert stored.startswith("$(touch ") and "| sh;" in stored
    assert not executed and folder.exists()


def test_a_pickle_exploit_in_a_data_path_is_never_unpickled(corpus_run, outcome):
    rows = [r for r in corpus_run["rejects"] if r["source"] == "pickle_payload"]
    locations = [r["location"] for r in rows] + [h["location"] for s in corpus_run["samples"]
                                                 for h in s["sources"] if h["source"] == "pickle_payload"]
    executed = corpus.PICKLE_MARKER.exists()
    outcome(SAFETY, "pickle_payload_in_data_path", "os.system pickle exploit as model.pkl and as rows.jsonl",
            "model.pkl skipped, rows.jsonl rejected as text, nothing runs",
            f"files read: {sorted(Path(loc.split(':')[0]).name for loc in locations)}, "
            f"reject reasons: {sorted(r['reason'] for r in rows)}, marker {'CREATED' if executed else 'absent'}")
    assert not executed
    assert not any("model.pkl" in loc for loc in locations)
    assert [r["reason"] for r in rows] == ["invalid_utf8"]


# ---------------------------------------------------------------- bounds: one source holding most rows

def test_a_source_holding_most_rows_is_split_and_fully_ingested(corpus_run, outcome, measurement):
    from postmix.ingest.splits import plan_splits

    config = corpus_run["config"]
    [spec] = [s for s in config.sources if s.name == "dominant"]
    n_splits = len(plan_splits([spec], config.ingest))
    size_mb = os.path.getsize(spec.path) / 2**20
    expected_splits = int(os.path.getsize(spec.path) // config.ingest.split_bytes)  # cuts land after a newline
    rows = corpus.dominant_rows()
    kept = holders_by_source(corpus_run["samples"])["dominant"]
    total = corpus_run["outcome"].counts["rows_read"]
    [run] = corpus_run["runs"]
    outcome("bounds", "dominant_source", f"one {corpus.BIG_SOURCE_MB} MB JSONL source holding "
            f"{rows / total:.0%} of the run's rows, split_bytes={config.ingest.split_bytes // 2**20} MB",
            f"at least {expected_splits} splits, all {rows} rows kept", f"{n_splits} splits, {kept} rows kept")
    measurement("ingest peak RSS, driver + JVM + Python workers (corpus run)", f"{run['peak_rss_mb']:.0f} MB",
                f"runs.peak_rss_mb (postmix.runinfo.PeakRss, 0.2 s sampling of the pytest process and its children) "
                f"for ONE ingest of all {len(config.sources)} corpus sources: {total} rows, of which a "
                f"{size_mb:.0f} MB file of {rows} rows in {n_splits} splits, plus a 50 MB line and a 10 MB "
                f"field; local[2], shared test session (driver_memory 3g)")
    assert n_splits >= expected_splits >= 2
    assert kept == rows


# ---------------------------------------------------------------- advice that works

@pytest.mark.parametrize("command", ["mixture", "report"])
def test_mixture_and_report_take_the_budget_their_error_asks_for(command, tmp_path, outcome):
    """Without a budget they say "select needs a budget: --budget N": that flag must be one they accept."""
    from postmix.subcommand import load_pipeline_config
    from postmix.select.params import BUDGET_MISSING, require_select_params

    parser = cli.build_parser(COMMANDS)
    bare = load_pipeline_config(parser.parse_args([command, "--warehouse", str(tmp_path)]), COMMANDS[command])
    with pytest.raises(PostmixError) as caught:
        require_select_params(bare.select, command)
    args = parser.parse_args([command, "--warehouse", str(tmp_path), "--budget", "5", "--quota", "source:a<=0.5"])
    config = load_pipeline_config(args, COMMANDS[command])
    outcome(PATHS, f"{command}_budget_flag", f"`postmix {command}` without a config: its error asks for --budget N",
            "the error names --budget, and --budget / --quota are accepted flags",
            f"error: {caught.value}; with --budget 5: select.budget {config.select.budget}, quotas "
            f"{list(config.select.quotas)}")
    assert "--budget N" in str(caught.value) and BUDGET_MISSING in str(caught.value)
    assert config.select.budget == 5 and config.select.quotas == ("source:a<=0.5",)
