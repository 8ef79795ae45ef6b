"""Parquet files read with pyarrow, one split per row group; every column is a record field (missing optional
columns are simply absent, extra columns go to meta through the format)."""

from __future__ import annotations

from typing import Iterator

import pyarrow.parquet as pq

from postmix.ingest import fs
from postmix.ingest import reasons as R
from postmix.ingest.containers.item import Item


def open_file(path: str) -> pq.ParquetFile:
    return pq.ParquetFile(fs.open_random_access(path))


def column_names(path: str) -> list[str]:
    return open_file(path).schema_arrow.names


def iter_items(path: str, row_group: int) -> Iterator[Item]:
    """Items of one row group; a row group that cannot be read is one unreadable_file reject."""
    try:
        table = open_file(path).read_row_group(row_group)
    except Exception as err:  # pyarrow raises several types for corrupt pages; each is this row group's reject
        yield Item(f"{path}#{row_group}", reason=R.UNREADABLE_FILE, detail=f"row group {row_group}: {err}")
        return
    try:
        rows = table.to_pylist()
    except UnicodeDecodeError:
        yield from _rows_one_by_one(table, path, row_group)
        return
    for index, row in enumerate(rows):
        yield Item(f"{path}#{row_group}:{index}", record=row)


def _rows_one_by_one(table, path: str, row_group: int) -> Iterator[Item]:
    """Slow path when some string cell is not valid UTF-8: convert row by row so only bad rows are rejected."""
    for index in range(table.num_rows):
        location = f"{path}#{row_group}:{index}"
        try:
            yield Item(location, record=table.slice(index, 1).to_pylist()[0])
        except UnicodeDecodeError as err:
            yield Item(location, reason=R.INVALID_UTF8, detail=f"a string cell is not valid UTF-8: {err}")
