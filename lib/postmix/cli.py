"""The `postmix` command: one sub-command per stage, all with the same shape.

    postmix <stage> [--config FILE] [--warehouse DIR] [--master URL] [--conf KEY=VALUE ...] [--run-id ID] [--force]

Flags override the config file; without a config file the flags alone describe the run. `jobs/<stage>.py` calls
the same `main`, so `spark-submit jobs/ingest.py --config conf.yaml` and `postmix ingest --config conf.yaml` are one
code path. A user error prints one line `postmix: error: ...` and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from postmix.commands import COMMANDS
from postmix.errors import PostmixError
from postmix.subcommand import Command, common_arguments


def build_parser(commands: dict[str, Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postmix", description="Curate post-training data mixtures with Spark.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.uses_pipeline_config:
            common_arguments(p)
        command.add_arguments(p)
    return parser


def configure_logging(verbose: bool) -> None:
    """The console: postmix's own lines only, unless --verbose (postmix.console)."""
    from postmix.console import configure_logging as configure_console

    configure_console(verbose)


def main(argv: Sequence[str] | None = None) -> int:
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
