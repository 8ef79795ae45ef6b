"""`postmix export`: one run's mixture rows, ordered by rank, written in a trainer's format (not a stage: it
writes a file outside the warehouse and records nothing in `runs`)."""

from __future__ import annotations

import argparse
from typing import Any

from postmix.errors import InputError
from postmix.export import ExportParams, ExportSummary, export_mixture
from postmix.export.params import FORMATS, ORDERS, STYLES
from postmix.params import build_params
from postmix.spark.select import sql_text
from postmix.storage.delta import read_table


def read_mixture(spark, warehouse: str, run_id: str):
    """The run's mixtures slice as pandas, by rank (InputError when the run has none)."""
    rows = (read_table(spark, warehouse, "mixtures").where(f"run_id = '{sql_text(run_id)}'")
            .orderBy("rank", "sample_id").toPandas())
    if rows.empty:
        raise InputError(f"export: run {run_id!r} has no rows in {warehouse.rstrip('/')}/mixtures: run "
                         "`postmix mixture` (or `postmix run`) first")
    return rows


def export_run(spark, warehouse: str, run_id: str, out: str, params: ExportParams) -> ExportSummary:
    return export_mixture(read_mixture(spark, warehouse, run_id), out, params)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", help="run id whose mixture to export (default: the config's run id)")
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="file format (default jsonl)")
    parser.add_argument("--style", choices=STYLES, default="messages",
                        help="record style: messages (TRL), sharegpt or alpaca (LLaMA-Factory); default messages")
    parser.add_argument("--order", choices=ORDERS, default="rank", help="row order (default rank)")
    parser.add_argument("--columns", help="comma-separated extra columns to write (default: every mixture column)")
    parser.add_argument("--out", required=True, help="output file (an existing file that is not an earlier export "
                                                     "is replaced only with --force)")


def export_params(args: argparse.Namespace) -> ExportParams:
    given: dict[str, Any] = {"format": args.format, "style": args.style, "order": args.order}
    if args.columns is not None:
        given["extra_columns"] = [c.strip() for c in args.columns.split(",") if c.strip()]
    return build_params(ExportParams, given, "export", "command line")


def run_export_command(args: argparse.Namespace, command) -> int:
    from postmix.cli import load_pipeline_config
    from postmix.config import check_safe_name
    from postmix.spark.session import build_session

    from postmix.export.writer import check_target

    params = export_params(args)
    check_target(args.out, params, force=args.force)  # before Spark starts: nothing to undo
    config = load_pipeline_config(args, command)
    run_id = check_safe_name(args.run, "--run", "command line") if args.run else config.effective_run_id
    spark = build_session(config.spark)
    summary = export_run(spark, config.warehouse, run_id, args.out, params)
    print(f"[export] run {run_id}: {summary.rows:,} rows -> {summary.path} ({summary.format}, {summary.style})")
    return 0
