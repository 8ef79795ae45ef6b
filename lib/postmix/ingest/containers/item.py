"""What a container yields: one record (a parsed JSON object or Parquet row) or a container-level reject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Container names used by FileSplit and detection; EMPTY and UNREADABLE are files that yield one file-level reject.
JSONL = "jsonl"
JSONL_GZ = "jsonl_gz"
JSON_ARRAY = "json_array"
JSON_ARRAY_GZ = "json_array_gz"
PARQUET = "parquet"
DELTA = "delta"
EMPTY = "empty"
UNREADABLE = "unreadable"
TOO_LARGE = "too_large"
CONTAINERS = (JSONL, JSONL_GZ, JSON_ARRAY, JSON_ARRAY_GZ, PARQUET, DELTA, EMPTY, UNREADABLE, TOO_LARGE)


@dataclass
class Item:
    """location is unique within the source; record is None exactly when reason is set.

    raw is the record's original text when the container has it (JSON), else None (rows: built on reject);
    size is the raw size in bytes when known.
    """

    location: str
    record: Optional[dict] = None
    raw: Optional[str] = None
    size: Optional[int] = None
    reason: Optional[str] = None
    detail: Optional[str] = None
