"""The select stage on Spark: tables -> selection pool -> `postmix.select` -> the run's slice of `selections`.

Pool rows (one per sample that has an annotation), built with Spark joins:
- quality: the annotation's score clipped to [MIN_QUALITY_SCORE, 1], because the objective needs it in (0, 1]
  (a score of exactly 0 would make the row worthless rather than invalid; clipping keeps it selectable last);
- cost: 1 per sample, or tokens = max(1, ceil((n_chars_user + n_chars_assistant) / TOKEN_CHARS)) with
  `budget_tokens` (the selections table stores the cost in the budget's unit);
- labels: the sample's semantic labels from `sample_labels` with their weights, plus its task label (the
  `semantic_labels` row of kind 'task' named like the annotation's task) with weight `select.task_label_weight`;
- groups: "source", "task" and every quota column found in samples or annotations (values as text, null as
  "null"); a quota on any other column is refused by the core with a ConstraintError;
- near_duplicate: the sample is a non-kept member in `near_duplicates` (only when that table exists);
- response_chars: `n_chars_assistant` of the sample (the response length method `longest` ranks by);
- embeddings (`embeddings` of the configured embed model) only for methods that need them (deita, kcenter) and
  for the mixture metrics.
The label graph is `label_graph`'s undirected edges mirrored, diagonal 1, over the K labels of `semantic_labels`.
Every semantic table must come from one fit (same fit_id), else an InputError says which to rebuild.

Single node (default): the pool is collected on the driver and `postmix.select.select` runs. RandGreeDi (method
mig and `use_distributed`): the same pool rows stay a Spark DataFrame and `randgreedi_select` collects only the
partitions' picks. Tables are read at the Delta versions recorded for the stage in `runs`, so the selection, its
recorded inputs and the mixture metrics computed later from those versions agree exactly.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from postmix.errors import ConfigError, InputError
from postmix.params import fingerprint
from postmix.select import SelectionPool, SelectionResult, select
from postmix.select.constraints import candidate_mask, parse_quota
from postmix.select.distributed import use_distributed
from postmix.select.frames import FRAME_COLUMNS, pool_from_frame, save_pool_npz
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import read_table, replace_slice, table_versions
from postmix.storage.runs import previous_record

log = logging.getLogger("postmix.select")

BUDGET_MISSING = "select needs a budget: --budget N, --budget-tokens N or select.budget in the config"
TOKEN_CHARS = 4  # characters per token: the usual rule of thumb for English text with BPE tokenizers
MIN_QUALITY_SCORE = 1e-6  # quality floor of the objective, which needs quality in (0, 1]
EMBEDDING_METHODS = ("deita", "kcenter")
BASE_GROUPS = ("source", "task")
SEMANTIC_TABLES = ("semantic_labels", "label_graph", "sample_labels", "near_duplicates")
SELECT_INPUTS = ("samples", "annotations", "sample_labels", "semantic_labels", "label_graph", "near_duplicates")
SAVE_POOL_ENV = "POSTMIX_SAVE_POOL"
# the comparison with random needs the embeddings for two of its measures: the mixture stage makes it, once
AGAINST_RANDOM = "vs random: measured by the mixture stage (`postmix mixture`; `postmix run` prints it next)"
VECTOR = "_vector"


def require_select_params(config, stage: str = "select") -> SelectParams:
    if config.select is None:
        raise ConfigError(BUDGET_MISSING if stage == "select" else f"{stage}: {BUDGET_MISSING}")
    return config.select


def needs_embeddings(params: SelectParams) -> bool:
    return params.method in EMBEDDING_METHODS


def select_inputs(params: SelectParams) -> tuple[str, ...]:
    return SELECT_INPUTS + (("embeddings",) if needs_embeddings(params) else ())


def select_fingerprint(config) -> str:
    params = require_select_params(config)
    return fingerprint(params, config.embed.model if needs_embeddings(params) else None)


# --- tables at fixed versions -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableSnapshot:
    """Tables read at fixed Delta versions (a table absent from `versions` does not exist)."""

    spark: Any
    warehouse: str
    versions: dict[str, int]

    def has(self, table: str) -> bool:
        return table in self.versions

    def read(self, table: str):
        if table not in self.versions:
            raise InputError(f"table {table!r} does not exist under {self.warehouse}: run the stage that writes it "
                             "first")
        return read_table(self.spark, self.warehouse, table, self.versions[table])


def recorded_input_versions(spark, warehouse: str, run_id: str, stage: str) -> dict[str, int]:
    """The input versions `run_stage` recorded for (run_id, stage) in `runs` (the running record inside the stage)."""
    record = previous_record(spark, warehouse, run_id, stage)
    if record is None:
        raise InputError(f"run {run_id!r} has no {stage} record in the runs table: run `postmix {stage}` first")
    return {str(k): int(v) for k, v in (record.get("input_versions") or {}).items()}


def snapshot_for(spark, warehouse: str, run_id: str, stage: str, tables: tuple[str, ...]) -> TableSnapshot:
    """Tables at the versions recorded for the stage; tables it did not record are read at their current version."""
    versions = recorded_input_versions(spark, warehouse, run_id, stage)
    missing = [t for t in tables if t not in versions]
    versions.update(table_versions(spark, warehouse, missing))
    return TableSnapshot(spark, warehouse, {t: v for t, v in versions.items() if t in tables})


# --- label space --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelSpace:
    """The K labels of one semantic fit, their graph, and which label id each task name has."""

    graph: LabelGraph
    task_label_ids: dict[str, int]
    fit_id: str

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.graph.label_names


def read_label_space(tables: TableSnapshot) -> LabelSpace:
    rows = tables.read("semantic_labels").select("label_id", "kind", "name", "fit_id").orderBy("label_id").collect()
    if not rows:
        raise InputError("semantic_labels is empty: run `postmix semantic` first")
    ids = [int(r["label_id"]) for r in rows]
    if ids != list(range(len(ids))):
        raise InputError(f"semantic_labels: label ids must be 0..{len(ids) - 1} without gaps, got {ids[:10]}...")
    fits = sorted({r["fit_id"] for r in rows})
    if len(fits) != 1:
        raise InputError(f"semantic_labels holds several fits ({', '.join(fits)}): rerun `postmix semantic`")
    names = tuple(str(r["name"]) for r in rows)
    tasks = {str(r["name"]): int(r["label_id"]) for r in rows if r["kind"] == "task"}
    edges = tables.read("label_graph").select("src", "dst", "weight", "fit_id").collect()
    graph = LabelGraph(graph_weights(len(names), edges), names)
    return LabelSpace(graph, tasks, fits[0])


def graph_weights(n_labels: int, edges) -> sp.csr_matrix:
    """Identity plus each undirected edge (src < dst) in both directions."""
    src = np.array([int(e["src"]) for e in edges], dtype=np.int64)
    dst = np.array([int(e["dst"]) for e in edges], dtype=np.int64)
    weight = np.array([float(e["weight"]) for e in edges], dtype=np.float64)
    if len(src) and (np.any(src >= dst) or src.min() < 0 or dst.max() >= n_labels):
        raise InputError(f"label_graph: edges must have 0 <= src < dst < {n_labels}")
    rows = np.concatenate([np.arange(n_labels), src, dst])
    cols = np.concatenate([np.arange(n_labels), dst, src])
    data = np.concatenate([np.ones(n_labels), weight, weight])
    return sp.csr_matrix((data, (rows, cols)), shape=(n_labels, n_labels))


def check_single_fit(tables: TableSnapshot, fit_id: str) -> None:
    """Labels, graph, sample labels and near-duplicates of different fits do not describe one label space."""
    for table in SEMANTIC_TABLES:
        if not tables.has(table):
            continue
        fits = sorted(r["fit_id"] for r in tables.read(table).select("fit_id").distinct().collect())
        other = [f for f in fits if f != fit_id]
        if other:
            raise InputError(f"{table} holds rows of fit(s) {', '.join(other)} but semantic_labels is fit {fit_id}: "
                             "rerun `postmix semantic` so every semantic table comes from one fit")


# --- pool rows ----------------------------------------------------------------------------------------------------

def group_columns_for(params: SelectParams, tables: TableSnapshot) -> tuple[str, ...]:
    """source, task, and every quota column that samples or annotations hold (others are left to the core, which
    refuses them naming the columns it has)."""
    known = set(tables.read("samples").columns) | set(tables.read("annotations").columns)
    quota_columns = [parse_quota(text).column for text in params.quotas]
    extra = [c for c in quota_columns if c in known and c not in BASE_GROUPS and c not in FRAME_COLUMNS]
    return BASE_GROUPS + tuple(dict.fromkeys(extra))


def pool_rows(tables: TableSnapshot, params: SelectParams, labels: LabelSpace, group_columns: tuple[str, ...],
              embed_model: str | None = None):
    """Pool rows as a Spark DataFrame: FRAME_COLUMNS, response_chars, the group columns, near_duplicate (when
    known) and, with `embed_model`, the sample's vector of that model (column VECTOR)."""
    from pyspark.sql import functions as F

    spark = tables.spark
    samples = tables.read("samples")
    annotations = tables.read("annotations")
    sample_groups = [c for c in group_columns if c in samples.columns and c != "source"]
    annotation_groups = [c for c in group_columns if c in annotations.columns and c not in samples.columns
                         and c != "task"]
    sample_columns = dict.fromkeys(("sample_id", "source", "n_chars_user", "n_chars_assistant", *sample_groups))
    rows = (samples.select(*sample_columns)
            .join(annotations.select("sample_id", "quality", "task", *annotation_groups), "sample_id"))
    rows = rows.join(_semantic_labels(tables), "sample_id", "left")
    rows = rows.join(F.broadcast(_task_labels(spark, labels)), "task", "left")
    empty_ids, empty_weights = F.array().cast("array<int>"), F.array().cast("array<float>")
    has_task_label = F.col("_task_label").isNotNull()
    columns = [
        F.col("sample_id"),
        F.least(F.greatest(F.col("quality").cast("double"), F.lit(MIN_QUALITY_SCORE)), F.lit(1.0)).alias("quality"),
        F.concat(F.coalesce("_ids", empty_ids),
                 F.when(has_task_label, F.array(F.col("_task_label"))).otherwise(empty_ids)).alias("label_ids"),
        F.concat(F.coalesce("_weights", empty_weights),
                 F.when(has_task_label, F.array(F.lit(float(params.task_label_weight)).cast("float")))
                 .otherwise(empty_weights))
        .alias("label_weights"),
        _cost(params).alias("cost"),
        F.col("n_chars_assistant").cast("double").alias("response_chars"),
    ]
    columns += [F.coalesce(F.col(c).cast("string"), F.lit("null")).alias(c) for c in group_columns]
    if tables.has("near_duplicates"):
        duplicates = tables.read("near_duplicates").select("sample_id", F.lit(True).alias("_duplicate"))
        rows = rows.join(duplicates, "sample_id", "left")
        columns.append(F.coalesce(F.col("_duplicate"), F.lit(False)).alias("near_duplicate"))
    if embed_model is not None:
        vectors = (tables.read("embeddings").where(F.col("model") == F.lit(embed_model))
                   .select("sample_id", F.col("vector").alias(VECTOR)))
        rows = rows.join(vectors, "sample_id", "left")
        columns.append(F.col(VECTOR))
    return rows.select(*columns)


def _semantic_labels(tables: TableSnapshot):
    from pyspark.sql import functions as F

    return tables.read("sample_labels").select("sample_id", F.col("label_ids").alias("_ids"),
                                               F.col("label_weights").alias("_weights"))


def _task_labels(spark, labels: LabelSpace):
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("task", T.StringType(), False),
                           T.StructField("_task_label", T.IntegerType(), False)])
    return spark.createDataFrame(sorted(labels.task_label_ids.items()), schema)


def _cost(params: SelectParams):
    from pyspark.sql import functions as F

    if not params.budget_in_tokens:
        return F.lit(1.0)
    chars = F.col("n_chars_user") + F.col("n_chars_assistant")
    return F.greatest(F.ceil(chars / F.lit(TOKEN_CHARS)), F.lit(1)).cast("double")


def collect_pool(rows, labels: LabelSpace, group_columns: tuple[str, ...]) -> SelectionPool:
    """The pool rows on the driver, in sample_id order (the pool does not depend on row order; files do)."""
    frame = rows.orderBy("sample_id").toPandas()
    if frame.empty:
        raise InputError("the selection pool is empty: no sample has an annotation (run `postmix annotate`)")
    pool = pool_from_frame(frame, labels.label_names, group_columns)
    if VECTOR in frame.columns:
        pool = replace(pool, embeddings=pool_vectors(frame))
    return pool


def pool_vectors(frame: pd.DataFrame) -> np.ndarray:
    missing = frame[VECTOR].isna().to_numpy()
    if missing.any():
        example = frame["sample_id"][missing].iloc[0]
        raise InputError(f"{int(missing.sum())} pool samples have no embedding vector of the configured model "
                         f"(e.g. {example}): run `postmix embed` (or check its empty_text flags)")
    return np.stack([np.asarray(v, dtype=np.float32) for v in frame[VECTOR]])


# --- the stage ----------------------------------------------------------------------------------------------------

def run_select(spark, config, force: bool = False) -> StageOutcome:
    params = require_select_params(config)
    spec = StageSpec("select", params, select_fingerprint(config), select_inputs(params), run_scoped=True)
    run_id = config.effective_run_id
    return run_stage(spark, config.warehouse, run_id, spec, lambda: select_stage(spark, config, run_id), force)


def select_stage(spark, config, run_id: str) -> StageOutcome:
    params = require_select_params(config)
    tables = snapshot_for(spark, config.warehouse, run_id, "select", select_inputs(params))
    labels = read_label_space(tables)
    check_single_fit(tables, labels.fit_id)
    groups = group_columns_for(params, tables)
    rows = pool_rows(tables, params, labels, groups, config.embed.model if needs_embeddings(params) else None)
    check_constraints_on_spark(rows, params, groups)
    if _distributed(rows, params):
        result, quality, counts = select_distributed(rows, labels, params, groups)
    else:
        result, quality, counts = select_single(rows, labels, params, groups, config.warehouse, run_id)
    frame = selection_frame(result, quality, run_id, select_fingerprint(config))
    write_selections(spark, config.warehouse, run_id, frame)
    counts.update({"selected": len(result), "budget_used": int(round(float(result.cost.sum()))),
                   "objective_x1e6": int(round(result.objective * 1e6)),
                   "select_wall_ms": int(round(result.wall_time_s * 1000)),
                   "select_peak_rss_mb": int(round(result.peak_memory_bytes / 2 ** 20))})
    message = (f"selected {len(result):,} of {counts['pool_rows']:,} pool rows ({counts['eligible_rows']:,} "
               f"eligible) with {result.method}: objective {result.objective:.6g}, {result.wall_time_s:.1f} s, "
               f"peak {counts['select_peak_rss_mb']:,} MiB; table {config.warehouse.rstrip('/')}/selections "
               f"(run_id = '{run_id}')\n{AGAINST_RANDOM}")
    return StageOutcome(counts=counts, outputs=["selections"], message=message)


def check_constraints_on_spark(rows, params: SelectParams, groups: tuple[str, ...]) -> None:
    """What only the data can refuse (a floor larger than its group, filters that leave nothing), checked with
    aggregations before the pool is collected or any selection work starts."""
    from pyspark.sql import functions as F

    from postmix.select.constraints import Eligibility, check_eligible, check_supply, resolve_quotas
    from postmix.select.quota import parse_quotas
    from postmix.spark.randgreedi import eligible_rows, spark_supply

    eligible = eligible_rows(rows, params)
    quality = F.col("quality") >= F.lit(params.min_quality)
    row = rows.agg(F.count(F.lit(1)).alias("n"), F.sum(quality.cast("int")).alias("q"),
                   F.sum(eligible.cast("int")).alias("e"), F.max("quality").alias("best")).first()
    if not row["n"]:
        raise InputError("the selection pool is empty: no sample has an annotation (run `postmix annotate`)")
    check_eligible(Eligibility(int(row["n"]), int(row["q"] or 0), int(row["e"] or 0), float(row["best"] or 0.0)),
                   params)
    quotas = parse_quotas(params.quotas)
    if quotas:
        check_supply(quotas, resolve_quotas(quotas, params), spark_supply(rows, eligible, quotas, params),
                     set(groups))


def _distributed(rows, params: SelectParams) -> bool:
    """RandGreeDi only for mig (the baselines are single node); 'auto' counts the pool rows to decide."""
    if params.method != "mig" or params.distributed == "off":
        return False
    return params.distributed == "on" or use_distributed(rows.count(), params)


def select_single(rows, labels: LabelSpace, params: SelectParams, groups: tuple[str, ...], warehouse: str,
                  run_id: str) -> tuple[SelectionResult, np.ndarray, dict[str, int]]:
    pool = collect_pool(rows, labels, groups)
    if os.environ.get(SAVE_POOL_ENV) == "1":
        path = save_pool(pool, labels.graph, warehouse, run_id)
        log.info("select: pool saved to %s", path)
    result = select(pool, labels.graph, params)
    counts = {"pool_rows": len(pool), "eligible_rows": int(candidate_mask(pool, params).sum()), "distributed": 0}
    return result, pool.quality[result.index], counts


def select_distributed(rows, labels: LabelSpace, params: SelectParams,
                       groups: tuple[str, ...]) -> tuple[SelectionResult, np.ndarray, dict[str, int]]:
    from pyspark.sql import functions as F

    from postmix.spark.randgreedi import eligible_rows, randgreedi_select

    if os.environ.get(SAVE_POOL_ENV) == "1":
        raise ConfigError(f"{SAVE_POOL_ENV}=1 needs the single-node path (the distributed path never collects the "
                          "pool): set select.distributed to off")
    rows = rows.persist()
    try:
        counts = {"pool_rows": rows.count(), "eligible_rows": rows.where(eligible_rows(rows, params)).count(),
                  "distributed": 1}
        result = randgreedi_select(rows, labels.graph, params, groups)
        picked = pd.DataFrame({"sample_id": result.sample_id.astype(str)})
        scores = (rows.join(F.broadcast(rows.sparkSession.createDataFrame(picked)), "sample_id")
                  .select("sample_id", "quality").toPandas().set_index("sample_id")["quality"])
    finally:
        rows.unpersist()
    return result, scores.loc[result.sample_id.astype(str)].to_numpy(dtype=np.float64), counts


def save_pool(pool: SelectionPool, graph: LabelGraph, warehouse: str, run_id: str) -> Path:
    """<warehouse>/_artifacts/<run_id>/pool.npz, for the selection benchmark (local warehouses only)."""
    if "://" in warehouse and not warehouse.startswith("file://"):
        raise ConfigError(f"{SAVE_POOL_ENV}=1 writes the pool next to the tables, which needs a local warehouse, "
                          f"not {warehouse}")
    folder = Path(warehouse.removeprefix("file://")) / "_artifacts" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pool.npz"
    save_pool_npz(path, pool, graph)
    return path


def selection_frame(result: SelectionResult, quality: np.ndarray, run_id: str, select_fp: str) -> pd.DataFrame:
    """The selections rows, in rank order."""
    records = result.to_records()
    group_names = tuple(result.groups)
    return pd.DataFrame({
        "run_id": run_id,
        "sample_id": [r["sample_id"] for r in records],
        "rank": [r["rank"] for r in records],
        "gain": [r["gain"] for r in records],
        "objective_after": [r["objective_after"] for r in records],
        "cost": [r["cost"] for r in records],
        "method": result.method,
        "groups": [{g: r[g] for g in group_names} for r in records],
        "top_labels": [r["top_labels"] for r in records],
        "quality": np.asarray(quality, dtype=np.float64),
        "select_fingerprint": select_fp,
    }, columns=["run_id", "sample_id", "rank", "gain", "objective_after", "cost", "method", "groups", "top_labels",
                "quality", "select_fingerprint"])


def write_selections(spark, warehouse: str, run_id: str, frame: pd.DataFrame) -> int:
    from postmix.storage.spark_schema import spark_schema

    rows = [tuple(record) for record in frame.itertuples(index=False, name=None)]
    df = spark.createDataFrame(rows, spark_schema("selections"))
    return replace_slice(spark, df, warehouse, "selections", f"run_id = '{sql_text(run_id)}'")


def sql_text(value: str) -> str:
    """A value safe inside a single-quoted SQL literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
