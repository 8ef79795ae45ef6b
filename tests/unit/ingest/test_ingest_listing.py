"""Listing a source never follows a symlink loop, reads every real file once, and turns links that lead nowhere
and non-regular files into rejects without opening them (issue 15)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from ingest_helpers import OK, jsonl_bytes, parse_source, write
from postmix.errors import InputError
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.splits import expand_source

LIMIT_S = 20  # listing a handful of files: far more than its work


def within(seconds: float, work):
    """work() in a daemon thread; a test failure (not a hang) when it is not done in time."""
    result: dict = {}

    def target():
        try:
            result["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


def looped_folder(root: Path) -> Path:
    """good.jsonl (3 rows), two loops (`loop -> .`, `sub/up -> ..`) and a second link to the file."""
    root.mkdir()
    write(root / "good.jsonl", jsonl_bytes([{"id": f"g{i}", "messages": OK[:1] + [
        {"role": "assistant", "content": f"answer {i}"}]} for i in range(3)]))
    (root / "sub").mkdir()
    (root / "loop").symlink_to(".")
    (root / "sub" / "up").symlink_to("..")
    (root / "alias.jsonl").symlink_to("good.jsonl")
    return root


def test_symlink_loops_are_listed_once_and_each_file_read_once(tmp_path):
    root = looped_folder(tmp_path / "data")
    assert within(LIMIT_S, lambda: expand_source(SourceSpec("s", str(root)))) == [str(root / "good.jsonl")]
    rows = within(LIMIT_S, lambda: parse_source(root))
    assert [r["kind"] for r in rows] == ["sample"] * 3


@pytest.mark.parametrize("pattern", ["**/*.jsonl", "[abc.jsonl", "*/*.jsonl", "**/"])
def test_a_glob_over_a_folder_with_loops_ends(tmp_path, pattern):
    root = looped_folder(tmp_path / "data")
    try:
        found = within(LIMIT_S, lambda: expand_source(SourceSpec("s", f"{root}/{pattern}")))
    except InputError as err:
        assert "matches no file" in str(err)
        return
    assert len(found) == len(set(found)) and all("loop" not in p and "/up" not in p for p in found)


def test_a_fifo_and_a_dangling_link_are_rejects_never_opened(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    write(root / "good.jsonl", jsonl_bytes([{"messages": OK}]))
    os.mkfifo(root / "pipe.jsonl")
    (root / "gone.jsonl").symlink_to(root / "missing.jsonl")
    (root / "self.jsonl").symlink_to(root / "self.jsonl")
    rows = within(LIMIT_S, lambda: parse_source(root))
    rejects = {Path(r["location"]).name: (r["reason"], r["detail"]) for r in rows if r["kind"] == "reject"}
    assert rejects["pipe.jsonl"][0] == "not_a_regular_file" and "FIFO" in rejects["pipe.jsonl"][1]
    assert rejects["gone.jsonl"][0] == "broken_link" and "missing.jsonl" in rejects["gone.jsonl"][1]
    assert rejects["self.jsonl"][0] == "broken_link"
    assert sum(r["kind"] == "sample" for r in rows) == 1


def test_a_fifo_named_as_the_source_is_a_reject(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    rows = within(LIMIT_S, lambda: parse_source(tmp_path / "pipe.jsonl"))
    assert [r["reason"] for r in rows] == ["not_a_regular_file"]


def test_a_file_named_like_a_glob_is_that_file(tmp_path):
    path = write(tmp_path / "[abc.jsonl", jsonl_bytes([{"messages": OK}]))
    assert expand_source(SourceSpec("s", str(path))) == [str(path)]


def test_a_huge_first_line_does_not_hide_the_records_after_it(tmp_path):
    """A first line longer than detect_sample_bytes: it is record_too_large, the next line is still detected."""
    params = IngestParams(max_record_bytes=1000, detect_sample_bytes=4000)
    huge = json.dumps({"messages": [{"role": "user", "content": "z" * 10_000}]}).encode()
    path = write(tmp_path / "x.jsonl", jsonl_bytes([huge, {"messages": OK}]))
    rows = parse_source(path, params)
    assert [(r["kind"], r["reason"]) for r in rows] == [("reject", "record_too_large"), ("sample", None)]


def test_nan_and_infinity_ids_are_no_ids_and_nan_content_is_a_wrong_type(tmp_path):
    reply = '{"role": "assistant", "content": "a"}'
    lines = [f'{{"id": NaN, "messages": [{{"role": "user", "content": "q1"}}, {reply}]}}',
             f'{{"id": Infinity, "messages": [{{"role": "user", "content": "q2"}}, {reply}]}}',
             f'{{"id": "x", "messages": [{{"role": "user", "content": NaN}}, {reply}]}}']
    rows = parse_source(write(tmp_path / "nan.jsonl", "\n".join(lines).encode() + b"\n"))
    assert [r["source_id"] for r in rows[:2]] == [r["location"] for r in rows[:2]]
    assert "None" not in [r["source_id"] for r in rows]
    assert rows[2]["reason"] == "wrong_type" and "NaN" in rows[2]["detail"]


def test_a_reject_detail_is_capped(tmp_path):
    record = {"messages": [{"role": "r" * 1_000_000, "content": "q"}, {"role": "assistant", "content": "a"}]}
    rows = parse_source(write(tmp_path / "x.jsonl", jsonl_bytes([{"messages": OK}, record])))
    [reject] = [r for r in rows if r["kind"] == "reject"]
    assert reject["reason"] == "unknown_role" and len(reject["detail"]) <= 500  # docs/FORMATS.md
