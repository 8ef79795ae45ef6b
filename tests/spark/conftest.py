"""One local[2] Spark session with real Delta for every Spark test."""

from __future__ import annotations

import pytest

from postmix.spark.params import SparkParams


@pytest.fixture(scope="session")
def spark():
    from postmix.spark.session import build_session

    session = build_session(SparkParams(master="local[2]", shuffle_partitions=4, driver_memory="3g",
                                        conf={"spark.sql.adaptive.coalescePartitions.enabled": "true"}))
    yield session
    session.stop()


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse")
