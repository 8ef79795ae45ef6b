"""The registry of `postmix` sub-commands. Adding a stage = one runner module, one line in postmix.pipeline.STAGES
and its help line in STAGE_HELP here."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from postmix.pipeline import STAGES, stage_runner
from postmix.subcommand import (Command, add_export_arguments, add_select_arguments, export_params,
                                load_pipeline_config, print_outcome, select_overrides)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A stage with only the common flags."""


def _no_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {}


def stage_command(name: str, help_text: str, runner: str,
                  add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments,
                  overrides: Callable[[argparse.Namespace], dict[str, Any]] = _no_overrides) -> Command:
    """A Spark stage: load config, build the session, run `runner` ("module:function"), print its outcome."""

    def run(args: argparse.Namespace) -> int:
        from postmix.spark.session import build_session

        command = COMMANDS[name]
        config = load_pipeline_config(args, command)
        spark = build_session(config.spark)
        outcome = stage_runner(runner)(spark, config, force=args.force)
        print_outcome(name, config.effective_run_id, outcome)
        return 0

    return Command(name, help_text, add_arguments, overrides, run)


def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH[:FORMAT]",
                        help="an input source (file, folder or glob; local or URI), repeatable; "
                             "replaces the config's sources")


def _ingest_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"sources": list(args.source)} if args.source else {}


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo-data generator")
    parser.add_argument("--scale", type=float, default=1.0, help="size of the demo data (1.0: about 3,200 rows)")
    parser.add_argument("--budget", type=int, default=300, help="samples to select")


def _run_pipeline(args: argparse.Namespace) -> int:
    from postmix.pipeline import run_pipeline
    from postmix.spark.session import build_session

    config = load_pipeline_config(args, COMMANDS["run"])
    check_pipeline_config(config, args.config or "command line")
    spark = build_session(config.spark)
    run_pipeline(spark, config, force=args.force,
                 on_stage_done=lambda stage, outcome: print_outcome(stage, config.effective_run_id, outcome))
    return 0


def check_pipeline_config(config, origin: str) -> None:
    """What a later stage would refuse, refused before the first one runs (every section is already validated)."""
    from postmix.errors import ConfigError
    from postmix.select.params import BUDGET_MISSING

    if config.select is None:
        raise ConfigError(f"{origin}: run: {BUDGET_MISSING}")


def _run_demo(args: argparse.Namespace) -> int:
    from postmix.demo_pipeline import run_demo

    return run_demo(args, COMMANDS["demo"])


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from dataclasses import fields

    from postmix.annotate.params import TrainParams

    parser.add_argument("--kind", required=True, choices=("task", "quality"), help="which classifier to train")
    parser.add_argument("--data", required=True, help="labelled JSONL (docs/ANNOTATE.md, 'Training data')")
    parser.add_argument("--out", required=True, help="output folder for the model and its card")
    parser.add_argument("--name", help="model name recorded in the card (default: from the kind)")
    parser.add_argument("--model", choices=("fasttext", "lgbm-rank"), default="fasttext",
                        help="quality only: lgbm-rank = the LightGBM ranker over reply features, lists by 'query' "
                             "(default 'group'); writes N.lgbm + N.calibration.json + card (docs/ANNOTATE.md)")
    for f in fields(TrainParams):
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f"train_{f.name}", type=type(f.default),
                            default=None, help=f"default {f.default!r}")


def _run_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from postmix.annotate.params import TrainParams
    from postmix.annotate.train import train_command
    from postmix.params import build_params

    given = {f.name: getattr(args, f"train_{f.name}") for f in fields(TrainParams)
             if getattr(args, f"train_{f.name}") is not None}
    params = build_params(TrainParams, given, "train", "command line")
    if args.model == "lgbm-rank":
        return _run_train_ranker(args, params)
    card = train_command(args.kind, args.data, args.out, params, name=args.name)
    print(f"model: {card.model_path}\ncard:  {card.json_path}\n       {card.markdown_path}")
    print(json.dumps(card.content.get("metrics", {}), indent=2, default=str)[:4000])
    return 0


def _run_train_ranker(args: argparse.Namespace, params) -> int:
    from pathlib import Path

    from postmix.annotate.labelled import file_sha256, read_jsonl
    from postmix.annotate.quality_rank import train_ranker
    from postmix.errors import ConfigError, InputError

    if args.kind != "quality":
        raise ConfigError("train: --model lgbm-rank trains quality models only (use --kind quality)")
    data = Path(args.data)
    if not data.is_file():
        raise InputError(f"labelled data not found: {data}")
    shown = f"postmix train --kind quality --model lgbm-rank --data {data} --out {args.out}"
    content = train_ranker(read_jsonl(data), args.out, params, name=args.name or "quality_rank",
                           data={"path": str(data), "sha256": file_sha256(data)}, command=shown)
    print(f"model: {Path(args.out) / content['model_file']}")
    print(json.dumps(content["metrics"]["test"], indent=2, default=str)[:4000])
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from postmix.config import check_safe_name
    from postmix.export.writer import check_target
    from postmix.spark.export import export_run
    from postmix.spark.session import build_session

    params = export_params(args)
    check_target(args.out, params, force=args.force)  # before Spark starts: nothing to undo
    config = load_pipeline_config(args, COMMANDS["export"])
    run_id = check_safe_name(args.run, "--run", "command line") if args.run else config.effective_run_id
    spark = build_session(config.spark)
    summary = export_run(spark, config.warehouse, run_id, args.out, params)
    print(f"[export] run {run_id}: {summary.rows:,} rows -> {summary.path} ({summary.format}, {summary.style})")
    return 0


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> None:
    COMMANDS[command.name] = command


# Per stage: its help line, extra flags and their overrides. The stages and their runners are
# postmix.pipeline.STAGES (the one list: the Airflow DAG reads it too); a stage missing here fails at import.
STAGE_HELP: dict[str, tuple[str, Callable, Callable]] = {
    "ingest": ("read sources into the canonical samples table (+ rejects)", _ingest_arguments, _ingest_overrides),
    "annotate": ("label every sample with task, quality, language and heuristic signals", _no_arguments, _no_overrides),
    "embed": ("embed every sample that has no vector for the configured model", _no_arguments, _no_overrides),
    "semantic": ("fit semantic labels, build the label graph, find semantic near-duplicates", _no_arguments,
                 _no_overrides),
    "select": ("pick the run's mixture from the pool under a budget and quotas (selections table)",
               add_select_arguments, select_overrides),
    # mixture and report belong to one selection (its budget and quotas are part of the run): the same flags
    "mixture": ("the run's training rows (mixtures) and metrics against random (mixture_metrics)",
                add_select_arguments, select_overrides),
    "report": ("write the run's HTML report to <warehouse>/reports/<run_id>.html", add_select_arguments,
               select_overrides),
}


def register_stage_commands() -> None:
    """One sub-command per entry of postmix.pipeline.STAGES, in run order."""
    missing = [stage for stage, _ in STAGES if stage not in STAGE_HELP]
    if missing or len(STAGE_HELP) != len(STAGES):
        raise RuntimeError(f"postmix.commands.STAGE_HELP and postmix.pipeline.STAGES disagree: {missing or STAGE_HELP}")
    for stage, target in STAGES:
        help_text, add_arguments, overrides = STAGE_HELP[stage]
        register(stage_command(stage, help_text, target, add_arguments, overrides))


register_stage_commands()
register(Command("export", "write a run's mixture as JSONL or Parquet for trainers (messages, sharegpt, alpaca)",
                 add_export_arguments, _no_overrides, _run_export))
register(Command("train", "train a fastText task or quality classifier and write its model card",
                 _train_arguments, _no_overrides, _run_train, uses_pipeline_config=False))


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _ingest_arguments(parser)
    add_select_arguments(parser)


def _run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = _ingest_overrides(args)
    select = select_overrides(args)
    return {**overrides, **select}


register(Command("run", "run every stage in order (finished work is skipped; a crashed run resumes)",
                 _run_arguments, _run_overrides, _run_pipeline))
register(Command("demo", "generate the bundled demo data and run the pipeline on it", _demo_arguments,
                 _no_overrides, _run_demo))
