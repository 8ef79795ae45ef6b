"""Small helpers for the ingest tests: write files, parse whole sources."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.parse import parse_split
from postmix.ingest.splits import plan_splits

OK = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"}]


def jsonl_bytes(records) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def parse_source(path, params: IngestParams | None = None, fmt: str | None = None, name: str = "src") -> list[dict]:
    params = params or IngestParams()
    rows = []
    for split in plan_splits([SourceSpec(name, str(path), fmt)], params):
        rows.extend(parse_split(split, params))
    return rows


def reasons_of(rows) -> list:
    return [r["reason"] for r in rows if r["kind"] == "reject"]
