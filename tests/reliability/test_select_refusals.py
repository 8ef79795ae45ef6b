"""What only the data can refuse (a floor larger than its group, a quality floor that leaves no candidate) stops
`postmix select` in one line at the start of the stage: before the pool is collected, before any selection work,
with the selections table untouched."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from postmix import cli
from postmix.storage.delta import current_version
from postmix.storage.tables import table_path

REFUSALS = "bad input: paths and config"
HERE = Path(__file__).resolve().parent


def _select_stage_helpers():
    """The synthetic warehouse builder of tests/spark/test_select_stage.py (samples .. near_duplicates)."""
    spec = importlib.util.spec_from_file_location("_select_stage_helpers", HERE.parent / "spark" / "test_select_stage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(spark, tmp_path_factory):
    helpers = _select_stage_helpers()
    warehouse = str(tmp_path_factory.mktemp("refusals") / "warehouse")
    truth = helpers.build_warehouse(spark, warehouse)
    return warehouse, truth


@pytest.fixture
def no_selection_work(monkeypatch):
    """Any step past the start of the stage fails the test."""
    import postmix.spark.select as stage

    def reached(*args, **kwargs):
        raise AssertionError("selection work started before the constraints were checked")

    monkeypatch.setattr(stage, "collect_pool", reached)
    monkeypatch.setattr(stage, "select_distributed", reached)


CASES = [
    ("floor_larger_than_its_group", "source:dolly>=500 on a pool holding 30 dolly samples (budget 600)",
     ["--budget", "600", "--quota", "source:dolly>=500", "--no-exclude-near-duplicates"],
     "quota source:dolly>=500: floor of 500 samples but only 30"),
    ("min_quality_empties_the_pool", "--min-quality 1.0: no sample reaches it",
     ["--budget", "5", "--min-quality", "1.0"], "select.min_quality 1 leaves no candidate"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_data_refusals_come_before_any_work(spark, synthetic, no_selection_work, capsys, case, outcome):
    case_id, description, flags, expected = case
    warehouse, _ = synthetic
    selections = table_path(warehouse, "selections")
    before = current_version(spark, selections)
    code = cli.main(["select", "--warehouse", warehouse, "--run-id", case_id, *flags])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("postmix: error:")]
    outcome(REFUSALS, case_id, description, f"exit 2, ConstraintError: ...{expected}... before the pool is "
            "collected; selections untouched", f"exit {code}: {' / '.join(lines)[:240]}")
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and current_version(spark, selections) == before
