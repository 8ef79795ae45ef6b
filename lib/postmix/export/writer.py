"""Write mixture rows as a trainer-ready JSONL or Parquet file, atomically (temp file + rename)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from postmix.errors import ConfigError, InputError, StorageError
from postmix.export.atomic import atomic_path
from postmix.export.params import ExportParams
from postmix.export.styles import STYLE_FIELDS, STYLE_MAPPERS, canonical_messages

REQUIRED_COLUMNS = ("sample_id", "messages")


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    rows: int
    format: str
    style: str
    columns: tuple[str, ...]


def export_mixture(rows: pd.DataFrame, out: str | Path, params: ExportParams) -> ExportSummary:
    """Write `rows` (sample_id, messages as a list of {role, content}, any provenance columns) to `out` in the
    style and format of `params`. The file appears complete or not at all; same rows -> same bytes."""
    extras = _extra_columns(rows, params)
    ordered = _ordered(rows, params.order)
    records = [_record(row, params.style, extras) for row in ordered.to_dict("records")]
    columns = STYLE_FIELDS[params.style] + ("sample_id",) + extras
    with atomic_path(out) as temporary:
        if params.format == "jsonl":
            _write_jsonl(records, temporary)
        else:
            _write_parquet(records, columns, params.style, temporary)
    return ExportSummary(Path(out), len(records), params.format, params.style, columns)


def check_target(out: str | Path, params: ExportParams, force: bool = False) -> None:
    """Refuse to replace an existing file that is not an earlier export (a typo in --out must not eat a file)."""
    target = Path(out)
    if force or not target.exists() or target.is_dir() or previous_export(target, params.format):
        return
    raise StorageError(f"export: {target} exists and is not an earlier postmix {params.format} export (no "
                       "sample_id in its first record): choose another --out, or pass --force to replace it")


def previous_export(path: Path, fmt: str) -> bool:
    """Whether the file looks like what export writes: its first record (or its schema) has a sample_id."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return "sample_id" in pq.read_schema(path).names
        with open(path, "rb") as handle:
            first = json.loads(handle.readline(1_000_000) or b"null")
        return isinstance(first, dict) and "sample_id" in first
    except Exception:  # unreadable, or another format: not an export
        return False


def _extra_columns(rows: pd.DataFrame, params: ExportParams) -> tuple[str, ...]:
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(f"export: mixture rows lack column(s) {', '.join(missing)}")
    if rows["sample_id"].duplicated().any():
        raise InputError(f"export: sample_id {rows['sample_id'][rows['sample_id'].duplicated()].iloc[0]!r} "
                         "appears twice in the mixture rows")
    wanted = params.extra_columns if params.extra_columns is not None else tuple(rows.columns)
    extras = tuple(c for c in wanted if c not in REQUIRED_COLUMNS)
    unknown = [c for c in extras if c not in rows.columns]
    if unknown:
        raise ConfigError(f"export.extra_columns: {', '.join(unknown)} not in the mixture rows "
                          f"(columns: {', '.join(map(str, rows.columns))})")
    clashes = [c for c in extras if c in STYLE_FIELDS[params.style]]
    if clashes:
        raise ConfigError(f"export: column(s) {', '.join(clashes)} clash with the {params.style} style's own "
                          "fields; leave them out with extra_columns")
    return extras


def _ordered(rows: pd.DataFrame, order: str) -> pd.DataFrame:
    if order == "rank":
        if "rank" not in rows.columns:
            raise InputError("export: order 'rank' needs a rank column in the mixture rows (or use order sample_id)")
        return rows.sort_values(["rank", "sample_id"], kind="mergesort")
    return rows.sort_values("sample_id", kind="mergesort")


def _record(row: dict[str, Any], style: str, extras: tuple[str, ...]) -> dict[str, Any]:
    sample_id = str(row["sample_id"])
    record = STYLE_MAPPERS[style](canonical_messages(row["messages"], sample_id))
    record["sample_id"] = sample_id
    record.update({column: plain(row[column]) for column in extras})
    return record


def plain(value: Any) -> Any:
    """A JSON-able Python value: numpy scalars and arrays unwrapped, NaN and missing as None, timestamps as ISO text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _write_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
            handle.write("\n")


def _style_types(style: str):
    import pyarrow as pa

    text = pa.string()
    if style == "messages":
        return {"messages": pa.list_(pa.struct([("role", text), ("content", text)]))}
    if style == "sharegpt":
        return {"conversations": pa.list_(pa.struct([("from", text), ("value", text)])), "system": text}
    return {"instruction": text, "input": text, "output": text, "system": text, "history": pa.list_(pa.list_(text))}


def _write_parquet(records: list[dict[str, Any]], columns: tuple[str, ...], style: str, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {**_style_types(style), "sample_id": pa.string()}
    arrays = [pa.array([r[c] for r in records], type=types.get(c)) for c in columns]
    pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), path, compression="zstd")
