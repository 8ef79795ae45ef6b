import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest_helpers import OK, jsonl_bytes, parse_source, reasons_of, write
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.parse import PARSED_SCHEMA, parse_split, parse_split_batches, rows_to_record_batch
from postmix.ingest.splits import FileSplit, detect_file_format, plan_splits

RECORDS = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"question {i}"},
                                         {"role": "assistant", "content": f"answer {i}"}]} for i in range(40)]


def contents(rows):
    return [r["messages"][0]["content"] for r in rows if r["kind"] == "sample"]


def test_plain_and_gzip_jsonl_give_the_same_rows_and_gzip_is_found_by_magic(tmp_path):
    plain = write(tmp_path / "a.jsonl", jsonl_bytes(RECORDS))
    packed = write(tmp_path / "b.data", jsonl_bytes(RECORDS), gz=True)  # no .gz extension on purpose
    assert detect_file_format(str(packed), IngestParams()) == ("jsonl_gz", "chat")
    assert contents(parse_source(plain)) == contents(parse_source(packed)) == [f"question {i}" for i in range(40)]


def test_bom_crlf_and_blank_lines(tmp_path):
    data = b"\xef\xbb\xbf" + jsonl_bytes(RECORDS[:3]).replace(b"\n", b"\r\n\r\n")
    rows = parse_source(write(tmp_path / "a.jsonl", data))
    assert [r["kind"] for r in rows] == ["sample"] * 3
    assert [r["location"].rsplit(":", 1)[1] for r in rows] == ["1", "3", "5"]


def test_invalid_utf8_line_rejects_only_that_line(tmp_path):
    lines = jsonl_bytes(RECORDS[:2]) + b'{"messages": "\xff\xfe"}\n' + jsonl_bytes(RECORDS[2:4])
    rows = parse_source(write(tmp_path / "a.jsonl", lines))
    assert [r["kind"] for r in rows] == ["sample", "sample", "reject", "sample", "sample"]
    assert "\ufffd" in rows[2]["raw"]


def test_truncated_gzip_keeps_good_lines_and_says_where_it_broke(tmp_path):
    data = gzip.compress(jsonl_bytes(RECORDS), mtime=0)
    rows = parse_source(write(tmp_path / "a.jsonl.gz", data[: len(data) // 2]))
    samples = [r for r in rows if r["kind"] == "sample"]
    assert 0 < len(samples) < 40 and reasons_of(rows) == ["truncated_file"]
    assert rows[-1]["location"].endswith(f":{len(samples) + 1}") or "lines were read" in rows[-1]["detail"]


def test_concatenated_gzip_members(tmp_path):
    data = gzip.compress(jsonl_bytes(RECORDS[:5]), mtime=0) + gzip.compress(jsonl_bytes(RECORDS[5:9]), mtime=0)
    assert len(contents(parse_source(write(tmp_path / "a.gz", data)))) == 9


def test_large_jsonl_split_on_line_boundaries_gives_the_same_rows(tmp_path):
    path = write(tmp_path / "a.jsonl", jsonl_bytes(RECORDS))
    params = IngestParams(split_bytes=300)
    splits = plan_splits([SourceSpec("s", str(path))], params)
    assert len(splits) > 5
    assert all(a.end == b.start for a, b in zip(splits, splits[1:]))
    rows = [r for s in splits for r in parse_split(s, params)]
    assert contents(rows) == contents(parse_source(path))
    assert [r["location"] for r in rows] == [f"{path}:{i}" for i in range(1, 41)]


def test_json_array_pretty_printed_with_bad_elements(tmp_path):
    items = RECORDS[:3] + ["a string", {"messages": [{"role": "user", "content": "BAD"}]},
                           {"messages": [{"role": "user", "content": "\ud800"}, OK[1]]}] + RECORDS[3:5]
    data = json.dumps(items, indent=2).encode().replace(b"BAD", b"caf\xe9")  # raw invalid byte / escaped surrogate
    rows = parse_source(write(tmp_path / "a.json", data))
    assert [r["kind"] for r in rows] == ["sample"] * 3 + ["reject"] * 3 + ["sample"] * 2
    assert reasons_of(rows) == ["not_an_object", "invalid_utf8", "invalid_utf8"]
    assert rows[3]["location"].endswith("a.json[3]")


def test_json_array_gzip_and_truncated(tmp_path):
    text = json.dumps(RECORDS[:6]).encode()
    assert len(contents(parse_source(write(tmp_path / "a.json.gz", text, gz=True)))) == 6
    rows = parse_source(write(tmp_path / "b.json", text[:-40]))
    assert reasons_of(rows) == ["truncated_file"] and len(contents(rows)) == 5


def test_json_array_syntax_error_stops_with_one_reject(tmp_path):
    text = json.dumps(RECORDS[:4]).replace("]}, {", "]} {", 1).encode()
    rows = parse_source(write(tmp_path / "a.json", text))
    assert reasons_of(rows) == ["malformed_json"] and "parsing stopped" in rows[-1]["detail"]


def test_parquet_row_groups_missing_and_extra_columns(tmp_path):
    table = pa.table({"instruction": [f"q{i}" for i in range(10)], "output": [f"a{i}" for i in range(10)],
                      "extra": list(range(10))})  # no `input`, no `history`: optional
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=4)
    splits = plan_splits([SourceSpec("s", str(tmp_path / "a.parquet"))], IngestParams())
    assert [(s.container, s.format, s.row_group) for s in splits] == [("parquet", "alpaca", g) for g in range(3)]
    rows = [r for s in splits for r in parse_split(s, IngestParams())]
    assert [r["location"].rsplit("#", 1)[1] for r in rows][:5] == ["0:0", "0:1", "0:2", "0:3", "1:0"]
    assert json.loads(rows[9]["meta"]) == {"extra": 9}


def test_parquet_nested_messages_column(tmp_path):
    table = pa.table({"messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]],
                      "id": ["m1"]})
    pq.write_table(table, tmp_path / "a.parquet")
    (row,) = parse_source(tmp_path / "a.parquet")
    assert row["kind"] == "sample" and row["source_id"] == "m1" and row["format"] == "chat"


def test_rows_become_an_arrow_batch_and_splits_round_trip(tmp_path):
    path = write(tmp_path / "a.jsonl", jsonl_bytes(RECORDS[:3] + [{"messages": []}]))
    split, = plan_splits([SourceSpec("s", str(path))], IngestParams())
    assert FileSplit.from_row(split.to_row()) == split
    batch = rows_to_record_batch(list(parse_split(split, IngestParams())))
    assert batch.schema == PARSED_SCHEMA and batch.num_rows == 4
    for row in batch.to_pylist():
        assert set(row) == set(PARSED_SCHEMA.names)


def test_sample_row_fields(tmp_path):
    record = {"id": "x", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "ab"},
                                      {"role": "assistant", "content": "cde"}, {"role": "user", "content": "f"},
                                      {"role": "assistant", "content": "gh"}], "meta": {"k": 1}}
    (row,) = parse_source(write(tmp_path / "a.jsonl", jsonl_bytes([record])))
    assert (row["n_turns"], row["n_chars_user"], row["n_chars_assistant"], row["has_system"]) == (2, 3, 5, True)
    assert row["meta"] == '{"k": 1}' and row["reason"] is None and len(row["sample_id"]) == 32


def test_delta_rows_through_parse_records():
    import numpy as np

    from postmix.ingest.parse import parse_records
    rows = [{"instruction": "q", "context": None, "response": "a", "category": "open_qa"},
            {"instruction": "q", "context": "", "response": np.int64(5), "category": "open_qa"}]
    parsed = list(parse_records(rows, "d", "dolly", "tbl@v1/part-0:", IngestParams()))
    assert [r["kind"] for r in parsed] == ["sample", "reject"]
    assert [r["location"] for r in parsed] == ["tbl@v1/part-0:0", "tbl@v1/part-0:1"]
    assert parsed[1]["reason"] == "wrong_type"


def test_parse_split_batches_caps_batch_size(tmp_path):
    path = write(tmp_path / "a.jsonl", jsonl_bytes(RECORDS))
    (split,) = plan_splits([SourceSpec("s", str(path))], IngestParams())
    batches = list(parse_split_batches(split, IngestParams(), batch_rows=16))
    assert [b.num_rows for b in batches] == [16, 16, 8]
