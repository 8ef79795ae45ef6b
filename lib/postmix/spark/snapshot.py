"""Input tables at fixed Delta versions: what a stage body reads, so that a stage's result, the versions it
recorded in `runs` and anything computed later from those versions agree exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from postmix.errors import InputError
from postmix.storage.delta import read_table, table_versions
from postmix.storage.runs import previous_record


@dataclass(frozen=True)
class TableSnapshot:
    """Tables read at fixed Delta versions (a table absent from `versions` does not exist)."""

    spark: Any
    warehouse: str
    versions: dict[str, int]

    def has(self, table: str) -> bool:
        return table in self.versions

    def read(self, table: str):
        if table not in self.versions:
            raise InputError(f"table {table!r} does not exist under {self.warehouse}: run the stage that writes it "
                             "first")
        return read_table(self.spark, self.warehouse, table, self.versions[table])

    def merged(self, versions: dict[str, int]) -> "TableSnapshot":
        """The same snapshot with `versions` taking precedence."""
        return TableSnapshot(self.spark, self.warehouse, {**self.versions, **versions})


def recorded_input_versions(spark, warehouse: str, run_id: str, stage: str) -> dict[str, int]:
    """The input versions `run_stage` recorded for (run_id, stage) in `runs`: how a later stage reads exactly what
    an earlier one read (mixture and report read the select stage's inputs this way)."""
    record = previous_record(spark, warehouse, run_id, stage)
    if record is None:
        raise InputError(f"run {run_id!r} has no {stage} record in the runs table: run `postmix {stage}` first")
    return {str(k): int(v) for k, v in (record.get("input_versions") or {}).items()}


def snapshot_for(spark, warehouse: str, run_id: str, stage: str, tables: tuple[str, ...]) -> TableSnapshot:
    """Tables at the versions recorded for the stage; tables it did not record are read at their current version."""
    versions = recorded_input_versions(spark, warehouse, run_id, stage)
    missing = [t for t in tables if t not in versions]
    versions.update(table_versions(spark, warehouse, missing))
    return TableSnapshot(spark, warehouse, {t: v for t, v in versions.items() if t in tables})
