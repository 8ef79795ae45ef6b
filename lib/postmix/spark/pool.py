"""Selection pool rows built from the tables with Spark joins (the rules of a row: postmix.select.pool_rules).

Pool rows: one per sample that has an annotation, with
- quality clipped and cost in the budget's unit (pool_rules);
- labels: the sample's semantic labels from `sample_labels` with their weights, plus its task label (the
  `semantic_labels` row of kind 'task' named like the annotation's task) with weight `select.task_label_weight`;
- groups: "source", "task" and every quota column found in samples or annotations (pool_rules.group_columns);
- near_duplicate: the sample is a non-kept member in `near_duplicates` (only when that table exists);
- response_chars: `n_chars_assistant` of the sample (the response length method `longest` ranks by);
- embeddings (`embeddings` of the configured embed model) only for methods that need them (deita, kcenter) and
  for the mixture metrics.
The label graph is `label_graph`'s undirected edges mirrored, diagonal 1, over the K labels of `semantic_labels`
(postmix.select.label_space). Every semantic table must come from one fit (same fit_id), else an InputError says
which to rebuild. The select, mixture and report stages all build the pool here, from one TableSnapshot.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from postmix.errors import InputError
from postmix.select import SelectionPool
from postmix.select.frames import pool_from_frame
from postmix.select.label_space import LabelSpace, check_label_rows, check_same_fit, label_space
from postmix.select.params import SelectParams
from postmix.select.pool_rules import MIN_QUALITY_SCORE, NULL_GROUP, TOKEN_CHARS, group_columns, needs_embeddings
from postmix.spark.snapshot import TableSnapshot

SEMANTIC_TABLES = ("semantic_labels", "label_graph", "sample_labels", "near_duplicates")
POOL_TABLES = ("samples", "annotations", "sample_labels", "semantic_labels", "label_graph", "near_duplicates")
VECTOR = "_vector"
EMPTY_POOL = "the selection pool is empty: no sample has an annotation (run `postmix annotate`)"


def pool_tables(params: SelectParams) -> tuple[str, ...]:
    """The tables a pool is built from (the select stage's inputs)."""
    return POOL_TABLES + (("embeddings",) if needs_embeddings(params) else ())


# --- label space --------------------------------------------------------------------------------------------------

def read_label_space(tables: TableSnapshot) -> LabelSpace:
    labels = tables.read("semantic_labels").select("label_id", "kind", "name", "fit_id").orderBy("label_id").collect()
    check_label_rows(labels)  # before the graph is read: a broken label table is the error to report
    edges = tables.read("label_graph").select("src", "dst", "weight", "fit_id").collect()
    return label_space(labels, edges)


def check_single_fit(tables: TableSnapshot, fit_id: str) -> None:
    for table in SEMANTIC_TABLES:
        if tables.has(table):
            fits = [r["fit_id"] for r in tables.read(table).select("fit_id").distinct().collect()]
            check_same_fit(table, fits, fit_id)


def group_columns_for(params: SelectParams, tables: TableSnapshot) -> tuple[str, ...]:
    known = set(tables.read("samples").columns) | set(tables.read("annotations").columns)
    return group_columns(params, known)


# --- pool rows ----------------------------------------------------------------------------------------------------

def pool_rows(tables: TableSnapshot, params: SelectParams, labels: LabelSpace, group_columns: tuple[str, ...],
              embed_model: str | None = None):
    """Pool rows as a Spark DataFrame: FRAME_COLUMNS, response_chars, the group columns, near_duplicate (when
    known) and, with `embed_model`, the sample's vector of that model (column VECTOR)."""
    from pyspark.sql import functions as F

    samples = tables.read("samples")
    annotations = tables.read("annotations")
    sample_groups = [c for c in group_columns if c in samples.columns and c != "source"]
    annotation_groups = [c for c in group_columns if c in annotations.columns and c not in samples.columns
                         and c != "task"]
    sample_columns = dict.fromkeys(("sample_id", "source", "n_chars_user", "n_chars_assistant", *sample_groups))
    rows = (samples.select(*sample_columns)
            .join(annotations.select("sample_id", "quality", "task", *annotation_groups), "sample_id"))
    rows = rows.join(_semantic_labels(tables), "sample_id", "left")
    rows = rows.join(F.broadcast(_task_labels(tables.spark, labels)), "task", "left")
    columns = [F.col("sample_id"), _clipped_quality().alias("quality"), *_label_columns(params),
               _cost(params).alias("cost"), F.col("n_chars_assistant").cast("double").alias("response_chars")]
    columns += [F.coalesce(F.col(c).cast("string"), F.lit(NULL_GROUP)).alias(c) for c in group_columns]
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


def _clipped_quality():
    """pool_rules.clipped_quality as a column."""
    from pyspark.sql import functions as F

    return F.least(F.greatest(F.col("quality").cast("double"), F.lit(MIN_QUALITY_SCORE)), F.lit(1.0))


def _label_columns(params: SelectParams):
    """label_ids and label_weights: the semantic labels, then the task label (when the task has one)."""
    from pyspark.sql import functions as F

    empty_ids, empty_weights = F.array().cast("array<int>"), F.array().cast("array<float>")
    has_task_label = F.col("_task_label").isNotNull()
    task_weight = F.lit(float(params.task_label_weight)).cast("float")
    ids = F.concat(F.coalesce("_ids", empty_ids),
                   F.when(has_task_label, F.array(F.col("_task_label"))).otherwise(empty_ids))
    weights = F.concat(F.coalesce("_weights", empty_weights),
                       F.when(has_task_label, F.array(task_weight)).otherwise(empty_weights))
    return [ids.alias("label_ids"), weights.alias("label_weights")]


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
    """pool_rules.sample_cost as a column."""
    from pyspark.sql import functions as F

    if not params.budget_in_tokens:
        return F.lit(1.0)
    chars = F.col("n_chars_user") + F.col("n_chars_assistant")
    return F.greatest(F.ceil(chars / F.lit(TOKEN_CHARS)), F.lit(1)).cast("double")


# --- the pool on the driver ---------------------------------------------------------------------------------------

def collect_pool(rows, labels: LabelSpace, group_columns: tuple[str, ...]) -> SelectionPool:
    """The pool rows on the driver, in sample_id order (the pool does not depend on row order; files do)."""
    frame = rows.orderBy("sample_id").toPandas()
    if frame.empty:
        raise InputError(EMPTY_POOL)
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
