"""What every `postmix` sub-command is made of: the Command record, the flags they share (common, select, export),
how flags override the config, and the printed outcome of a stage.

It sits below cli.py (the parser and `main`) and commands.py (the registry), and above spark/: the Spark wrappers
never parse flags, so the command line can change without touching them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

from postmix.errors import ConfigError


@dataclass(frozen=True)
class Command:
    """A sub-command: its own flags, how they override the config, and what it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    overrides: Callable[[argparse.Namespace], dict[str, Any]]
    run: Callable[[argparse.Namespace], int]
    uses_pipeline_config: bool = True


# --- flags every pipeline command takes ---------------------------------------------------------------------------

def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (docs/CONFIG.md)")
    parser.add_argument("--warehouse", help="folder or URI under which every table lives (<warehouse>/<table>)")
    parser.add_argument("--master", help="Spark master, e.g. local[4], spark://host:7077, yarn, k8s://...")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Spark setting, repeatable")
    parser.add_argument("--run-id", help="run id (default: derived from the config, so reruns resume)")
    parser.add_argument("--force", action="store_true", help="rerun even if this stage already succeeded")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also show the libraries' own logs (Spark/log4j, faiss, transformers, warnings) "
                             "and postmix's debug logging")


def common_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.warehouse:
        overrides["warehouse"] = args.warehouse
    if args.run_id:
        overrides["run_id"] = args.run_id
    spark: dict[str, Any] = {}
    if args.master:
        spark["master"] = args.master
    if args.conf:
        spark["conf"] = dict(_key_value(item) for item in args.conf)
    if spark:
        overrides["spark"] = spark
    return overrides


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--conf {item!r} must look like KEY=VALUE")
    return key.strip(), value


def load_pipeline_config(args: argparse.Namespace, command: Command):
    from postmix.config import load_config

    overrides = common_overrides(args)
    for key, value in command.overrides(args).items():
        if isinstance(value, dict) and isinstance(overrides.get(key), dict):
            overrides[key].update(value)
        else:
            overrides[key] = value
    return load_config(args.config, overrides)


def print_outcome(stage: str, run_id: str, outcome) -> None:
    """A short, human-readable summary on stdout (the same counters are stored in the runs table)."""
    status = "skipped (already done)" if outcome.skipped else "done"
    print(f"[{stage}] run {run_id}: {status}")
    for key in sorted(outcome.counts):
        print(f"  {key:<36} {outcome.counts[key]:>12,}")
    if outcome.message and not outcome.skipped:
        for line in outcome.message.splitlines():
            print(f"  {line}")


# --- select flags (select, mixture, report and run: one selection's budget and quotas) ----------------------------

def add_select_arguments(parser: argparse.ArgumentParser) -> None:
    from postmix.select.params import METHODS

    parser.add_argument("--budget", type=int, help="budget in samples (overrides select.budget)")
    parser.add_argument("--budget-tokens", type=int, help="budget in tokens (overrides select.budget_tokens)")
    parser.add_argument("--quota", action="append", default=[], metavar="COLUMN:VALUE<=AMOUNT",
                        help="cap (<=) or floor (>=) on a group, e.g. source:gpteacher<=0.2, repeatable; replaces "
                             "select.quotas")
    parser.add_argument("--min-quality", type=float, help="quality floor in [0, 1]")
    parser.add_argument("--exclude-near-duplicates", action=argparse.BooleanOptionalAction, default=None,
                        help="never pick a non-kept member of a near-duplicate group (on by default; "
                             "--no-exclude-near-duplicates allows them)")
    parser.add_argument("--method", choices=METHODS, help="selection method (default mig)")


def select_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The select flags as overrides of the `select:` section; a budget flag replaces the other budget kind."""
    section: dict[str, Any] = {}
    if args.budget is not None:
        section.update(budget=args.budget, budget_tokens=None)
    if args.budget_tokens is not None:
        section.update(budget_tokens=args.budget_tokens, budget=None)
    if args.budget is not None and args.budget_tokens is not None:
        raise ConfigError("give one of --budget and --budget-tokens, not both")
    if args.quota:
        section["quotas"] = list(args.quota)
    if args.min_quality is not None:
        section["min_quality"] = args.min_quality
    if args.exclude_near_duplicates is not None:
        section["exclude_near_duplicates"] = args.exclude_near_duplicates
    if args.method:
        section["method"] = args.method
    return {"select": section} if section else {}


# --- export flags -------------------------------------------------------------------------------------------------

def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    from postmix.export.params import FORMATS, ORDERS, STYLES

    parser.add_argument("--run", help="run id whose mixture to export (default: the config's run id)")
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="file format (default jsonl)")
    parser.add_argument("--style", choices=STYLES, default="messages",
                        help="record style: messages (TRL), sharegpt or alpaca (LLaMA-Factory); default messages")
    parser.add_argument("--order", choices=ORDERS, default="rank", help="row order (default rank)")
    parser.add_argument("--columns", help="comma-separated extra columns to write (default: every mixture column)")
    parser.add_argument("--out", required=True, help="output file (an existing file that is not an earlier export "
                                                     "is replaced only with --force)")


def export_params(args: argparse.Namespace):
    from postmix.export.params import ExportParams
    from postmix.params import build_params

    given: dict[str, Any] = {"format": args.format, "style": args.style, "order": args.order}
    if args.columns is not None:
        given["extra_columns"] = [c.strip() for c in args.columns.split(",") if c.strip()]
    return build_params(ExportParams, given, "export", "command line")
