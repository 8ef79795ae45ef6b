"""The `postmix` command: one sub-command per stage, all with the same shape.

    postmix <stage> [--config FILE] [--warehouse DIR] [--master URL] [--conf KEY=VALUE ...] [--run-id ID] [--force]

Flags override the config file; without a config file the flags alone describe the run. `jobs/<stage>.py` calls
the same `main`, so `spark-submit jobs/ingest.py --config conf.yaml` and `postmix ingest --config conf.yaml` are one
code path. A user error prints one line `postmix: error: ...` and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from postmix.errors import ConfigError, PostmixError


@dataclass(frozen=True)
class Command:
    """A sub-command: its own flags, how they override the config, and what it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    overrides: Callable[[argparse.Namespace], dict[str, Any]]
    run: Callable[[argparse.Namespace], int]
    uses_pipeline_config: bool = True


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (docs/CONFIG.md)")
    parser.add_argument("--warehouse", help="folder or URI under which every table lives (<warehouse>/<table>)")
    parser.add_argument("--master", help="Spark master, e.g. local[4], spark://host:7077, yarn, k8s://...")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Spark setting, repeatable")
    parser.add_argument("--run-id", help="run id (default: derived from the config, so reruns resume)")
    parser.add_argument("--force", action="store_true", help="rerun even if this stage already succeeded")
    parser.add_argument("--verbose", "-v", action="store_true", help="also show the libraries' own logs (Spark/log4j, faiss, transformers, warnings) "
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


def build_parser(commands: dict[str, Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postmix", description="Curate post-training data mixtures with Spark.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.uses_pipeline_config:
            _common_arguments(p)
        command.add_arguments(p)
    return parser


def configure_logging(verbose: bool) -> None:
    """The console: postmix's own lines only, unless --verbose (postmix.console)."""
    from postmix.console import configure_logging as configure_console

    configure_console(verbose)


def main(argv: Sequence[str] | None = None) -> int:
    from postmix.commands import COMMANDS

    parser = build_parser(COMMANDS)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure_logging(getattr(args, "verbose", False))
    try:
        return COMMANDS[args.command].run(args)
    except PostmixError as exc:
        print(f"postmix: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("postmix: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
