"""The select stage on real Spark and Delta, over a small synthetic warehouse whose semantic tables are written
directly (their schemas are final): budget, quotas, quality floor, near-duplicate exclusion, token budgets,
byte-identical reruns, infeasible quotas refused before the selections table is touched, the missing-budget error.

`shared_warehouse` (one synthetic warehouse per process) is shared with test_mixture_report_export.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.sql import functions as F

from postmix.config import load_config
from postmix.embed.params import DEFAULT_MODEL
from postmix.errors import ConfigError, ConstraintError
from postmix.schemas.declared import load_schema
from postmix.select.pool_rules import MIN_QUALITY_SCORE, TOKEN_CHARS
from postmix.spark.select import run_select
from postmix.storage.delta import current_version, replace_slice
from postmix.storage.tables import table_path

SOURCES = ("alpaca", "dolly", "gpteacher")
TASKS = ("Math", "Coding & Debugging", "Creative writing")
N_SAMPLES, N_CLUSTERS, DIM = 90, 6, 8
FIT = "fit-test"
NEAR_DUPLICATES = 6  # the first samples in id order are non-kept near-duplicates
REJECT_REASONS = {"malformed_json": 3, "empty_turn": 2}


def sample_id(i: int) -> str:
    return f"{i:032x}"


def build_warehouse(spark, warehouse: str, seed: int = 7) -> dict:
    """Samples, annotations, embeddings, semantic labels, label graph, sample labels, near-duplicates and rejects
    for N_SAMPLES synthetic conversations; returns the per-sample truth as plain dicts keyed by sample_id."""
    from postmix.storage.spark_schema import spark_schema

    rng = np.random.default_rng(seed)
    truth = {}
    samples, annotations, embeddings, sample_labels = [], [], [], []
    centroids = _unit(rng.normal(size=(N_CLUSTERS, DIM)))
    for i in range(N_SAMPLES):
        sid = sample_id(i)
        source, task = SOURCES[i % 3], TASKS[(i // 3) % 3]
        user, answer = f"question {i} " * (1 + i % 5), f"answer {i} " * (2 + i % 7)
        quality = 0.0 if i == 5 else float(np.round(rng.uniform(0.05, 1.0), 4))
        cluster = int(rng.integers(N_CLUSTERS))
        second = (cluster + 1) % N_CLUSTERS
        vector = _unit(centroids[cluster] + 0.3 * rng.normal(size=DIM))
        truth[sid] = {"source": source, "task": task, "quality": quality, "chars": len(user) + len(answer),
                      "answer_chars": len(answer),
                      "near_duplicate": i < NEAR_DUPLICATES, "labels": [cluster, second]}
        messages = [("user", user), ("assistant", answer)]
        samples.append((sid, messages, source, f"{source}-{i}", "chat", [(source, f"{source}-{i}", f"f:{i}")], 1,
                        len(user), len(answer), False, "{}", "ingest-run"))
        annotations.append(_annotation(sid, task, quality, len(user), len(answer)))
        embeddings.append((sid, DEFAULT_MODEL, "fp", "user_turns/v1", len(user), False,
                           [float(x) for x in vector], DIM, [], "embed-run"))
        sample_labels.append((sid, cluster, [cluster, second], [0.7, 0.3], FIT, "sem-run"))
    names = [f"cluster-{k}" for k in range(N_CLUSTERS)] + list(TASKS)
    label_vectors = np.vstack([centroids, _unit(rng.normal(size=(len(TASKS), DIM)))])
    semantic_labels = [(k, "cluster" if k < N_CLUSTERS else "task", name, 10, [float(x) for x in label_vectors[k]],
                        FIT, "sem-run") for k, name in enumerate(names)]
    edges = [(0, 1, 0.8, FIT, "sem-run"), (2, 3, 0.6, FIT, "sem-run"), (1, N_CLUSTERS, 0.7, FIT, "sem-run")]
    duplicates = [(sample_id(i), sample_id(i + 50), 0.97, 0, FIT, "sem-run") for i in range(NEAR_DUPLICATES)]
    rejects = [("alpaca", f"a.jsonl:{n}-{reason}", None, "chat", reason, "detail", "{", "ingest-run")
               for reason, count in REJECT_REASONS.items() for n in range(count)]
    for table, rows in (("samples", samples), ("annotations", annotations), ("embeddings", embeddings),
                        ("semantic_labels", semantic_labels), ("label_graph", edges),
                        ("sample_labels", sample_labels), ("near_duplicates", duplicates), ("rejects", rejects)):
        key = load_schema(table).keys[0]  # one commit per table: replace everything (the table is new)
        replace_slice(spark, spark.createDataFrame(rows, spark_schema(table)), warehouse, table, F.col(key).isNotNull())
    return truth


def _annotation(sid: str, task: str, quality: float, user_chars: int, answer_chars: int) -> tuple:
    return (sid, task, [(task, 0.9)], "model", quality, "model", "en", 0.99, user_chars, answer_chars, 1, 0, False,
            False, 0.0, False, False, [], "task_model", "sha", "quality_model", "sha", "lid", "sha", "annfp",
            "annotate-run")


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def config_for(warehouse: str, run_id: str, **select):
    return load_config(None, {"warehouse": warehouse, "run_id": run_id, "select": select})


def selections_of(spark, warehouse: str, run_id: str) -> list[dict]:
    rows = (spark.read.format("delta").load(table_path(warehouse, "selections"))
            .where(f"run_id = '{run_id}'").orderBy("rank").collect())
    return [row.asDict(recursive=True) for row in rows]


_SHARED: dict[str, tuple[str, dict]] = {}


def shared_warehouse(spark, tmp_path_factory) -> tuple[str, dict]:
    """One synthetic warehouse per pytest process for both Spark test modules (each uses its own run ids)."""
    if "warehouse" not in _SHARED:
        warehouse = str(tmp_path_factory.mktemp("selectstage") / "warehouse")
        _SHARED["warehouse"] = (warehouse, build_warehouse(spark, warehouse))
    return _SHARED["warehouse"]


@pytest.fixture(scope="module")
def synthetic(spark, tmp_path_factory):
    return shared_warehouse(spark, tmp_path_factory)


def test_selection_honours_budget_quota_quality_floor_and_exclusion(spark, synthetic):
    warehouse, truth = synthetic
    config = config_for(warehouse, "constrained", budget=20, quotas=["source:gpteacher<=0.2", "task:Math>=0.4"],
                        min_quality=0.3, exclude_near_duplicates=True)
    outcome = run_select(spark, config)
    rows = selections_of(spark, warehouse, "constrained")
    assert [r["rank"] for r in rows] == list(range(1, 21))
    assert sum(r["groups"]["source"] == "gpteacher" for r in rows) <= 4
    assert sum(r["groups"]["task"] == "Math" for r in rows) >= 8
    assert all(truth[r["sample_id"]]["quality"] >= 0.3 for r in rows)
    assert not any(truth[r["sample_id"]]["near_duplicate"] for r in rows)
    assert all(r["groups"] == {"source": truth[r["sample_id"]]["source"], "task": truth[r["sample_id"]]["task"]}
               for r in rows)
    assert all(r["cost"] == 1.0 and r["method"] == "mig" and r["top_labels"] for r in rows)
    assert all(r["quality"] == pytest.approx(truth[r["sample_id"]]["quality"], abs=1e-6) for r in rows)
    assert rows[-1]["objective_after"] == pytest.approx(outcome.counts["objective_x1e6"] / 1e6, abs=1e-6)
    eligible = sum(t["quality"] >= 0.3 and not t["near_duplicate"] for t in truth.values())
    assert outcome.counts["pool_rows"] == N_SAMPLES and outcome.counts["eligible_rows"] == eligible
    assert outcome.counts["selected"] == 20 and "selections" in outcome.message


def test_longest_ranks_by_the_assistant_characters(spark, synthetic):
    warehouse, truth = synthetic
    outcome = run_select(spark, config_for(warehouse, "longest", budget=10, method="longest"))
    rows = selections_of(spark, warehouse, "longest")
    expected = sorted(truth, key=lambda sid: (-truth[sid]["answer_chars"], sid))[:10]
    assert [r["sample_id"] for r in rows] == expected and all(r["method"] == "longest" for r in rows)
    assert len({truth[sid]["answer_chars"] for sid in expected}) < 10  # equal lengths: the sample_id tie-break
    assert "vs random: measured by the mixture stage" in outcome.message


def test_token_budget_costs_are_tokens_and_zero_quality_is_clipped(spark, synthetic):
    warehouse, truth = synthetic
    outcome = run_select(spark, config_for(warehouse, "tokens", budget_tokens=300, method="quality"))
    rows = selections_of(spark, warehouse, "tokens")
    assert all(r["cost"] == max(1, math.ceil(truth[r["sample_id"]]["chars"] / TOKEN_CHARS)) for r in rows)
    assert sum(r["cost"] for r in rows) <= 300 and outcome.counts["budget_used"] <= 300
    qualities = [r["quality"] for r in rows]
    assert qualities == sorted(qualities, reverse=True)  # the quality baseline takes best first
    everything = run_select(spark, config_for(warehouse, "all", budget=N_SAMPLES, method="quality",
                                                 exclude_near_duplicates=False))
    assert everything.counts["selected"] == N_SAMPLES
    zero = [r for r in selections_of(spark, warehouse, "all") if r["sample_id"] == sample_id(5)]
    assert zero[0]["quality"] == pytest.approx(MIN_QUALITY_SCORE) and zero[0]["rank"] == N_SAMPLES


def test_rerun_with_force_gives_identical_rows_and_replaces_the_slice(spark, synthetic):
    warehouse, _ = synthetic
    config = config_for(warehouse, "rerun", budget=15, quotas=["source:dolly>=3"])
    run_select(spark, config)
    first = selections_of(spark, warehouse, "rerun")
    skipped = run_select(spark, config)
    assert skipped.skipped
    run_select(spark, config, force=True)
    second = selections_of(spark, warehouse, "rerun")
    assert len(second) == 15 and first == second
    assert repr(first).encode() == repr(second).encode()


def test_distributed_path_runs_randgreedi_over_spark_partitions(spark, synthetic):
    warehouse, truth = synthetic
    outcome = run_select(spark, config_for(warehouse, "spread", budget=10, distributed="on", partitions=2,
                                           quotas=["source:alpaca<=3"], exclude_near_duplicates=True))
    rows = selections_of(spark, warehouse, "spread")
    assert outcome.counts["distributed"] == 1 and len(rows) == 10
    assert sum(r["groups"]["source"] == "alpaca" for r in rows) <= 3
    assert not any(truth[r["sample_id"]]["near_duplicate"] for r in rows)
    assert all(r["quality"] == pytest.approx(max(truth[r["sample_id"]]["quality"], MIN_QUALITY_SCORE), abs=1e-6)
               for r in rows)


def test_infeasible_quota_is_refused_before_selections_are_written(spark, synthetic):
    warehouse, _ = synthetic
    path = table_path(warehouse, "selections")
    before = current_version(spark, path)
    with pytest.raises(ConstraintError, match="source:nowhere"):
        run_select(spark, config_for(warehouse, "bad", budget=10, quotas=["source:nowhere>=1"]))
    with pytest.raises(ConstraintError, match="no group column 'colour'"):
        run_select(spark, config_for(warehouse, "bad", budget=10, quotas=["colour:red<=0.5"]))
    assert current_version(spark, path) == before
    assert selections_of(spark, warehouse, "bad") == []


def test_quota_on_another_annotation_column_and_missing_budget(spark, synthetic):
    warehouse, _ = synthetic
    run_select(spark, config_for(warehouse, "lang", budget=5, quotas=["language:en<=1.0"]))
    assert all(r["groups"]["language"] == "en" for r in selections_of(spark, warehouse, "lang"))
    config = load_config(None, {"warehouse": warehouse, "run_id": "nobudget"})
    with pytest.raises(ConfigError, match="select needs a budget: --budget N, --budget-tokens N or select.budget"):
        run_select(spark, config)


def test_label_graph_mirrors_edges_and_refuses_bad_ones():
    from postmix.errors import InputError
    from postmix.select.label_space import graph_weights

    weights = graph_weights(3, [{"src": 0, "dst": 2, "weight": 0.7}]).toarray()
    assert np.array_equal(weights, [[1.0, 0.0, 0.7], [0.0, 1.0, 0.0], [0.7, 0.0, 1.0]])
    with pytest.raises(InputError, match="src < dst"):
        graph_weights(3, [{"src": 2, "dst": 1, "weight": 0.7}])


def test_select_flags_become_overrides_of_the_select_section():
    import argparse

    from postmix.subcommand import add_select_arguments, select_overrides

    parser = argparse.ArgumentParser()
    add_select_arguments(parser)
    args = parser.parse_args(["--budget-tokens", "900", "--quota", "source:a<=0.2", "--quota", "task:Math>=3",
                              "--min-quality", "0.3", "--exclude-near-duplicates", "--method", "deita"])
    assert select_overrides(args) == {"select": {
        "budget_tokens": 900, "budget": None, "quotas": ["source:a<=0.2", "task:Math>=3"], "min_quality": 0.3,
        "exclude_near_duplicates": True, "method": "deita"}}
    assert select_overrides(parser.parse_args([])) == {}
    with pytest.raises(ConfigError, match="not both"):
        select_overrides(parser.parse_args(["--budget", "5", "--budget-tokens", "9"]))
    config = load_config(None, {"select": {"budget": 100}, **select_overrides(parser.parse_args(["--budget-tokens",
                                                                                               "50"]))})
    assert (config.select.budget, config.select.budget_tokens) == (None, 50)
