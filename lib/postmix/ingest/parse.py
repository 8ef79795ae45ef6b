"""Parse one split (or dict rows from a Delta source) into PARSED rows: canonical samples and rejects.

Every input record ends as exactly one row: a sample or a reject with a reason code. Nothing raises for bad data;
only a programming error (or an unreadable file mid-read, which becomes a reject too) would.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator, Optional

import pyarrow as pa

from postmix.ingest.formats.base import RecordFormat, source_id_of
from postmix.ingest.formats.registry import get_format, matching_formats
from postmix.ingest import reasons as R
from postmix.ingest.containers import item as C
from postmix.ingest.containers import json_array, jsonl, parquet
from postmix.ingest.containers.item import Item
from postmix.ingest.containers.lines import excerpt
from postmix.ingest.normalize import (check_meta_size, conversation_stats, json_plain_value, meta_json, sample_id,
                                      validate_conversation)
from postmix.ingest.params import IngestParams
from postmix.ingest.reasons import RowRejected
from postmix.ingest.splits import FileSplit

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
PARSED_SCHEMA = pa.schema([
    pa.field("kind", pa.string(), nullable=False),  # "sample" | "reject"
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),  # the record's own id, else its location
    pa.field("location", pa.string(), nullable=False),  # unique within the source
    pa.field("format", pa.string()),
    pa.field("sample_id", pa.string()),  # samples only
    pa.field("messages", pa.list_(MESSAGE_TYPE)),  # samples only
    pa.field("n_turns", pa.int32()),
    pa.field("n_chars_user", pa.int64()),
    pa.field("n_chars_assistant", pa.int64()),
    pa.field("has_system", pa.bool_()),
    pa.field("meta", pa.string()),  # JSON object text, sorted keys; samples only
    pa.field("reason", pa.string()),  # rejects only
    pa.field("detail", pa.string()),
    pa.field("raw", pa.string()),
])
SAMPLE = "sample"
REJECT = "reject"
# Longest reject detail: details quote user values (a role, field names), which must not fill the row; `raw`
# has its own cap (raw_excerpt_chars).
MAX_DETAIL_CHARS = 500


def parse_split(split: FileSplit, params: IngestParams) -> Iterator[dict]:
    """The parsed rows of one split, in file order."""
    fmt = get_format(split.format) if split.format else None
    for item in _split_items(split, params):
        yield parse_item(item, split.source, fmt, params)


def parse_records(records: Iterable, source: str, format: str, location_prefix: str, params: IngestParams,
                  start_index: int = 0) -> Iterator[dict]:
    """Parsed rows of dict-like rows from a Delta source (numpy arrays, tuples and Rows are normalised).

    Row i gets location f"{location_prefix}{start_index + i}"; the caller makes the prefix unique per partition.
    """
    fmt = get_format(format)
    for index, record in enumerate(records):
        location = f"{location_prefix}{start_index + index}"
        record = json_plain_value(record)
        if not isinstance(record, dict):
            item = Item(location, raw=excerpt(repr(record), params.raw_excerpt_chars), reason=R.NOT_AN_OBJECT,
                        detail=f"the row is a {type(record).__name__}, not a mapping")
        else:
            item = Item(location, record=record)
        yield parse_item(item, source, fmt, params)


def parse_item(item: Item, source: str, fmt: Optional[RecordFormat], params: IngestParams) -> dict:
    """One container item -> one parsed row."""
    if item.reason is not None:
        return reject_row(source, item.location, fmt, item.reason, item.detail, item.raw, None)
    record = item.record
    try:
        return _sample_row(item, source, fmt, params)
    except RowRejected as err:
        return reject_row(source, item.location, fmt, err.reason, err.detail, _raw_text(item, params),
                          _safe_source_id(record))
    except RecursionError:  # the decoder accepted the nesting, but walking it (json_plain_value, meta JSON) goes deeper
        raw = excerpt(item.raw, params.raw_excerpt_chars) if item.raw is not None else None
        return reject_row(source, item.location, fmt, R.NESTING_TOO_DEEP,
                          "a field is nested too deeply to convert (Python recursion limit)", raw, None)


def _sample_row(item: Item, source: str, fmt: Optional[RecordFormat], params: IngestParams) -> dict:
    record = item.record
    size = item.size if item.size is not None else approx_size(record)
    if size > params.max_record_bytes:
        raise RowRejected(R.RECORD_TOO_LARGE, f"record has about {size} bytes > max_record_bytes={params.max_record_bytes}")
    _check_fits(record, fmt)
    messages, meta, source_id = fmt.to_conversation(record)
    validate_conversation(messages, params)
    meta_text = meta_json(json_plain_value(meta))
    check_meta_size(meta_text, params)
    identity = _sample_id_or_reject(messages)
    _check_encodable(meta_text, "meta")
    return {
        "kind": SAMPLE, "source": source, "source_id": _clean(source_id) if source_id is not None else item.location,
        "location": item.location, "format": fmt.name, "sample_id": identity, "messages": messages,
        **conversation_stats(messages), "meta": meta_text, "reason": None, "detail": None, "raw": None,
    }


def _check_fits(record: dict, fmt: Optional[RecordFormat]) -> None:
    if fmt is None:
        raise RowRejected(R.FORMAT_MISMATCH, "the file's format could not be detected (no JSON object among its "
                                             "first records) and none was declared")
    keys = frozenset(record)
    if fmt.detect(keys) == 0:
        fits = matching_formats(keys)
        raise RowRejected(R.FORMAT_MISMATCH, f"fields {sorted(keys)[:20]} do not fit format {fmt.name!r}"
                                             + (f" (they fit {', '.join(fits)})" if fits else ""))


def _sample_id_or_reject(messages: list[dict]) -> str:
    try:
        return sample_id(messages)
    except UnicodeEncodeError as err:  # lone surrogates from JSON escapes like "\ud800"
        raise RowRejected(R.INVALID_UTF8, f"message text is not encodable as UTF-8: {err.reason}") from None


def _check_encodable(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise RowRejected(R.INVALID_UTF8, f"{field} is not encodable as UTF-8: {err.reason}") from None


def reject_row(source: str, location: str, fmt: Optional[RecordFormat], reason: str, detail: Optional[str],
               raw: Optional[str], source_id: Optional[str]) -> dict:
    return {
        "kind": REJECT, "source": source, "source_id": source_id or location, "location": location,
        "format": fmt.name if fmt else None, "sample_id": None, "messages": None, "n_turns": None,
        "n_chars_user": None, "n_chars_assistant": None, "has_system": None, "meta": None,
        "reason": reason, "detail": _clean(excerpt(detail, MAX_DETAIL_CHARS)) if detail is not None else None,
        "raw": _clean(raw) if raw is not None else None,
    }


def _split_items(split: FileSplit, params: IngestParams) -> Iterator[Item]:
    if split.reason is not None:
        yield Item(split.path, reason=split.reason, detail=split.detail)
        return
    try:
        yield from _container_items(split, params)
    except OSError as err:  # the file vanished or became unreadable after planning
        yield Item(f"{split.path}@{split.start}", reason=R.UNREADABLE_FILE, detail=f"read failed: {err}")


def _container_items(split: FileSplit, params: IngestParams) -> Iterator[Item]:
    if split.container in (C.JSONL, C.JSONL_GZ):
        yield from jsonl.iter_items(split.path, split.container == C.JSONL_GZ, params, split.start, split.end,
                                    split.first_line)
    elif split.container in (C.JSON_ARRAY, C.JSON_ARRAY_GZ):
        yield from json_array.iter_items(split.path, split.container == C.JSON_ARRAY_GZ, params)
    elif split.container == C.PARQUET:
        yield from parquet.iter_items(split.path, split.row_group)
    elif split.container == C.DELTA:
        raise ValueError(f"{split.path}: Delta splits are read by Spark; pass their rows to parse_records")
    else:
        raise ValueError(f"{split.path}: unknown container {split.container!r}")


def approx_size(value) -> int:
    """About the JSON size of a row in bytes, without serialising it (text lengths + a few bytes per value)."""
    if isinstance(value, (str, bytes)):
        return len(value) + 2
    if isinstance(value, dict):
        return sum(len(str(k)) + 4 + approx_size(v) for k, v in value.items()) + 2
    if isinstance(value, (list, tuple)):
        return sum(approx_size(v) + 1 for v in value) + 2
    return 8


def _raw_text(item: Item, params: IngestParams) -> str:
    if item.raw is not None:
        return excerpt(item.raw, params.raw_excerpt_chars)
    text = json.dumps(json_plain_value(item.record), ensure_ascii=False, default=_bytes_as_text)
    return excerpt(text, params.raw_excerpt_chars)


def _bytes_as_text(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _safe_source_id(record) -> Optional[str]:
    try:
        found = source_id_of(record) if isinstance(record, dict) else None
    except Exception:  # an id field of an odd type must not turn a reject into a crash
        return None
    return _clean(found) if found is not None else None


def _clean(text: str) -> str:
    """Valid UTF-8 text (lone surrogates replaced), as Arrow requires."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def rows_to_record_batch(rows: list[dict]) -> pa.RecordBatch:
    """Parsed rows -> one Arrow RecordBatch in PARSED_SCHEMA (what mapInArrow yields)."""
    return pa.RecordBatch.from_pylist(rows, schema=PARSED_SCHEMA)


def parse_split_batches(split: FileSplit, params: IngestParams, batch_rows: int = 4096) -> Iterator[pa.RecordBatch]:
    """parse_split in Arrow batches of at most batch_rows rows."""
    rows: list[dict] = []
    for row in parse_split(split, params):
        rows.append(row)
        if len(rows) >= batch_rows:
            yield rows_to_record_batch(rows)
            rows = []
    if rows:
        yield rows_to_record_batch(rows)
