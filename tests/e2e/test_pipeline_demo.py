"""The whole pipeline, in process, on a small copy of the bundled demo data: every stage writes its tables, a second
run skips everything, and the selection is byte-for-byte reproducible."""

from __future__ import annotations

import contextlib
import io
import os
import sys

import deltalake
import pytest

from postmix.cli import main
from postmix.config import load_config
from postmix.demo.generate import FILES
from postmix.pipeline import STAGES, run_pipeline

BUDGET = 60


@contextlib.contextmanager
def whole_console(path):
    """Everything the block writes to this process's stdout and stderr, Python's streams and the file descriptors
    alike (the JVM's stderr and so its Python workers' are forwarded to fd 2: postmix.spark.session), into `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w", encoding="utf-8", errors="replace") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(sink):
                yield
        finally:
            sys.stdout.flush()
            sink.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@pytest.fixture(scope="module")
def demo_run(spark, tmp_path_factory):
    """`postmix demo` itself (what `make demo` runs), on a small scale, in this process and Spark session; with
    everything else the run wrote to the console: (config, console)."""
    root = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with whole_console(root / "console.txt"), contextlib.redirect_stdout(printed):
        code = main(["demo", "--warehouse", str(root / "wh"), "--scale", "0.12", "--budget", str(BUDGET)])
    assert code == 0, printed.getvalue()[-3000:]
    console = printed.getvalue() + (root / "console.txt").read_text(encoding="utf-8", errors="replace")
    sources = root / "wh-sources"  # where the demo writes its sources: beside the warehouse
    config = load_config(None, {"warehouse": str(root / "wh"), "select": {"budget": BUDGET},
                                "sources": [f"demo_{name}={sources / file}" for name, file in FILES.items()]})
    return config, console


def test_the_console_shows_postmix_lines_only(demo_run, noise_in):
    """No log4j line, no 'RDD was locally checkpointed', no faiss loader, no model-loading bar, no warning: what a
    stage prints is its summary (docs/ARCHITECTURE.md, "The console"). The JVM started with the `spark` fixture:
    its start-up lines are checked in test_quiet_console.py."""
    from postmix.spark import session

    assert session.jvm_stderr_forwarded(), "the JVM's stderr is not forwarded: this capture would not see it"
    _, console = demo_run
    noise = noise_in(console)
    assert not noise, f"{len(noise)} lines that are not postmix's: " + "\n".join(noise[:20])
    assert "[select] run " in console


def rows(config, table):
    return deltalake.DeltaTable(f"{config.warehouse}/{table}").to_pyarrow_table().to_pylist()


def test_every_stage_ran_and_wrote_its_tables(demo_run):
    config, printed = demo_run
    run_id = config.effective_run_id
    done = [line.split("]")[0][1:] for line in printed.splitlines() if line.endswith(f"run {run_id}: done")]
    assert done == [stage for stage, _ in STAGES]  # every stage printed, in order, under the run id we expect
    assert {"ingest", "annotate", "embed", "semantic", "select", "mixture", "report"} <= set(done)
    assert "postmix demo: done" in printed and f"run_id = '{run_id}'" in printed
    samples = rows(config, "samples")
    assert len(rows(config, "annotations")) == len(samples) == len(rows(config, "embeddings"))
    assert len(rows(config, "sample_labels")) == len(samples)
    runs = rows(config, "runs")
    assert {r["stage"] for r in runs} == set(done) and {r["status"] for r in runs} == {"succeeded"}


def test_mixture_has_the_budget_with_provenance(demo_run):
    config, _ = demo_run
    run_id = config.effective_run_id
    mixture = [r for r in rows(config, "mixtures") if r["run_id"] == run_id]
    assert len(mixture) == BUDGET
    assert sorted(r["rank"] for r in mixture) == list(range(1, BUDGET + 1))
    assert all(r["sources"] and r["messages"] and r["input_versions"] for r in mixture)
    metrics = {r["metric"] for r in rows(config, "mixture_metrics") if r["run_id"] == run_id}
    assert "objective" in metrics or any("objective" in m for m in metrics)


def test_report_is_written(demo_run):
    from pathlib import Path

    config, _ = demo_run
    report = Path(config.warehouse) / "reports" / f"{config.effective_run_id}.html"
    assert report.is_file() and "data:image/png;base64" in report.read_text(encoding="utf-8")


def test_second_run_skips_every_stage_and_changes_nothing(spark, demo_run):
    config, _ = demo_run
    before = sorted((r["sample_id"], r["rank"], r["gain"]) for r in rows(config, "selections"))
    again = run_pipeline(spark, config)
    assert all(outcome.skipped for outcome in again.values())
    after = sorted((r["sample_id"], r["rank"], r["gain"]) for r in rows(config, "selections"))
    assert after == before
