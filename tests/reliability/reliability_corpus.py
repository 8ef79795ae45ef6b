"""The bad-input corpus: every defect is generated here (nothing checked in), with the outcome it must end in.

A RowDefect is a file (or a few) that ingest must turn into reject rows with a reason, plus the samples its good
rows must still give; all row defects are ingested together in ONE run, each as its own source named by the
defect id. A PathDefect is a command line that must stop with one clear `postmix: error:` line (exit 2) before
anything is written. Builders take the folder to write into and return the source path (+ optional format).
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from postmix.ingest.params import IngestParams

MIB = 1024 * 1024
# The corpus run's ingest parameters: the defaults, except small enough split and JSON-array caps that the
# corpus exercises them with files of a few MB.
CORPUS_PARAMS = {"split_bytes": 4 * MIB, "json_array_max_bytes": 1 * MIB}
DEFAULTS = IngestParams(**CORPUS_PARAMS)
# Size of the file that holds most rows of the run (the bound on one dominant source); override to measure more.
BIG_SOURCE_MB = int(os.environ.get("POSTMIX_RELIABILITY_BIG_MB", "12"))
# Marker files a payload would create if anything executed it; tests assert they never appear.
MARKER_NAME = "EXECUTED"
# A fixed path for the pickle payload, so the pickle's bytes (and so its reject) do not depend on tmp paths.
PICKLE_MARKER = Path("/tmp/postmix-reliability-pickle-EXECUTED")


def turns(tag: str, *pairs: tuple[str, str]) -> list[dict]:
    return [{"role": r, "content": c} for r, c in pairs] or [{"role": "user", "content": f"Question {tag}?"},
                                                            {"role": "assistant", "content": f"Answer {tag}."}]


def good_chat(tag: str) -> dict:
    """A valid chat record whose content is unique to the defect (so it never deduplicates across sources)."""
    return {"id": f"{tag}-good", "messages": turns(tag)}


def chat(tag: str, *pairs: tuple[str, str], **extra) -> dict:
    return {"id": f"{tag}-bad", "messages": turns(tag, *pairs), **extra}


def jsonl_text(records: list) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_bytes(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def write_jsonl(folder: Path, name: str, records: list) -> str:
    return write_bytes(folder, name, jsonl_text(records).encode("utf-8"))


def write_parquet(folder: Path, name: str, table: pa.Table) -> str:
    path = folder / name
    pq.write_table(table, path)
    return str(path)


@dataclass(frozen=True)
class RowDefect:
    """A defect that must end in reject rows: `rejects` maps reason -> count; `samples` good rows still accepted."""

    id: str
    description: str
    build: Callable[[Path], str]  # writes the file(s), returns the source path; `format` declared if set
    rejects: dict[str, int]
    samples: int = 0
    format: Optional[str] = None
    detail: str = ""  # a fragment the reject detail must contain (empty: not checked)

    @property
    def expected(self) -> str:
        parts = [f"{n}x {reason}" for reason, n in sorted(self.rejects.items())]
        if self.samples < 0:
            parts.append("rows before the break kept")
        elif self.samples:
            parts.append(f"{self.samples} sample(s) kept")
        return ", ".join(parts) or "accepted"


@dataclass(frozen=True)
class PathDefect:
    """A defect that must stop the command: `error` is the message fragment of the one `postmix: error:` line."""

    id: str
    description: str
    argv: Callable[[Path], list[str]]  # the postmix arguments (without --warehouse)
    error: str
    error_class: str = field(default="InputError")


# ---------------------------------------------------------------- row-level builders

def truncated_gzip(folder: Path) -> str:
    data = gzip.compress(jsonl_text([good_chat(f"tgz{i}") for i in range(200)]).encode("utf-8"))
    return write_bytes(folder, "truncated.jsonl.gz", data[: len(data) // 2])


def corrupt_gzip(folder: Path) -> str:
    data = bytearray(gzip.compress(jsonl_text([good_chat(f"cgz{i}") for i in range(50)]).encode("utf-8")))
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64
    return write_bytes(folder, "corrupt.jsonl.gz", bytes(data))


def invalid_utf8(folder: Path) -> str:
    bad = b'{"messages": [{"role": "user", "content": "caf\xff\xfe"}, {"role": "assistant", "content": "x"}]}\n'
    return write_bytes(folder, "invalid_utf8.jsonl", jsonl_text([good_chat("iu8")]).encode() + bad)


def mixed_encodings(folder: Path) -> str:
    latin1 = json.dumps(chat("mixenc", ("user", "Où est la gare ?"), ("assistant", "À gauche.")),
                        ensure_ascii=False).encode("latin-1") + b"\n"
    return write_bytes(folder, "mixed_encodings.jsonl", jsonl_text([good_chat("mixenc")]).encode() + latin1)


def utf16_file(folder: Path) -> str:
    text = jsonl_text([good_chat("u16")])
    return write_bytes(folder, "utf16.jsonl", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))


def lone_surrogate(folder: Path) -> str:
    line = '{"id": "ls", "messages": [{"role": "user", "content": "a \\ud800 b"}, {"role": "assistant", "content": "x"}]}\n'
    return write_bytes(folder, "lone_surrogate.jsonl", jsonl_text([good_chat("lsur")]).encode() + line.encode())


def nul_escape(folder: Path) -> str:
    return write_jsonl(folder, "nul_escape.jsonl", [good_chat("nule"), chat("nule", ("user", "a\u0000b"),
                                                                            ("assistant", "x"))])


def nul_raw_byte(folder: Path) -> str:
    line = b'{"messages": [{"role": "user", "content": "a\x00b"}, {"role": "assistant", "content": "x"}]}\n'
    return write_bytes(folder, "nul_raw.jsonl", line)


def field_10mb(folder: Path) -> str:
    return write_jsonl(folder, "field_10mb.jsonl", [chat("f10", ("user", "q"), ("assistant", "x" * (10 * MIB)))])


def field_over_max_chars(folder: Path) -> str:
    size = DEFAULTS.max_field_chars + 1
    return write_jsonl(folder, "field_300k.jsonl", [good_chat("fmc"), chat("fmc", ("user", "y" * size),
                                                                           ("assistant", "x"))])


def record_50mb_line(folder: Path) -> str:
    """50 MB on one line (no newline at all): the line splitter must keep only max_record_bytes of it."""
    path = folder / "record_50mb.jsonl"
    with open(path, "wb") as out:
        out.write(b'{"messages": [{"role": "user", "content": "')
        block = b"z" * MIB
        for _ in range(50):
            out.write(block)
        out.write(b'"}, {"role": "assistant", "content": "x"}]}')
    return str(path)


def nested_100k(folder: Path) -> str:
    deep = "[" * 100_000 + "]" * 100_000
    return write_bytes(folder, "nested_100k.jsonl", ('{"messages": %s}\n' % deep).encode())


def nested_within_decoder(folder: Path) -> str:
    """980 levels: the JSON decoder accepts it, converting the meta value must not crash the executor."""
    deep = "1"
    for _ in range(980):
        deep = "[" + deep + "]"
    record = json.dumps(good_chat("nwd"))[:-1] + ', "deep": ' + deep + "}\n"
    return write_bytes(folder, "nested_980.jsonl", jsonl_text([good_chat("nwd2")]).encode() + record.encode())


def huge_integer(folder: Path) -> str:
    line = '{"id": 1' + "0" * 5000 + ', "messages": []}\n'
    return write_bytes(folder, "huge_int.jsonl", jsonl_text([good_chat("hint")]).encode() + line.encode())


def nan_values(folder: Path) -> str:
    line = json.dumps(good_chat("nan"))[:-1] + ', "score": NaN, "weight": Infinity}\n'
    return write_bytes(folder, "nan.jsonl", line.encode())


def not_an_object(folder: Path) -> str:
    return write_bytes(folder, "not_object.jsonl", jsonl_text([good_chat("nao")]).encode() + b'[1, 2]\n"a string"\n')


def array_first_line(folder: Path) -> str:
    """A JSONL file whose first line is an array: read as one JSON array document, the lines after it are data."""
    return write_bytes(folder, "array_first.jsonl", b'[1, 2]\n' + jsonl_text([good_chat("afl")]).encode())


def malformed_line(folder: Path) -> str:
    return write_bytes(folder, "malformed.jsonl", jsonl_text([good_chat("mal")]).encode() + b'{"messages": [\n')


def wrong_type_messages(folder: Path) -> str:
    return write_jsonl(folder, "wt_messages.jsonl", [good_chat("wtm"), {"messages": "hello"}])


def wrong_type_content(folder: Path) -> str:
    return write_jsonl(folder, "wt_content.jsonl", [good_chat("wtc"), {"messages": [
        {"role": "user", "content": 42}, {"role": "assistant", "content": "x"}]}])


def wrong_type_role(folder: Path) -> str:
    return write_jsonl(folder, "wt_role.jsonl", [good_chat("wtr"), {"messages": [
        {"role": 1, "content": "q"}, {"role": "assistant", "content": "x"}]}])


def wrong_type_alpaca(folder: Path) -> str:
    return write_jsonl(folder, "wt_alpaca.jsonl", [
        {"instruction": "Say hi (wta)", "input": "", "output": "hi"},
        {"instruction": ["not", "text"], "input": "", "output": "x"},
        {"instruction": "Go on", "input": "", "output": "x", "history": [["only one"]]},
    ])


def wrong_type_sharegpt(folder: Path) -> str:
    return write_jsonl(folder, "wt_sharegpt.jsonl", [
        {"conversations": [{"from": "human", "value": "hi (wts)"}, {"from": "gpt", "value": "hello"}]},
        {"conversations": ["human: hi", "gpt: hello"]},
    ])


def missing_field_dolly(folder: Path) -> str:
    return write_jsonl(folder, "missing_dolly.jsonl", [
        {"instruction": "Name a river (mfd)", "context": "", "response": "Nile"},
        {"instruction": "Name a lake", "context": "", "response": None},
    ])


def unknown_role(folder: Path) -> str:
    return write_jsonl(folder, "unknown_role.jsonl", [good_chat("ur"), chat("ur", ("wizard", "q"), ("assistant", "a"))])


def two_users(folder: Path) -> str:
    return write_jsonl(folder, "two_users.jsonl", [good_chat("tu"), chat("tu", ("user", "a"), ("user", "b"),
                                                                        ("assistant", "c"))])


def assistant_first(folder: Path) -> str:
    return write_jsonl(folder, "assistant_first.jsonl", [good_chat("af"), chat("af", ("assistant", "a"),
                                                                              ("user", "b"), ("assistant", "c"))])


def system_late(folder: Path) -> str:
    return write_jsonl(folder, "system_late.jsonl", [good_chat("sl"), chat("sl", ("user", "a"), ("system", "b"),
                                                                          ("assistant", "c"))])


def trailing_user(folder: Path) -> str:
    return write_jsonl(folder, "trailing_user.jsonl", [good_chat("tru"), chat("tru", ("user", "a"),
                                                                             ("assistant", "b"), ("user", "c"))])


def empty_messages(folder: Path) -> str:
    return write_jsonl(folder, "empty_messages.jsonl", [good_chat("em"), {"id": "em-bad", "messages": []}])


def whitespace_turn(folder: Path) -> str:
    return write_jsonl(folder, "whitespace_turn.jsonl", [good_chat("wst"), chat("wst", ("user", " \n\t "),
                                                                               ("assistant", "b"))])


def too_many_messages(folder: Path) -> str:
    many = [("user" if i % 2 == 0 else "assistant", f"turn {i}") for i in range(DEFAULTS.max_messages + 2)]
    return write_jsonl(folder, "too_many.jsonl", [good_chat("tmm"), chat("tmm", *many)])


def meta_too_large(folder: Path) -> str:
    return write_jsonl(folder, "meta_large.jsonl", [good_chat("mtl"), {
        **chat("mtl", ("user", "q"), ("assistant", "a")), "notes": "n" * (DEFAULTS.max_field_chars + 10)}])


def byte_order_mark(folder: Path) -> str:
    return write_bytes(folder, "bom.jsonl", codecs.BOM_UTF8 + jsonl_text([good_chat("bom1"), good_chat("bom2")]).encode())


def crlf_lines(folder: Path) -> str:
    text = jsonl_text([good_chat("crlf1"), good_chat("crlf2")]).replace("\n", "\r\n")
    return write_bytes(folder, "crlf.jsonl", text.encode())


def mixed_formats(folder: Path) -> str:
    return write_jsonl(folder, "mixed_formats.jsonl", [good_chat("mf1"), good_chat("mf2"), good_chat("mf3"),
                                                       {"instruction": "x", "output": "y"}])


def parquet_missing_column(folder: Path) -> str:
    table = pa.table({"instruction": ["Who wrote Hamlet? (pmc)"], "context": [""]})
    return write_parquet(folder, "missing_column.parquet", table)


def parquet_extra_columns(folder: Path) -> str:
    table = pa.table({"instruction": ["Capital of Peru? (pec)"], "context": [""], "response": ["Lima."],
                      "category": ["open_qa"], "score": [0.5], "tags": [["geo", "qa"]]})
    return write_parquet(folder, "extra_columns.parquet", table)


def parquet_wrong_type(folder: Path) -> str:
    table = pa.table({"instruction": ["One plus one? (pwt)", "Two plus two?"], "context": ["", ""],
                      "response": pa.array([2, 4], pa.int64())})
    return write_parquet(folder, "wrong_type.parquet", table)


def parquet_null_required(folder: Path) -> str:
    table = pa.table({"instruction": ["Largest ocean? (pnr)", None], "context": ["", ""],
                      "response": ["Pacific.", "x"]})
    return write_parquet(folder, "null_required.parquet", table)


def parquet_truncated(folder: Path) -> str:
    path = Path(write_parquet(folder, "truncated.parquet", pa.table({"messages": [json.dumps(turns("ptr"))] * 50})))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def parquet_zero_rows(folder: Path) -> str:
    return write_parquet(folder, "zero_rows.parquet", pa.table({"messages": pa.array([], pa.string())}))


def empty_file(folder: Path) -> str:
    return write_bytes(folder, "empty.jsonl", b"")


def whitespace_file(folder: Path) -> str:
    return write_bytes(folder, "blank.jsonl", b"\n\n   \r\n\t\n")


def empty_array(folder: Path) -> str:
    return write_bytes(folder, "empty_array.json", b"[ ]")


def truncated_array(folder: Path) -> str:
    """Two whole elements and a comma, then the file ends (no third element, no closing bracket)."""
    text = "[" + ", ".join(json.dumps(good_chat(f"tarr{i}")) for i in range(2)) + ", "
    return write_bytes(folder, "truncated_array.json", text.encode())


def array_bad_element(folder: Path) -> str:
    text = "[" + json.dumps(good_chat("abe")) + ', {"messages": [}, ' + json.dumps(good_chat("abe2")) + "]"
    return write_bytes(folder, "bad_element.json", text.encode())


def array_over_cap(folder: Path) -> str:
    records = [good_chat(f"aoc{i}-" + "p" * 1000) for i in range((DEFAULTS.json_array_max_bytes // 1000) + 50)]
    return write_bytes(folder, "big_array.json", json.dumps(records).encode())


def colon_in_name(folder: Path) -> str:
    """A real file named colon:name.jsonl: NAME=PATH must not read its tail as a format."""
    return write_jsonl(folder, "colon:name.jsonl", [good_chat("colon")])


def symlink_loop(folder: Path) -> str:
    """A folder holding a link to itself: the walk enters each real folder once, so it ends."""
    sub = folder / "looped"
    sub.mkdir()
    write_jsonl(sub, "good.jsonl", [good_chat("loop")])
    (sub / "loop").symlink_to(".")
    return str(sub)


def glob_over_symlink_loops(folder: Path) -> str:
    """A recursive glob whose base folder holds a self-loop and a link to its parent: the expansion ends and reads
    the one real file once (it used to hang)."""
    sub = folder / "globbed"
    (sub / "inner").mkdir(parents=True)
    write_jsonl(sub, "good.jsonl", [good_chat("globloop")])
    (sub / "loop").symlink_to(".")
    (sub / "inner" / "up").symlink_to("..")
    return f"{sub}/**/*.jsonl"


def fifo_and_dangling_links(folder: Path) -> str:
    """A FIFO (reading it would block forever), a link to a missing file and a link to itself, beside a good file."""
    sub = folder / "specials"
    sub.mkdir()
    write_jsonl(sub, "good.jsonl", [good_chat("fifo")])
    os.mkfifo(sub / "pipe.jsonl")
    (sub / "gone.jsonl").symlink_to(sub / "missing.jsonl")
    (sub / "self.jsonl").symlink_to(sub / "self.jsonl")
    return str(sub)


def huge_first_line(folder: Path) -> str:
    """A first line longer than detect_sample_bytes: format detection must still see the record after it."""
    huge = json.dumps(chat("hfl", ("user", "z" * (DEFAULTS.detect_sample_bytes + MIB)), ("assistant", "a")))
    return write_bytes(folder, "huge_first.jsonl", (huge + "\n").encode() + jsonl_text([good_chat("hfl")]).encode())


def nan_ids_and_content(folder: Path) -> str:
    reply = '{"role": "assistant", "content": "a"}'
    lines = [f'{{"id": NaN, "messages": [{{"role": "user", "content": "nanid1"}}, {reply}]}}',
             f'{{"id": Infinity, "messages": [{{"role": "user", "content": "nanid2"}}, {reply}]}}',
             f'{{"id": "x", "messages": [{{"role": "user", "content": NaN}}, {reply}]}}']
    return write_bytes(folder, "nan_ids.jsonl", ("\n".join(lines) + "\n").encode())


def long_reject_detail(folder: Path) -> str:
    return write_jsonl(folder, "long_detail.jsonl", [good_chat("lrd"), chat("lrd", ("r" * 100_000, "q"),
                                                                           ("assistant", "a"))])


def shell_metacharacters(folder: Path) -> str:
    marker = folder / MARKER_NAME
    nasty = f"$(touch {marker}) `touch {marker}`; rm -rf {folder} && echo pwned | sh; {{{{7*7}}}} %s"
    return write_jsonl(folder, "shell.jsonl", [chat("shell", ("user", nasty), ("assistant", nasty))])


class _Payload:
    """What a malicious pickle would run on load: create the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickle_payload(folder: Path) -> str:
    """A folder holding a real pickle exploit as .pkl (skipped: no data extension) and as .jsonl (read as text)."""
    sub = folder / "pickled"
    sub.mkdir()
    payload = pickle.dumps(_Payload(PICKLE_MARKER), protocol=4)
    assert b"\n" not in payload  # one line: one reject
    (sub / "model.pkl").write_bytes(payload)
    (sub / "rows.jsonl").write_bytes(payload)
    (sub / "ok.jsonl").write_text(jsonl_text([good_chat("pkl")]), encoding="utf-8")
    return str(sub)


def dominant_source(folder: Path) -> str:
    """The source holding most rows of the run: BIG_SOURCE_MB of valid chat lines, split by split_bytes."""
    path = folder / "dominant.jsonl"
    filler = "lorem ipsum dolor sit amet " * 30
    with open(path, "w", encoding="utf-8") as out:
        i, written = 0, 0
        while written < BIG_SOURCE_MB * MIB:
            line = json.dumps({"id": f"big{i}", "messages": turns(f"big{i}", ("user", f"Row {i}: {filler}"),
                                                                  ("assistant", f"Reply {i}: {filler}"))}) + "\n"
            out.write(line)
            written += len(line)
            i += 1
    return str(path)


def dominant_rows() -> int:
    """How many rows dominant_source writes (same arithmetic, no file)."""
    filler = "lorem ipsum dolor sit amet " * 30
    i, written = 0, 0
    while written < BIG_SOURCE_MB * MIB:
        written += len(json.dumps({"id": f"big{i}", "messages": turns(f"big{i}", ("user", f"Row {i}: {filler}"),
                                                                      ("assistant", f"Reply {i}: {filler}"))})) + 1
        i += 1
    return i


ROW_DEFECTS: list[RowDefect] = [
    RowDefect("truncated_gzip", "gzip JSONL cut in half", truncated_gzip, {"truncated_file": 1}, samples=-1,
              detail="end-of-stream"),
    RowDefect("corrupt_gzip", "gzip JSONL with 64 zeroed bytes in the middle, before its first output",
              corrupt_gzip, {"truncated_file": 1}, detail="corrupt gzip"),
    RowDefect("invalid_utf8", "a line holding bytes 0xff 0xfe", invalid_utf8, {"invalid_utf8": 1}, samples=1),
    RowDefect("mixed_encodings", "one UTF-8 line and one Latin-1 line in the same file", mixed_encodings,
              {"invalid_utf8": 1}, samples=1),
    RowDefect("utf16_file", "a whole file in UTF-16 LE with its BOM", utf16_file,
              {"invalid_utf8": 1, "malformed_json": 1}),
    RowDefect("lone_surrogate", "a \\ud800 escape (lone surrogate) in a message", lone_surrogate,
              {"invalid_utf8": 1}, samples=1),
    RowDefect("nul_escape", "a \\u0000 escape inside a message", nul_escape, {"control_characters": 1}, samples=1,
              detail="U+0000"),
    RowDefect("nul_raw_byte", "a raw NUL byte inside a JSON string", nul_raw_byte, {"control_characters": 1},
              format="chat"),
    RowDefect("field_10mb", "one message of 10 MB", field_10mb, {"record_too_large": 1}, format="chat",
              detail="max_record_bytes"),
    RowDefect("field_over_max_chars", "one message of max_field_chars + 1 chars (record under the byte cap)",
              field_over_max_chars, {"field_too_large": 1}, samples=1, detail="max_field_chars"),
    RowDefect("record_50mb_line", "a 50 MB record on one line without a newline", record_50mb_line,
              {"record_too_large": 1}, format="chat", detail="max_record_bytes"),
    RowDefect("nested_100k", "JSON nested 100,000 levels deep", nested_100k, {"nesting_too_deep": 1},
              format="chat"),
    RowDefect("nested_980", "JSON nested 980 levels (the decoder accepts it; converting it recursed)",
              nested_within_decoder, {"nesting_too_deep": 1}, samples=1),
    RowDefect("huge_integer", "an id that is a 5,000-digit integer (Python refuses to convert it)", huge_integer,
              {"malformed_json": 1}, samples=1, detail="4300 digits"),
    RowDefect("nan_infinity", "NaN and Infinity literals in extra fields", nan_values, {}, samples=1),
    RowDefect("not_an_object", "lines holding a JSON array and a JSON string", not_an_object,
              {"not_an_object": 2}, samples=1),
    RowDefect("array_first_line", "a JSONL file whose first line is a JSON array", array_first_line,
              {"not_an_object": 2, "malformed_json": 1}, detail="", samples=0),
    RowDefect("malformed_json", "an unterminated JSON line", malformed_line, {"malformed_json": 1}, samples=1),
    RowDefect("wrong_type_messages", "messages is a string", wrong_type_messages, {"wrong_type": 1}, samples=1),
    RowDefect("wrong_type_content", "a message content is a number", wrong_type_content, {"wrong_type": 1},
              samples=1),
    RowDefect("wrong_type_role", "a message role is a number", wrong_type_role, {"wrong_type": 1}, samples=1),
    RowDefect("wrong_type_alpaca", "Alpaca instruction is a list; history holds a 1-element pair",
              wrong_type_alpaca, {"wrong_type": 2}, samples=1),
    RowDefect("wrong_type_sharegpt", "ShareGPT turns are strings, not objects", wrong_type_sharegpt,
              {"wrong_type": 1}, samples=1),
    RowDefect("missing_field", "Dolly response is null", missing_field_dolly, {"missing_field": 1}, samples=1),
    RowDefect("unknown_role", "a role named 'wizard'", unknown_role, {"unknown_role": 1}, samples=1),
    RowDefect("turn_order_two_users", "two user turns in a row", two_users, {"turn_order": 1}, samples=1),
    RowDefect("turn_order_assistant_first", "the assistant speaks first", assistant_first, {"turn_order": 1},
              samples=1),
    RowDefect("turn_order_system_late", "a system message in the middle", system_late, {"turn_order": 1},
              samples=1),
    RowDefect("trailing_user", "the conversation ends on a user turn", trailing_user, {"no_assistant_answer": 1},
              samples=1),
    RowDefect("empty_messages", "messages is an empty list", empty_messages, {"empty_conversation": 1},
              samples=1),
    RowDefect("whitespace_turn", "a whitespace-only user turn", whitespace_turn, {"empty_turn": 1}, samples=1),
    RowDefect("too_many_messages", "max_messages + 2 alternating turns", too_many_messages,
              {"too_many_messages": 1}, samples=1),
    RowDefect("meta_too_large", "an extra field longer than max_field_chars (goes to meta)", meta_too_large,
              {"field_too_large": 1}, samples=1, detail="meta"),
    RowDefect("byte_order_mark", "a UTF-8 byte-order mark before the first line", byte_order_mark, {}, samples=2),
    RowDefect("crlf_line_ends", "CRLF line ends", crlf_lines, {}, samples=2),
    RowDefect("mixed_formats", "one Alpaca record among chat records in one file", mixed_formats,
              {"format_mismatch": 1}, samples=3),
    RowDefect("parquet_missing_column", "Dolly Parquet without its response column (format declared)",
              parquet_missing_column, {"format_mismatch": 1}, format="dolly"),
    RowDefect("parquet_extra_columns", "Dolly Parquet with extra columns (they go to meta)", parquet_extra_columns,
              {}, samples=1),
    RowDefect("parquet_wrong_type", "Dolly Parquet whose response column is int64", parquet_wrong_type,
              {"wrong_type": 2}),
    RowDefect("parquet_null_required", "Dolly Parquet with a null instruction", parquet_null_required,
              {"missing_field": 1}, samples=1),
    RowDefect("parquet_truncated", "a Parquet file cut in half (footer lost)", parquet_truncated,
              {"unreadable_file": 1}, format="chat"),
    RowDefect("parquet_zero_rows", "a Parquet file with zero rows", parquet_zero_rows, {"empty_file": 1},
              format="chat"),
    RowDefect("empty_file", "a zero-byte .jsonl file", empty_file, {"empty_file": 1}),
    RowDefect("whitespace_file", "a file of blank lines only", whitespace_file, {"empty_file": 1}),
    RowDefect("empty_array", "a JSON array with no elements", empty_array, {"empty_file": 1}),
    RowDefect("truncated_array", "a JSON array that ends after two elements and a comma", truncated_array,
              {"truncated_file": 1}, samples=2),
    RowDefect("array_bad_element", "a JSON array with a syntax error in its second element", array_bad_element,
              {"malformed_json": 1}, samples=1),
    RowDefect("array_over_cap", "a JSON array file larger than json_array_max_bytes", array_over_cap,
              {"file_too_large": 1}, detail="json_array_max_bytes"),
    RowDefect("symlink_loop", "a folder holding loop -> . beside a good file", symlink_loop, {}, samples=1),
    RowDefect("glob_over_symlink_loops", "a **/*.jsonl glob over a folder holding loop -> . and inner/up -> ..",
              glob_over_symlink_loops, {}, samples=1),
    RowDefect("fifo_and_dangling_links", "a FIFO, a link to a missing file and a link to itself beside a good file",
              fifo_and_dangling_links, {"not_a_regular_file": 1, "broken_link": 2}, samples=1),
    RowDefect("huge_first_line", "a first line longer than detect_sample_bytes, then a good record",
              huge_first_line, {"record_too_large": 1}, samples=1),
    RowDefect("nan_ids_and_content", "ids NaN and Infinity (no id), content NaN", nan_ids_and_content,
              {"wrong_type": 1}, samples=2),
    RowDefect("long_reject_detail", "a role name of 100,000 chars (the reject detail is capped at 500)",
              long_reject_detail, {"unknown_role": 1}, samples=1),
    RowDefect("colon_in_file_name", "a real file named colon:name.jsonl (the whole path is tried before PATH:FORMAT)",
              colon_in_name, {}, samples=1),
    RowDefect("shell_metacharacters", "message text full of $(...), backticks, ; rm -rf, | sh", shell_metacharacters,
              {}, samples=1),
    RowDefect("pickle_payload", "a folder with a pickle exploit as .pkl (skipped) and as .jsonl (text)",
              pickle_payload, {"invalid_utf8": 1}, samples=1),
]


PATH_DEFECTS: list[PathDefect] = [
    PathDefect("glob_matches_nothing", "a glob that matches no file",
               lambda d: ["ingest", "--source", f"g={d}/*.nothing"], "matches no file"),
    PathDefect("missing_path", "a source path that does not exist",
               lambda d: ["ingest", "--source", f"m={d}/absent.jsonl"], "does not exist", "ConfigError"),
    PathDefect("empty_directory", "a directory holding no data file (only notes.txt)",
               lambda d: ["ingest", "--source", f"e={_dir_with(d, 'nodata', 'notes.txt', b'hello')}"],
               "holds no data files"),
    PathDefect("unknown_format", "records whose fields fit no known format",
               lambda d: ["ingest", "--source", f"u={_file(d, 'unknown.jsonl', jsonl_text([{'foo': 1, 'bar': 2}]))}"],
               "unknown format"),
    PathDefect("ambiguous_format", "records holding both messages and conversations",
               lambda d: ["ingest", "--source", f"a={_file(d, 'ambiguous.jsonl', jsonl_text([{'messages': [], 'conversations': []}]))}"],
               "ambiguous format"),
    PathDefect("formats_split_evenly", "a file half chat, half Alpaca records",
               lambda d: ["ingest", "--source", f"h={_file(d, 'half.jsonl', jsonl_text([good_chat('h'), {'instruction': 'x', 'output': 'y'}]))}"],
               "split evenly"),
    PathDefect("declared_unknown_format", "a declared format that is not registered (NAME=PATH:xml)",
               lambda d: ["ingest", "--source", f"x={_file(d, 'x.jsonl', jsonl_text([good_chat('x')]))}:xml"],
               "unknown format 'xml'"),
    PathDefect("duplicate_source_names", "two sources with the same name",
               lambda d: ["ingest", "--source", f"s={_file(d, 's1.jsonl', jsonl_text([good_chat('s1')]))}",
                          "--source", f"s={_file(d, 's2.jsonl', jsonl_text([good_chat('s2')]))}"],
               "used more than once", "ConfigError"),
    PathDefect("yaml_python_tag", "a config using !!python/object/apply:os.system",
               lambda d: ["ingest", "--config", _file(d, "evil.yaml", f"warehouse: !!python/object/apply:os.system "
                                                                      f"['touch {d / MARKER_NAME}']\n")],
               "not valid YAML", "ConfigError"),
    PathDefect("config_unknown_key", "a config section with an unknown key",
               lambda d: ["ingest", "--config", _file(d, "typo.yaml", "ingest:\n  max_feild_chars: 10\n")],
               "unknown key 'ingest.max_feild_chars'", "ConfigError"),
    PathDefect("config_not_a_mapping", "a config file that is a YAML list",
               lambda d: ["ingest", "--config", _file(d, "list.yaml", "- a\n- b\n")],
               "must be a mapping", "ConfigError"),
    # Names that become part of a path: refused at config load, so nothing can be written outside the warehouse.
    PathDefect("run_id_absolute_path", "--run-id is an absolute path (the report would be /abs/x.html)",
               lambda d: ["report", "--run-id", str(d / "escaped"), "--config", _file(d, "b.yaml", BUDGET_YAML)],
               "run_id", "ConfigError"),
    PathDefect("run_id_parent_dir", "--run-id climbs out of the warehouse with ../",
               lambda d: ["run", "--run-id", "../../escaped", "--config", _file(d, "b.yaml", BUDGET_YAML),
                          "--source", f"c={_file(d, 'c.jsonl', jsonl_text([good_chat('rip')]))}"],
               "is not a safe name", "ConfigError"),
    PathDefect("run_id_in_config_file", "run_id: ../x in the config file",
               lambda d: ["select", "--config", _file(d, "r.yaml", "run_id: ../x\n" + BUDGET_YAML)],
               "r.yaml: run_id '../x' is not a safe name", "ConfigError"),
    PathDefect("source_name_unsafe", "a source named ../../x",
               lambda d: ["ingest", "--source", f"../../x={_file(d, 'n.jsonl', jsonl_text([good_chat('snu')]))}"],
               "sources[0].name '../../x' is not a safe name", "ConfigError"),
    PathDefect("export_run_unsafe", "postmix export --run with a path in it",
               lambda d: ["export", "--run", "a/../../b", "--out", str(d / "out.jsonl")],
               "--run 'a/../../b' is not a safe name", "ConfigError"),
    # Every section is validated when the config loads, before Spark starts or any stage runs.
    PathDefect("quota_malformed", "a quota written source:x<0.2 (no <= or >=)",
               lambda d: ["select", "--config", _file(d, "b.yaml", BUDGET_YAML), "--quota", "source:x<0.2"],
               "select.quotas[0]: quota 'source:x<0.2': expected", "ConfigError"),
    PathDefect("quota_negative_share", "a quota source:x<=-0.5",
               lambda d: ["select", "--config", _file(d, "b.yaml", BUDGET_YAML), "--quota", "source:x<=-0.5"],
               "quota 'source:x<=-0.5': amount '-0.5' must be a finite number >= 0", "ConfigError"),
    PathDefect("quota_nan", "a quota source:x<=nan in the config file",
               lambda d: ["run", "--config", _file(d, "q.yaml", BUDGET_YAML + "  quotas: ['source:x<=nan']\n"),
                          "--source", f"c={_file(d, 'c.jsonl', jsonl_text([good_chat('qn')]))}"],
               "q.yaml: select.quotas[0]: quota 'source:x<=nan'", "ConfigError"),
    PathDefect("annotate_top_k_zero", "annotate.top_k: 0 given to `postmix run`",
               lambda d: ["run", "--config", _file(d, "k.yaml", "annotate:\n  top_k: 0\n" + BUDGET_YAML),
                          "--source", f"c={_file(d, 'c.jsonl', jsonl_text([good_chat('tk')]))}"],
               "k.yaml: annotate.top_k must be >= 1, got 0", "ConfigError"),
    PathDefect("semantic_k_zero", "semantic.k: 0 given to `postmix run`",
               lambda d: ["run", "--config", _file(d, "s.yaml", "semantic:\n  k: 0\n" + BUDGET_YAML),
                          "--source", f"c={_file(d, 'c.jsonl', jsonl_text([good_chat('sk')]))}"],
               "s.yaml: semantic.k must be >= 2", "ConfigError"),
    PathDefect("semantic_niter_negative", "semantic.niter: -3",
               lambda d: ["semantic", "--config", _file(d, "n.yaml", "semantic:\n  niter: -3\n")],
               "n.yaml: semantic.niter must be >= 1, got -3", "ConfigError"),
    PathDefect("semantic_dedup_threshold_out_of_range", "semantic.dedup_threshold: 1.5",
               lambda d: ["semantic", "--config", _file(d, "t.yaml", "semantic:\n  dedup_threshold: 1.5\n")],
               "t.yaml: semantic.dedup_threshold is a cosine: it must be in [-1, 1], got 1.5", "ConfigError"),
    PathDefect("run_without_budget", "`postmix run` without a selection budget (refused before ingest)",
               lambda d: ["run", "--source", f"c={_file(d, 'c.jsonl', jsonl_text([good_chat('nb')]))}"],
               "command line: run: select needs a budget", "ConfigError"),
    PathDefect("master_bogus", "--master bogus://x",
               lambda d: ["ingest", "--master", "bogus://x",
                          "--source", f"c={_file(d, 'c.jsonl', jsonl_text([good_chat('mb')]))}"],
               "spark.master 'bogus://x' is not a Spark master URL", "ConfigError"),
    PathDefect("sources_as_mapping", "sources: written as a mapping of name -> path",
               lambda d: ["ingest", "--config", _file(d, "m.yaml", f"sources:\n  chat: {d}/c.jsonl\n")],
               "m.yaml: sources must be a list, one item per source", "ConfigError"),
    PathDefect("export_onto_unrelated_file", "postmix export --out onto an existing file that is not an export",
               lambda d: ["export", "--run", "r1", "--out", _file(d, "notes.txt", "my notes\n")],
               "exists and is not an earlier postmix jsonl export", "StorageError"),
    PathDefect("bad_conf_flag", "--conf without KEY=VALUE", lambda d: ["ingest", "--conf", "novalue",
                                                                         "--source", f"c={d}"],
               "must look like KEY=VALUE", "ConfigError"),
]


BUDGET_YAML = "select:\n  budget: 5\n"


def _file(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _dir_with(folder: Path, sub: str, name: str, data: bytes) -> str:
    target = folder / sub
    target.mkdir(exist_ok=True)
    (target / name).write_bytes(data)
    return str(target)


def build_row_corpus(folder: Path) -> list[str]:
    """Write every row defect (each in its own folder) and the dominant source; return the --source specs."""
    specs = []
    for defect in ROW_DEFECTS:
        sub = folder / defect.id
        sub.mkdir(parents=True)
        path = defect.build(sub)
        specs.append(f"{defect.id}={path}" + (f":{defect.format}" if defect.format else ""))
    big = folder / "dominant"
    big.mkdir()
    specs.append(f"dominant={dominant_source(big)}")
    return specs
