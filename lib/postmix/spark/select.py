"""The select stage on Spark: the pool rows (postmix.spark.pool) -> `postmix.select` -> the run's slice of
`selections`.

Single node (default): the pool is collected on the driver and `postmix.select.select` runs. RandGreeDi (method
mig and `use_distributed`): the same pool rows stay a Spark DataFrame and `randgreedi_select` collects only the
partitions' picks. The body reads the tables at the versions `run_stage` recorded for the stage in `runs`, so the
selection, its recorded inputs and the mixture metrics computed later from those versions agree exactly.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from postmix.errors import ConfigError, InputError
from postmix.params import fingerprint
from postmix.select import SelectionPool, SelectionResult, select
from postmix.select.constraints import candidate_mask
from postmix.select.distributed import use_distributed
from postmix.select.frames import save_pool_npz
from postmix.select.label_space import LabelSpace
from postmix.select.params import SelectParams, require_select_params
from postmix.select.pool import LabelGraph
from postmix.select.pool_rules import needs_embeddings
from postmix.spark.pool import (EMPTY_POOL, check_single_fit, collect_pool, group_columns_for, pool_rows, pool_tables,
                                read_label_space)
from postmix.spark.snapshot import TableSnapshot
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import replace_slice, run_slice

log = logging.getLogger("postmix.select")

SAVE_POOL_ENV = "POSTMIX_SAVE_POOL"
# the comparison with random needs the embeddings for two of its measures: the mixture stage makes it, once
AGAINST_RANDOM = "vs random: measured by the mixture stage (`postmix mixture`; `postmix run` prints it next)"


@dataclass(frozen=True)
class SelectRun:
    """What the select body needs besides its tables: the params, the run, and the embed model (only read for
    the methods that need vectors)."""

    params: SelectParams
    run_id: str
    embed_model: str

    @property
    def vectors_of(self) -> str | None:
        return self.embed_model if needs_embeddings(self.params) else None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.params, self.vectors_of)


def run_select(spark, config, force: bool = False) -> StageOutcome:
    run = SelectRun(require_select_params(config.select), config.effective_run_id, config.embed.model)
    spec = StageSpec("select", run.params, run.fingerprint, pool_tables(run.params), run_scoped=True)
    return run_stage(spark, config.warehouse, run.run_id, spec, lambda inputs: select_stage(inputs, run), force)


def select_stage(tables: TableSnapshot, run: SelectRun) -> StageOutcome:
    """Select from the pool of `tables` (the inputs at their recorded versions) and write the run's slice."""
    params, run_id, warehouse = run.params, run.run_id, tables.warehouse
    labels = read_label_space(tables)
    check_single_fit(tables, labels.fit_id)
    groups = group_columns_for(params, tables)
    rows = pool_rows(tables, params, labels, groups, run.vectors_of)
    check_constraints_on_spark(rows, params, groups)
    if _distributed(rows, params):
        result, quality, counts = select_distributed(rows, labels, params, groups)
    else:
        result, quality, counts = select_single(rows, labels, params, groups, warehouse, run_id)
    frame = selection_frame(result, quality, run_id, run.fingerprint)
    write_selections(tables.spark, warehouse, run_id, frame)
    counts.update({"selected": len(result), "budget_used": int(round(float(result.cost.sum()))),
                   "objective_x1e6": int(round(result.objective * 1e6)),
                   "select_wall_ms": int(round(result.wall_time_s * 1000)),
                   "select_peak_rss_mb": int(round(result.peak_memory_bytes / 2 ** 20))})
    message = (f"selected {len(result):,} of {counts['pool_rows']:,} pool rows ({counts['eligible_rows']:,} "
               f"eligible) with {result.method}: objective {result.objective:.6g}, {result.wall_time_s:.1f} s, "
               f"peak {counts['select_peak_rss_mb']:,} MiB; table {warehouse.rstrip('/')}/selections "
               f"(run_id = '{run_id}')\n{AGAINST_RANDOM}")
    return StageOutcome(counts=counts, outputs=["selections"], message=message)


def check_constraints_on_spark(rows, params: SelectParams, groups: tuple[str, ...]) -> None:
    """What only the data can refuse (a floor larger than its group, filters that leave nothing), checked with
    aggregations before the pool is collected or any selection work starts."""
    from pyspark.sql import functions as F

    from postmix.select.constraints import Eligibility, check_eligible, check_supply, resolve_quotas
    from postmix.spark.randgreedi import eligible_rows, spark_supply

    eligible = eligible_rows(rows, params)
    quality = F.col("quality") >= F.lit(params.min_quality)
    row = rows.agg(F.count(F.lit(1)).alias("n"), F.sum(quality.cast("int")).alias("q"),
                   F.sum(eligible.cast("int")).alias("e"), F.max("quality").alias("best")).first()
    if not row["n"]:
        raise InputError(EMPTY_POOL)
    check_eligible(Eligibility(int(row["n"]), int(row["q"] or 0), int(row["e"] or 0), float(row["best"] or 0.0)),
                   params)
    quotas = params.parsed_quotas
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
    return replace_slice(spark, df, warehouse, "selections", run_slice(run_id))
