"""The stage list is written once (postmix.pipeline.STAGES): every target resolves, and the CLI has one
sub-command per stage, in run order, running that target."""

from __future__ import annotations

import pytest

from postmix.commands import COMMANDS, STAGE_HELP
from postmix.pipeline import STAGES, stage_runner


@pytest.mark.parametrize("stage,target", STAGES, ids=[s for s, _ in STAGES])
def test_every_stage_target_resolves_to_a_runner(stage, target):
    runner = stage_runner(target)
    assert callable(runner) and runner.__name__ == f"run_{stage}"


def test_the_cli_has_one_subcommand_per_stage_in_run_order():
    stage_names = [stage for stage, _ in STAGES]
    assert [name for name in COMMANDS if name in STAGE_HELP] == stage_names
    assert list(STAGE_HELP) == stage_names
