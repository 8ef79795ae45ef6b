"""The whole pipeline, in process, on a small copy of the bundled demo data: every stage writes its tables, a second
run skips everything, and the selection is byte-for-byte reproducible."""

from __future__ import annotations

import contextlib
import io

import deltalake
import pytest

from postmix.cli import main
from postmix.config import load_config
from postmix.demo.generate import FILES
from postmix.pipeline import STAGES, run_pipeline

BUDGET = 60


@pytest.fixture(scope="module")
def demo_run(spark, tmp_path_factory):
    """`postmix demo` itself (what `make demo` runs), on a small scale, in this process and Spark session."""
    root = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["demo", "--warehouse", str(root / "wh"), "--scale", "0.12", "--budget", str(BUDGET)])
    assert code == 0, printed.getvalue()[-3000:]
    sources = root / "wh-sources"  # where the demo writes its sources: beside the warehouse
    config = load_config(None, {"warehouse": str(root / "wh"), "select": {"budget": BUDGET},
                                "sources": [f"demo_{name}={sources / file}" for name, file in FILES.items()]})
    return config, printed.getvalue()


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
