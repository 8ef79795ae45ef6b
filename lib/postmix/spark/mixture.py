"""The mixture stage on Spark: the run's selection becomes its training rows (`mixtures`) and its metrics next to
a random selection of the same budget (`mixture_metrics`), both replaced as the run's slice.

The pool the metrics measure is rebuilt exactly as the select stage built it, from the same Delta versions (those
the select stage recorded in `runs`), with the configured embed model's vectors; the embeddings table is read at
its current version when the select stage did not read it. `input_versions` of every mixture row records what
was read, so the mixture can be rebuilt by time travel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from postmix.errors import InputError
from postmix.mixture import MetricsInputs, compare_with_random, metrics_frame, rows_of, verdict_of
from postmix.mixture.params import MixtureParams
from postmix.params import fingerprint
from postmix.select.params import SelectParams, require_select_params
from postmix.spark.pool import (check_single_fit, collect_pool, group_columns_for, pool_rows, pool_tables,
                                read_label_space)
from postmix.spark.snapshot import TableSnapshot, snapshot_for
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import replace_slice, run_slice

PROVENANCE_TABLES = ("samples", "annotations", "embeddings", "sample_labels", "label_graph", "selections")
MIXTURE_INPUTS = ("selections", "embeddings")  # the select stage's inputs are pinned by its own record


@dataclass(frozen=True)
class MixtureRun:
    """What the mixture body needs besides its tables."""

    params: MixtureParams
    select: SelectParams
    embed_model: str  # the metrics measure the pool with this model's vectors
    run_id: str
    config_fingerprint: str  # written on every mixture row


def run_mixture(spark, config, force: bool = False) -> StageOutcome:
    run = MixtureRun(config.mixture, require_select_params(config.select, "mixture"), config.embed.model,
                     config.effective_run_id, config.result_fingerprint)
    params_fp = fingerprint(run.params, run.select, run.embed_model)
    spec = StageSpec("mixture", run.params, params_fp, MIXTURE_INPUTS, run_scoped=True)
    return run_stage(spark, config.warehouse, run.run_id, spec,
                     lambda inputs: mixture_stage(mixture_snapshot(inputs, run), run), force)


def mixture_snapshot(inputs: TableSnapshot, run: MixtureRun) -> TableSnapshot:
    """The select stage's inputs at the versions it read, plus embeddings and selections as they are now
    (`inputs`: the mixture stage's own inputs at the versions it recorded)."""
    pooled = pool_tables(run.select)
    tables = pooled + tuple(t for t in MIXTURE_INPUTS if t not in pooled)
    pinned = snapshot_for(inputs.spark, inputs.warehouse, run.run_id, "select", tables)
    # the select stage wrote selections after its record: the version the mixture stage recorded is the one
    return pinned.merged({t: v for t, v in inputs.versions.items() if t == "selections"})


def mixture_stage(tables: TableSnapshot, run: MixtureRun) -> StageOutcome:
    spark, warehouse, run_id = tables.spark, tables.warehouse, run.run_id
    selected = read_selection(tables, run_id)
    rows = mixture_rows(tables, run_id, run.config_fingerprint)
    written = rows.count()
    if written != len(selected):
        raise InputError(f"mixture: {len(selected) - written} selected samples of run {run_id!r} are missing from "
                         "samples or annotations at the versions the select stage read")
    where = run_slice(run_id)
    replace_slice(spark, rows, warehouse, "mixtures", where)
    metrics = measure(tables, run, selected)
    metrics.insert(0, "run_id", run_id)
    replace_slice(spark, spark.createDataFrame(metrics), warehouse, "mixture_metrics", where)
    message = mixture_message(written, f"{warehouse.rstrip('/')}/mixtures", run_id, metrics)
    return StageOutcome(counts={"mixture_rows": written, "metrics": len(metrics)},
                        outputs=["mixtures", "mixture_metrics"], message=message)


def mixture_message(written: int, table: str, run_id: str, metrics) -> str:
    """The stage's summary: where the rows went, the objective against random, and the verdict naming every
    metric on which the selection is worse than random (`postmix mixture` and `postmix run` print it)."""
    by_metric = metrics.set_index("metric")
    return (f"mixture: {written:,} rows in {table} (run_id = '{run_id}'); objective "
            f"{by_metric.loc['objective', 'selection']:.6g} vs random {by_metric.loc['objective', 'random']:.6g}\n"
            f"vs random: {verdict_of(metrics).sentence()}")


def read_selection(tables: TableSnapshot, run_id: str) -> list[str]:
    """The run's selected sample ids in rank order (InputError when the run has no selection)."""
    rows = (tables.read("selections").where(run_slice(run_id))
            .select("sample_id", "rank").orderBy("rank").collect())
    if not rows:
        raise InputError(f"mixture: run {run_id!r} has no rows in selections: run `postmix select` first")
    return [r["sample_id"] for r in rows]


def mixture_rows(tables: TableSnapshot, run_id: str, config_fp: str):
    """selections (run) joined with samples and annotations, with the config fingerprint and input versions."""
    from pyspark.sql import functions as F

    versions = [item for table in PROVENANCE_TABLES if tables.has(table)
                for item in (F.lit(table), F.lit(tables.versions[table]).cast("bigint"))]
    selection = (tables.read("selections").where(run_slice(run_id))
                 .select("run_id", "sample_id", "rank", "gain", "top_labels"))
    samples = tables.read("samples").select("sample_id", "messages", "source", "source_id", "sources")
    annotations = tables.read("annotations").select("sample_id", "task", "quality", "language")
    return (selection.join(samples, "sample_id").join(annotations, "sample_id")
            .withColumn("config_fingerprint", F.lit(config_fp))
            .withColumn("input_versions", F.create_map(*versions)))


def measure(tables: TableSnapshot, run: MixtureRun, selected: list[str]):
    """compare_with_random on the select stage's pool (with embeddings) -> the metrics frame."""
    labels = read_label_space(tables)
    check_single_fit(tables, labels.fit_id)
    groups = group_columns_for(run.select, tables)
    pool = collect_pool(pool_rows(tables, run.select, labels, groups, run.embed_model), labels, groups)
    inputs = MetricsInputs(pool, labels.graph, run.select, pool.groups["task"])
    comparison = compare_with_random(inputs, rows_of(pool, np.asarray(selected)), run.params)
    return metrics_frame(comparison)
