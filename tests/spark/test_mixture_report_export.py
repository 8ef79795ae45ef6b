"""select -> mixture -> report -> export on real Spark and Delta over the synthetic warehouse of
test_select_stage.py: mixture rows with provenance, metrics against random, the report file with the run's numbers,
each export style read back, reruns replacing the run's slices."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from postmix.export import ExportParams
from postmix.mixture.metrics import METRIC_INFO
from postmix.spark.export import export_run
from postmix.spark.mixture import run_mixture
from postmix.spark.report import report_path, run_report
from postmix.spark.select import run_select
from postmix.storage.delta import current_version
from postmix.storage.tables import table_path
from test_select_stage import N_SAMPLES, REJECT_REASONS, config_for, shared_warehouse

RUN = "mix"
BUDGET = 12


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    warehouse, truth = shared_warehouse(spark, tmp_path_factory)
    config = config_for(warehouse, RUN, budget=BUDGET, quotas=["source:alpaca>=3"])
    outcomes = {"select": run_select(spark, config), "mixture": run_mixture(spark, config),
                "report": run_report(spark, config)}
    return warehouse, truth, config, outcomes


def read(spark, warehouse: str, table: str) -> pd.DataFrame:
    return (spark.read.format("delta").load(table_path(warehouse, table)).where(f"run_id = '{RUN}'")
            .toPandas())


def test_mixture_rows_carry_the_selection_samples_annotations_and_provenance(spark, pipeline):
    warehouse, truth, config, outcomes = pipeline
    mixture = read(spark, warehouse, "mixtures").sort_values("rank").reset_index(drop=True)
    selections = read(spark, warehouse, "selections").sort_values("rank").reset_index(drop=True)
    assert list(mixture["sample_id"]) == list(selections["sample_id"]) and len(mixture) == BUDGET
    assert list(mixture["gain"]) == list(selections["gain"])
    assert all(mixture["task"] == [truth[s]["task"] for s in mixture["sample_id"]])
    assert all(mixture["source"] == [truth[s]["source"] for s in mixture["sample_id"]])
    assert np.allclose(mixture["quality"], [truth[s]["quality"] for s in mixture["sample_id"]], atol=1e-6)
    assert all(mixture["language"] == "en") and all(len(m) == 2 for m in mixture["messages"])
    assert set(mixture["config_fingerprint"]) == {config.result_fingerprint}
    versions = dict(mixture["input_versions"][0])
    for table in ("samples", "annotations", "sample_labels", "label_graph", "embeddings", "selections"):
        assert versions[table] == current_version(spark, table_path(warehouse, table))
    assert outcomes["mixture"].counts["mixture_rows"] == BUDGET and "mixtures" in outcomes["mixture"].message


def test_metrics_compare_the_selection_with_random(spark, pipeline):
    warehouse, _, _, _ = pipeline
    metrics = read(spark, warehouse, "mixture_metrics").set_index("metric")
    selections = read(spark, warehouse, "selections")
    assert list(sorted(metrics.index)) == sorted(METRIC_INFO)
    assert metrics.loc["n_samples", "selection"] == BUDGET == metrics.loc["n_samples", "random"]
    assert metrics.loc["objective", "selection"] == pytest.approx(selections["objective_after"].max(), rel=1e-9)
    assert metrics.loc["objective", "selection"] > metrics.loc["objective", "random"]
    assert 0.0 < metrics.loc["semantic_coverage", "selection"] <= 1.0


def test_the_mixture_summary_and_the_report_give_the_verdict(spark, pipeline):
    from postmix.mixture import in_metric_order, verdict_of

    warehouse, _, _, outcomes = pipeline
    metrics = in_metric_order(read(spark, warehouse, "mixture_metrics"))
    sentence = verdict_of(metrics).sentence()
    assert outcomes["mixture"].message.splitlines()[-1] == f"vs random: {sentence}"
    html = report_path(warehouse, RUN).read_text(encoding="utf-8")
    assert f'">{sentence}</p>' in html.replace("&#x27;", "'")


def test_report_file_holds_the_runs_numbers(spark, pipeline):
    warehouse, _, config, outcomes = pipeline
    path = report_path(warehouse, RUN)
    assert path.is_file() and str(path) in outcomes["report"].message
    html = path.read_text(encoding="utf-8")
    assert f"<dd>{N_SAMPLES:,}</dd>" in html and f"<dd>{BUDGET:,}</dd>" in html
    for reason, count in REJECT_REASONS.items():
        assert f"<td>{reason}</td><td>{count:,}</td>" in html
    assert f"<td>total</td><td>{sum(REJECT_REASONS.values()):,}</td>" in html
    objective = read(spark, warehouse, "mixture_metrics").set_index("metric").loc["objective", "selection"]
    assert f"{objective:.6g}" in html
    for stage in ("select", "mixture"):
        assert f"<td>{stage}</td><td>succeeded</td>" in html


def test_each_export_style_round_trips(spark, pipeline, tmp_path):
    warehouse, truth, _, _ = pipeline
    mixture = read(spark, warehouse, "mixtures").sort_values("rank")
    expected_ids = list(mixture["sample_id"])
    first = [dict(m) for m in mixture["messages"].iloc[0]]
    for style in ("messages", "sharegpt", "alpaca"):
        out = tmp_path / f"{style}.jsonl"
        summary = export_run(spark, warehouse, RUN, str(out), ExportParams(format="jsonl", style=style))
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert summary.rows == BUDGET and [r["sample_id"] for r in records] == expected_ids
        assert records[0]["task"] == truth[expected_ids[0]]["task"]
        if style == "messages":
            assert records[0]["messages"] == first
        elif style == "sharegpt":
            assert records[0]["conversations"] == [{"from": "human", "value": first[0]["content"]},
                                                   {"from": "gpt", "value": first[1]["content"]}]
        else:
            assert (records[0]["instruction"], records[0]["output"]) == (first[0]["content"], first[1]["content"])
        parquet = tmp_path / f"{style}.parquet"
        export_run(spark, warehouse, RUN, str(parquet), ExportParams(format="parquet", style=style))
        table = pq.read_table(parquet).to_pylist()
        assert [r["sample_id"] for r in table] == expected_ids


def test_rerun_with_force_replaces_the_runs_slices(spark, pipeline):
    warehouse, _, config, _ = pipeline
    before = read(spark, warehouse, "mixtures").sort_values("rank").reset_index(drop=True)
    run_mixture(spark, config, force=True)
    after = read(spark, warehouse, "mixtures").sort_values("rank").reset_index(drop=True)
    assert len(after) == BUDGET and list(after["sample_id"]) == list(before["sample_id"])
    assert len(read(spark, warehouse, "mixture_metrics")) == len(METRIC_INFO)
