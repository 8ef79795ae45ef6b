"""The report stage: one run's tables -> ReportData -> `<warehouse>/reports/<run_id>.html` (a file, not a table).

What each ReportData frame is read from (docs/REPORT.md):
- pool: samples + annotations (sample_id, task, source, quality) at the versions the select stage read;
- selection: the run's selections rows; metrics: the run's mixture_metrics rows;
- rejects: all rejects counted by reason (the pool comes from every ingested row);
- near_duplicates: the near_duplicates table at the select stage's version;
- runs: the run's rows of `runs` by started_at (the report's own running row left out);
- embedding_map: at most `report.map_points_per_group` selected and as many unselected pool rows, chosen on the
  driver with a generator seeded by `report.seed`; only those rows' vectors are read.
Only selection-sized data and the pool's four scalar columns reach the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from postmix.errors import ConfigError, InputError
from postmix.mixture import in_metric_order
from postmix.params import fingerprint
from postmix.report import ReportData, embedding_map, write_report
from postmix.report.params import ReportParams
from postmix.report.projection import map_sample
from postmix.select.params import SelectParams, require_select_params
from postmix.spark.pool import pool_tables
from postmix.spark.snapshot import TableSnapshot, snapshot_for
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import run_slice
from postmix.storage.tables import table_path

REPORT_INPUTS = ("selections", "mixture_metrics", "rejects", "embeddings")


@dataclass(frozen=True)
class ReportRun:
    """What the report body needs besides its tables."""

    params: ReportParams
    select: SelectParams
    embed_model: str  # the map reads this model's vectors
    run_id: str
    config_fingerprint: str  # shown in the summary


def report_path(warehouse: str, run_id: str) -> Path:
    if "://" in warehouse and not warehouse.startswith("file://"):
        raise ConfigError(f"the report is written under the warehouse folder, which must be local, not {warehouse}")
    folder = Path(warehouse.removeprefix("file://")) / "reports"
    path = folder / f"{run_id}.html"
    # the run id is checked at config load; this guards any other caller against a path outside the folder
    if path.resolve().parent != folder.resolve():
        raise ConfigError(f"run id {run_id!r} would put the report outside {folder}")
    return path


def run_report(spark, config, force: bool = False) -> StageOutcome:
    run = ReportRun(config.report, require_select_params(config.select, "report"), config.embed.model,
                    config.effective_run_id, config.result_fingerprint)
    params_fp = fingerprint(run.params, run.select, run.embed_model)
    spec = StageSpec("report", run.params, params_fp, REPORT_INPUTS, run_scoped=True)
    # the report is a file, not a table run_stage can check: a deleted report is written again, never "skipped"
    force = force or not report_path(config.warehouse, run.run_id).exists()
    return run_stage(spark, config.warehouse, run.run_id, spec,
                     lambda inputs: report_stage(report_snapshot(inputs, run), run), force)


def report_snapshot(inputs: TableSnapshot, run: ReportRun) -> TableSnapshot:
    """The report's own inputs as they are now, with the select stage's inputs at the versions it read."""
    pinned = snapshot_for(inputs.spark, inputs.warehouse, run.run_id, "select", pool_tables(run.select))
    return inputs.merged(pinned.versions)


def report_stage(tables: TableSnapshot, run: ReportRun) -> StageOutcome:
    data = report_data(tables, run)
    path = write_report(data, report_path(tables.warehouse, run.run_id), run.params)
    counts = {"pool_rows": len(data.pool), "selected": len(data.selection), "report_bytes": path.stat().st_size}
    return StageOutcome(counts=counts, outputs=[], message=f"report: {path}")


def report_data(tables: TableSnapshot, run: ReportRun) -> ReportData:
    run_id = run.run_id
    pool = read_pool(tables)
    selection = read_run_rows(tables, "selections", run_id, ("sample_id", "rank", "gain", "objective_after"))
    metrics = in_metric_order(read_run_rows(tables, "mixture_metrics", run_id, ("metric", "selection", "random",
                                                                                "unit", "description")))
    if selection.empty or metrics.empty:
        raise InputError(f"report: run {run_id!r} has no selection or no metrics: run `postmix select` and "
                         "`postmix mixture` first")
    selected = pool["sample_id"].isin(selection["sample_id"]).to_numpy()
    return ReportData(
        run_id=run_id, pool=pool, selection=selection.sort_values("rank", kind="mergesort").reset_index(drop=True),
        metrics=metrics, rejects=read_rejects(tables), near_duplicates=read_near_duplicates(tables),
        runs=read_runs(tables.spark, tables.warehouse, run_id),
        embedding_map=map_of(tables, run, pool["sample_id"].to_numpy(dtype=str), selected),
        summary=summary(run, metrics))


def read_pool(tables: TableSnapshot) -> pd.DataFrame:
    samples = tables.read("samples").select("sample_id", "source")
    annotations = tables.read("annotations").select("sample_id", "task", "quality")
    frame = samples.join(annotations, "sample_id").orderBy("sample_id").toPandas()
    return frame.astype({"quality": np.float64})[["sample_id", "task", "source", "quality"]]


def read_run_rows(tables: TableSnapshot, table: str, run_id: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not tables.has(table):
        return pd.DataFrame(columns=list(columns))
    rows = tables.read(table).where(run_slice(run_id)).select(*columns)
    return rows.toPandas()


def read_rejects(tables: TableSnapshot) -> pd.DataFrame:
    if not tables.has("rejects"):
        return pd.DataFrame({"reason": pd.Series(dtype=str), "count": pd.Series(dtype=np.int64)})
    return tables.read("rejects").groupBy("reason").count().orderBy("reason").toPandas()


def read_near_duplicates(tables: TableSnapshot) -> pd.DataFrame:
    columns = ["sample_id", "duplicate_of", "similarity"]
    if not tables.has("near_duplicates"):
        return pd.DataFrame(columns=columns)
    frame = tables.read("near_duplicates").select(*columns).orderBy("sample_id").toPandas()
    return frame.astype({"similarity": np.float64})


def read_runs(spark, warehouse: str, run_id: str) -> pd.DataFrame:
    from pyspark.sql import functions as F

    own_running_row = (F.col("stage") == F.lit("report")) & (F.col("status") == F.lit("running"))
    rows = (spark.read.format("delta").load(table_path(warehouse, "runs"))
            .where(run_slice(run_id) & ~own_running_row)
            .orderBy("started_at", "stage").select("stage", "status", "duration_s", "peak_rss_mb").toPandas())
    return rows.astype({"duration_s": np.float64, "peak_rss_mb": np.float64})


def map_of(tables: TableSnapshot, run: ReportRun, sample_ids: np.ndarray, selected: np.ndarray):
    """The 2-D map over a seeded sample of pool rows; only the sampled rows' vectors are read."""
    from pyspark.sql import functions as F

    params, model = run.params, run.embed_model
    rows = map_sample(selected, params.map_points_per_group, np.random.default_rng(params.seed))
    wanted = tables.spark.createDataFrame(pd.DataFrame({"sample_id": sample_ids[rows].astype(object)}))
    vectors = (tables.read("embeddings").where(F.col("model") == F.lit(model))
               .join(F.broadcast(wanted), "sample_id").select("sample_id", "vector").toPandas())
    by_id = dict(zip(vectors["sample_id"], vectors["vector"]))
    missing = [sid for sid in sample_ids[rows] if by_id.get(sid) is None]
    if missing:
        raise InputError(f"report: {len(missing)} mapped samples have no vector of {model} "
                         f"(e.g. {missing[0]}): run `postmix embed`")
    matrix = np.stack([np.asarray(by_id[sid], dtype=np.float64) for sid in sample_ids[rows]])
    return embedding_map(sample_ids[rows], matrix, selected[rows], params.map_points_per_group, params.seed)


def summary(run: ReportRun, metrics: pd.DataFrame) -> dict[str, str]:
    params = run.select
    budget = (f"{params.budget_tokens:,} tokens" if params.budget_in_tokens else f"{params.budget:,} samples")
    objective = metrics.set_index("metric").loc["objective"]
    return {"method": params.method, "budget": budget, "quotas": ", ".join(params.quotas) or "none",
            "quality floor": f"{params.min_quality:g}",
            "near-duplicates": "excluded" if params.exclude_near_duplicates else "allowed",
            "objective": f"{objective['selection']:.6g} (random {objective['random']:.6g})",
            "embed model": run.embed_model, "config": run.config_fingerprint[:12]}
