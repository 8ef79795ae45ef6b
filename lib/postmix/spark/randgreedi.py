"""RandGreeDi over Spark partitions: the thin adapter around postmix.select.distributed.

Input: a DataFrame of pool rows (sample_id, quality, label_ids array<int>, label_weights array<float>, cost, the
group columns, optionally near_duplicate) and the label graph (K x K sparse, small: broadcast).
1. feasibility of the quotas is checked with one aggregation per quota column, before any selection work;
2. each row gets its partition from the stable hash of (seed, sample_id) and the frame is repartitioned by it;
3. mapInPandas runs `local_greedy` per partition (a Spark task may hold several hash partitions: they are solved
   separately, so the result does not depend on how Spark places them) and returns only the picks;
4. the driver collects the union of picks (<= budget x partitions rows) and hands them to the engine-free
   `finish_randgreedi`, the same function the in-process path ends with (same summary, same ConstraintError).
The result's `index` is the row in the collected union (sample_id is the key to use).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from postmix.errors import ConstraintError, SchemaError
from postmix.select import SelectionResult
from postmix.select.constraints import NO_NEAR_DUPLICATE_COLUMN, GroupSupply, check_supply, resolve_quotas
from postmix.select.distributed import finish_randgreedi, local_greedy, partition_count, partition_ids
from postmix.select.frames import FRAME_COLUMNS, pool_from_frame
from postmix.select.measure import measured
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph
from postmix.select.result import explain_picks, with_measurement

PART, LOCAL_RANK = "_part", "_local_rank"


def randgreedi_select(df, graph: LabelGraph, params: SelectParams, group_columns: tuple[str, ...] = ()) -> SelectionResult:
    """Select from a Spark DataFrame of pool rows with RandGreeDi; only partition picks reach the driver."""
    _check_columns(df, group_columns)
    quotas = params.parsed_quotas
    resolved = resolve_quotas(quotas, params)
    eligible = eligible_rows(df, params)
    check_supply(quotas, resolved, spark_supply(df, eligible, quotas, params), set(group_columns))
    n_rows = df.count()
    n_partitions = partition_count(n_rows, params)
    with measured("select", method="mig", rows=n_rows, labels=graph.n_labels, partitions=n_partitions) as measurement:
        picks = _local_picks(df, graph, params, resolved, group_columns, n_partitions).toPandas()
        picks = picks.sort_values("sample_id", kind="stable").reset_index(drop=True)
        union = pool_from_frame(picks, graph.label_names, group_columns)
        local = {int(part): rows.sort_values(LOCAL_RANK).index.to_numpy(dtype=np.int64)
                 for part, rows in picks.groupby(PART, sort=True)}
        done = finish_randgreedi(union, graph, params, resolved, local, n_partitions, engine="spark")
        result = explain_picks(union, done.objective, done.rows, "mig", done.summary, params.top_labels)
    return with_measurement(result, measurement)


def _check_columns(df, group_columns: tuple[str, ...]) -> None:
    missing = [c for c in FRAME_COLUMNS + tuple(group_columns) if c not in df.columns]
    if missing:
        raise SchemaError(f"randgreedi: pool rows lack columns {', '.join(missing)} (have {', '.join(df.columns)})")


def eligible_rows(df, params: SelectParams):
    """candidate_mask as a Spark column expression (quality floor, near-duplicate exclusion), the one the select
    stage counts and checks with: a missing near_duplicate column is refused the same way."""
    from pyspark.sql import functions as F

    condition = F.col("quality") >= F.lit(params.min_quality)
    if params.exclude_near_duplicates:
        if "near_duplicate" not in df.columns:
            raise ConstraintError(NO_NEAR_DUPLICATE_COLUMN)
        condition = condition & ~F.col("near_duplicate")
    return condition


def spark_supply(df, eligible, quotas, params: SelectParams) -> GroupSupply:
    """Per quota column, one groupBy: values present, eligible units and largest eligible cost per value."""
    from pyspark.sql import functions as F

    unit = F.col("cost") if params.budget_in_tokens else F.lit(1.0)
    known, units, largest = {}, {}, {}
    for column in sorted({q.column for q in quotas if q.column in df.columns}):
        rows = (df.groupBy(column)
                .agg(F.sum(F.when(eligible, unit).otherwise(0.0)).alias("units"),
                     F.max(F.when(eligible, F.col("cost"))).alias("largest"))
                .collect())
        known[column] = {str(row[column]) for row in rows}
        for row in rows:
            units[(column, str(row[column]))] = float(row["units"] or 0.0)
            largest[(column, str(row[column]))] = float(row["largest"] or 0.0)
    return GroupSupply(known, units, largest)


def _local_picks(df, graph: LabelGraph, params: SelectParams, resolved, group_columns, n_partitions: int):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    keep = list(FRAME_COLUMNS) + list(group_columns) + (["near_duplicate"] if "near_duplicate" in df.columns else [])
    seed = params.seed

    @F.pandas_udf(T.IntegerType())
    def partition_of(sample_ids: pd.Series) -> pd.Series:
        return pd.Series(partition_ids(sample_ids.to_numpy(dtype=str), n_partitions, seed).astype(np.int32))

    rows = df.select(*keep).withColumn(PART, partition_of(F.col("sample_id"))).repartition(n_partitions, PART)
    weights = graph.weights
    shared = df.sparkSession.sparkContext.broadcast(
        (weights.indptr, weights.indices, weights.data, graph.label_names))
    schema = T.StructType([rows.schema[c] for c in keep + [PART]] +
                          [T.StructField(LOCAL_RANK, T.IntegerType(), False)])
    solve = _partition_solver(shared, params, resolved, tuple(group_columns))
    return rows.mapInPandas(solve, schema=schema)


def _partition_solver(shared, params: SelectParams, resolved, group_columns: tuple[str, ...]):
    """The function each Spark task runs: all its rows, solved hash partition by hash partition."""

    def solve(batches):
        from postmix.model_cache import stage_batches

        return stage_batches("select", solved(batches))

    def solved(batches):
        import scipy.sparse as sp

        frames = [batch for batch in batches if len(batch)]
        if not frames:
            return
        indptr, indices, data, names = shared.value
        graph = LabelGraph(sp.csr_matrix((data, indices, indptr), shape=(len(names), len(names))), tuple(names))
        frame = pd.concat(frames, ignore_index=True)
        for part, rows in frame.groupby(PART, sort=True):
            rows = rows.reset_index(drop=True)
            pool = pool_from_frame(rows, graph.label_names, group_columns)
            picks = local_greedy(pool, graph, params, resolved)
            out = rows.iloc[picks].copy()
            out[LOCAL_RANK] = np.arange(1, len(picks) + 1, dtype=np.int32)
            yield out

    return solve
