"""Fixtures shared by every test layer (unit, spark, e2e)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = Path(os.environ.get("POSTMIX_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real public datasets in ../shared/data; tests that need them skip where the folder is absent."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"needs the shared datasets, not found at {SHARED_DATA_DIR} (set POSTMIX_SHARED_DATA)")
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session with real Delta, shared by every test that asks for it (created lazily)."""
    from postmix.spark.params import SparkParams
    from postmix.spark.session import build_session

    session = build_session(SparkParams(master="local[2]", shuffle_partitions=4, driver_memory="3g"))
    yield session
    session.stop()


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse")


@pytest.fixture(scope="session")
def merge_kinds():
    """The MERGE commits of a Delta table, oldest first: "insert" for an insert-only MERGE, "update" for one with an
    update clause (read by deltalake from the log, without Spark)."""
    def kinds(path) -> list[str]:
        import json

        import deltalake

        merges = [h for h in deltalake.DeltaTable(str(path)).history() if h["operation"] == "MERGE"]
        return ["update" if json.loads(h["operationParameters"]["matchedPredicates"]) else "insert"
                for h in reversed(merges)]

    return kinds
