import json
import os

import pytest

from ingest_helpers import OK, jsonl_bytes, parse_source, reasons_of, write
from postmix.errors import InputError
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.splits import detect_file_format, expand_source, plan_splits

CHAT = jsonl_bytes([{"messages": OK}] * 3)


def test_directory_is_walked_recursively_skipping_markers_and_non_data(tmp_path):
    write(tmp_path / "a.jsonl", CHAT)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "b.json.gz", b"[]", gz=True)
    write(tmp_path / "_SUCCESS", b"")
    write(tmp_path / ".a.jsonl.crc", b"xx")
    write(tmp_path / "README.md", b"# hi")
    found = expand_source(SourceSpec("s", str(tmp_path)))
    assert found == [str(tmp_path / "a.jsonl"), str(tmp_path / "sub" / "b.json.gz")]


def test_globs(tmp_path):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    for path in ["d1/a.jsonl", "d1/b.jsonl", "d2/c.jsonl", "d2/c.txt"]:
        write(tmp_path / path, CHAT)
    assert len(expand_source(SourceSpec("s", f"{tmp_path}/*/*.jsonl"))) == 3
    assert len(expand_source(SourceSpec("s", f"{tmp_path}/**/c.*"))) == 2
    assert expand_source(SourceSpec("s", f"{tmp_path}/d1/[a]*.jsonl")) == [str(tmp_path / "d1" / "a.jsonl")]


@pytest.mark.parametrize("path,match", [
    ("missing.jsonl", "does not exist"),
    ("nodir/*.jsonl", "matches nothing"),
    ("*.parquet", "matches no file"),
    ("empty_dir", "holds no data files"),
])
def test_paths_that_name_nothing_are_input_errors(tmp_path, path, match):
    (tmp_path / "empty_dir").mkdir()
    write(tmp_path / "empty_dir" / "notes.txt", b"x")
    with pytest.raises(InputError, match=match) as err:
        expand_source(SourceSpec("mysrc", str(tmp_path / path)))
    assert "mysrc" in str(err.value)


def test_unknown_format_names_file_and_fields(tmp_path):
    path = write(tmp_path / "x.jsonl", jsonl_bytes([{"text": "a", "label": 1}] * 3))
    with pytest.raises(InputError, match=r"unknown format.*'label', 'text'") as err:
        detect_file_format(str(path), IngestParams())
    assert str(path) in str(err.value)


def test_ambiguous_format_names_file_fields_and_formats(tmp_path):
    path = write(tmp_path / "x.jsonl", jsonl_bytes([{"messages": OK, "conversations": []}]))
    with pytest.raises(InputError, match="ambiguous.*chat and sharegpt") as caught:
        detect_file_format(str(path), IngestParams())
    message = str(caught.value)
    assert str(path) in message
    assert "'conversations'" in message and "'messages'" in message


def test_declared_format_wins_over_detection(tmp_path):
    path = write(tmp_path / "x.jsonl", jsonl_bytes([{"messages": OK, "conversations": []}]))
    assert detect_file_format(str(path), IngestParams(), "chat") == ("jsonl", "chat")
    with pytest.raises(InputError, match="unknown format 'nope'"):
        detect_file_format(str(path), IngestParams(), "nope")


def test_file_mixing_formats_keeps_the_majority_and_rejects_the_rest(tmp_path):
    records = [{"messages": OK}] * 3 + [{"prompt": "q", "response": "a"}]
    rows = parse_source(write(tmp_path / "x.jsonl", jsonl_bytes(records)))
    assert reasons_of(rows) == ["format_mismatch"] and "they fit pairs" in rows[-1]["detail"]


def test_file_with_no_parseable_rows_is_all_rejects_not_a_crash(tmp_path):
    rows = parse_source(write(tmp_path / "x.jsonl", b"{bad\n\x00\x01\nnot json\n"))
    assert reasons_of(rows) == ["malformed_json", "malformed_json", "malformed_json"]


def test_utf16_file_is_rejected_row_by_row(tmp_path):
    data = "\ufeff".encode("utf-16-le") + jsonl_bytes([{"messages": OK}]).decode().encode("utf-16-le")
    rows = parse_source(write(tmp_path / "x.jsonl", data))
    assert rows and all(r["kind"] == "reject" for r in rows)


def test_empty_files_are_file_level_rejects(tmp_path):
    for name, data in [("a.jsonl", b""), ("b.json", b" [ ] "), ("c.jsonl.gz", b"")]:
        write(tmp_path / name, data, gz=name.endswith(".gz"))
    rows = parse_source(tmp_path)
    assert reasons_of(rows) == ["empty_file"] * 3
    assert [r["location"] for r in rows] == [str(tmp_path / n) for n in ("a.jsonl", "b.json", "c.jsonl.gz")]


def test_unreadable_file_is_a_file_level_reject(tmp_path):
    path = write(tmp_path / "x.jsonl", CHAT)
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: use a corrupt Parquet file instead
            path = write(tmp_path / "y.parquet", b"PAR1garbagePAR1")
        rows = parse_source(path)
    finally:
        os.chmod(tmp_path / "x.jsonl", 0o644)
    assert reasons_of(rows) == ["unreadable_file"] and rows[0]["location"] == str(path)


def test_duplicate_source_names_are_an_error(tmp_path):
    path = str(write(tmp_path / "x.jsonl", CHAT))
    with pytest.raises(InputError, match="unique"):
        plan_splits([SourceSpec("a", path), SourceSpec("a", path)], IngestParams())


def test_delta_table_is_detected_from_its_log(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path / "tbl"), pa.table({"prompt": ["q"], "response": ["a"], "score": [1.0]}))
    (split,) = plan_splits([SourceSpec("d", str(tmp_path / "tbl"))], IngestParams())
    assert (split.container, split.format, split.path) == ("delta", "pairs", str(tmp_path / "tbl"))
