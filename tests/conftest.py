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
