"""The Spark side of `postmix export` (the command is in commands.py): one run's mixture rows, ordered by rank,
written in a trainer's format (not a stage: it writes a file outside the warehouse and records nothing in `runs`)."""

from __future__ import annotations

from postmix.errors import InputError
from postmix.export import ExportParams, ExportSummary, export_mixture
from postmix.storage.delta import read_table, run_slice


def read_mixture(spark, warehouse: str, run_id: str):
    """The run's mixtures slice as pandas, by rank (InputError when the run has none)."""
    rows = (read_table(spark, warehouse, "mixtures").where(run_slice(run_id))
            .orderBy("rank", "sample_id").toPandas())
    if rows.empty:
        raise InputError(f"export: run {run_id!r} has no rows in {warehouse.rstrip('/')}/mixtures: run "
                         "`postmix mixture` (or `postmix run`) first")
    return rows


def export_run(spark, warehouse: str, run_id: str, out: str, params: ExportParams) -> ExportSummary:
    return export_mixture(read_mixture(spark, warehouse, run_id), out, params)
