"""Every reason code in the registry has a case here that produces it: a new code without a case fails."""

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest_helpers import OK, jsonl_bytes, parse_source, reasons_of, write
from postmix.ingest.params import IngestParams
from postmix.ingest.reasons import REASONS, RowRejected

SMALL = IngestParams(max_field_chars=50, max_record_bytes=20_000, max_messages=4, json_array_max_bytes=300)
REPO = Path(__file__).resolve().parents[3]


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def dangling(path: Path) -> Path:
    path.symlink_to(path.parent / "nowhere.jsonl")
    return path


def chat_file(tmp_path: Path, *records) -> Path:
    """A chat JSONL file with good rows around the bad ones (so detection sees the format)."""
    good = [{"id": f"g{i}", "messages": OK} for i in range(3)]
    return write(tmp_path / "x.jsonl", jsonl_bytes(good + list(records)))


def msgs(*pairs):
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


CASES = {
    "invalid_utf8": lambda t: chat_file(t, b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'),
    "malformed_json": lambda t: chat_file(t, b'{"messages": [}'),
    "nesting_too_deep": lambda t: chat_file(t, b'{"messages": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"),
    "not_an_object": lambda t: chat_file(t, b'[1, 2, 3]'),
    "record_too_large": lambda t: chat_file(t, msgs(("user", "x" * 30_000), ("assistant", "a"))),
    "truncated_file": lambda t: write(t / "x.jsonl.gz", gzip.compress(jsonl_bytes([{"messages": OK}] * 50))[:-30]),
    "empty_file": lambda t: write(t / "x.jsonl", b"\n  \n"),
    "unreadable_file": lambda t: write(t / "x.parquet", b"PAR1 this is not really parquet PAR1"),
    "file_too_large": lambda t: write(t / "x.json", json.dumps([{"messages": OK}] * 10).encode()),
    "format_mismatch": lambda t: chat_file(t, {"prompt": "q", "response": "a"}),
    "missing_field": lambda t: chat_file(t, {"messages": None}),
    "wrong_type": lambda t: chat_file(t, msgs(("user", 5), ("assistant", "a"))),
    "unknown_role": lambda t: chat_file(t, msgs(("narrator", "q"), ("assistant", "a"))),
    "empty_conversation": lambda t: chat_file(t, {"messages": []}),
    "empty_turn": lambda t: chat_file(t, msgs(("user", " \n\t"), ("assistant", "a"))),
    "no_assistant_answer": lambda t: chat_file(t, msgs(("user", "q"), ("assistant", "a"), ("user", "q2"))),
    "turn_order": lambda t: chat_file(t, msgs(("user", "q"), ("user", "q2"), ("assistant", "a"))),
    "control_characters": lambda t: chat_file(t, msgs(("user", "nul\x00here"), ("assistant", "a"))),
    "field_too_large": lambda t: chat_file(t, msgs(("user", "x" * 51), ("assistant", "a"))),
    "too_many_messages": lambda t: chat_file(t, msgs(*[("user", "q"), ("assistant", "a")] * 3)),
    "not_a_regular_file": lambda t: fifo(t / "pipe.jsonl"),
    "broken_link": lambda t: dangling(t / "link.jsonl"),
}


def test_every_reason_has_a_case():
    assert set(CASES) == set(REASONS)


@pytest.mark.parametrize("code", sorted(REASONS))
def test_reason_is_produced(code, tmp_path):
    rows = parse_source(CASES[code](tmp_path), SMALL)
    rejects = [r for r in rows if r["kind"] == "reject"]
    assert [r["reason"] for r in rejects] == [code], rejects
    reject = rejects[0]
    assert reject["detail"] and reject["location"].startswith(str(tmp_path))
    assert reject["source"] == "src" and reject["source_id"]
    if reject["raw"] is not None:
        assert len(reject["raw"]) <= SMALL.raw_excerpt_chars
        reject["raw"].encode("utf-8")  # always valid UTF-8


def test_every_reason_is_in_the_docs_table():
    docs = (REPO / "docs" / "FORMATS.md").read_text()
    for code in REASONS:
        assert f"| `{code}` |" in docs, code


def test_unregistered_reason_cannot_be_raised():
    with pytest.raises(ValueError):
        RowRejected("made_up", "x")


def test_reject_keeps_the_record_id_and_a_raw_copy(tmp_path):
    rows = parse_source(chat_file(tmp_path, {"id": "bad-1", "messages": []}), SMALL)
    reject = next(r for r in rows if r["kind"] == "reject")
    assert reject["source_id"] == "bad-1"
    assert reject["location"].endswith("x.jsonl:4")
    assert json.loads(reject["raw"]) == {"id": "bad-1", "messages": []}


def test_parquet_rows_with_invalid_utf8_are_rejected_one_by_one(tmp_path):
    binary = pa.table({"prompt": pa.array([b"fine", b"caf\xe9", b"ok"], pa.binary()), "response": ["a", "b", "c"]})
    pq.write_table(binary, tmp_path / "b.parquet")
    rows = parse_source(tmp_path / "b.parquet", SMALL)
    assert [r["kind"] for r in rows] == ["sample", "reject", "sample"]
    assert reasons_of(rows) == ["invalid_utf8"]
