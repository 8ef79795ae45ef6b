"""Gzip JSONL files read in several splits (ranges of the decompressed bytes): whatever the cut points and whatever
the size trailer claims, the splits' rows, concatenated in split order, are exactly the one-split rows."""

import gzip
import json
import zlib

import pytest

from ingest_helpers import OK, write
from postmix.errors import ConfigError
from postmix.ingest import fs
from postmix.ingest.containers import jsonl
from postmix.ingest.containers.lines import LineRange, TruncatedStream
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.parse import parse_split
from postmix.ingest.splits import FileSplit, plan_splits

WHOLE = IngestParams(gzip_split_bytes=1 << 50)  # today's behaviour: one split per gzip file


def record(i: int, pad: int = 0) -> bytes:
    return json.dumps({"id": f"r{i}", "messages": [{"role": "user", "content": f"question {i} " + "x" * pad},
                                                    OK[1]]}).encode()


def mixed_lines(n: int = 60, long_every: int = 17) -> bytes:
    """A BOM, CRLF line ends, blank lines, some bad lines and lines much longer than the test split sizes."""
    lines = []
    for i in range(n):
        if i % 11 == 5:
            lines.append(b"")  # blank: no row, but counted for line numbers
        elif i % 13 == 7:
            lines.append(b'{"messages": [truncated')  # malformed_json
        elif i % 19 == 9:
            lines.append(b"[1, 2]")  # not_an_object
        else:
            lines.append(record(i, pad=400 if i % long_every == 3 else i % 7))
    return b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n"


def rows_of(splits, params=WHOLE) -> list[tuple]:
    return [(r["location"], r["kind"], r["reason"], r["sample_id"]) for s in splits for r in parse_split(s, params)]


def single_split_rows(path) -> list[tuple]:
    splits = plan_splits([SourceSpec("s", str(path))], WHOLE)
    assert [(s.start, s.end) for s in splits] == [(0, -1)]
    return rows_of(splits)


def planned(path, split_bytes: int) -> list[FileSplit]:
    return plan_splits([SourceSpec("s", str(path))], IngestParams(gzip_split_bytes=split_bytes))


def at_cuts(path, cuts: list[int], fmt: str = "chat") -> list[FileSplit]:
    """Splits of a gzip JSONL file cut at these decompressed offsets (the last open-ended)."""
    bounds = [0, *cuts]
    return [FileSplit("s", str(path), "jsonl_gz", fmt, start=s, end=e)
            for s, e in zip(bounds, bounds[1:] + [-1])]


def capped(n_splits: int) -> int:
    return min(n_splits, jsonl.MAX_GZIP_SPLITS)


def assert_tiles(splits):
    assert splits[0].start == 0 and splits[-1].end == -1
    assert all(a.end == b.start for a, b in zip(splits, splits[1:]))
    assert all(s.start < s.end for s in splits[:-1])


# ---------------------------------------------------------------- LineRange on plain byte streams

def chunked(data: bytes, sizes):
    out, i, k = [], 0, 0
    while i < len(data):
        size = sizes[k % len(sizes)]
        out.append(data[i:i + size])
        i, k = i + size, k + 1
    return out


@pytest.mark.parametrize("sizes", [[1], [3, 1, 7], [64], [10_000]])
def test_line_ranges_that_tile_the_stream_give_every_line_once_with_its_number(sizes):
    data = b"a\n\nbbb\r\ncccccccc\nd\n\n\neeeee"  # no newline at the very end
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 10]
    for cut in range(0, len(data) + 3):
        for cut2 in (cut + 1, cut + 5):
            pieces, numbers = [], []
            for start, end in ((0, cut), (cut, cut2), (cut2, -1)):
                window = LineRange(chunked(data, sizes), start, end)
                got = b"".join(window)
                if got:
                    numbers.append(window.first_line)
                    first_start = next(p for p in starts if p >= start)
                    assert first_start < end or end < 0
                    assert window.first_line == starts.index(first_start) + 1
                pieces.append(got)
            assert b"".join(pieces) == data, (cut, cut2)
            assert numbers == sorted(numbers)


def test_a_range_stops_pulling_the_stream_once_past_its_end():
    pulled = []

    def stream():
        for i in range(100):
            pulled.append(i)
            yield b"line %d\n" % i
        raise TruncatedStream("broken")

    assert b"".join(LineRange(stream(), 0, 20)) == b"line 0\nline 1\nline 2\n"  # "line 2" starts at 14 < 20
    assert pulled == [0, 1, 2]  # the newline ending line 2 says the next line starts past the end: no more reads


def test_a_break_while_dropping_bytes_is_not_the_ranges_own():
    def stream():
        yield b"aaaa\nbb"
        raise TruncatedStream("broken")

    late = LineRange(stream(), 6, -1)  # the line in progress at the break ("bb") starts at 5, before the range
    with pytest.raises(TruncatedStream):
        list(late)
    assert not late.reached
    owner = LineRange(stream(), 5, -1)
    with pytest.raises(TruncatedStream):
        list(owner)
    assert owner.reached and owner.first_line == 2


# ---------------------------------------------------------------- planning

def test_planned_splits_of_a_gzip_file_give_the_single_split_rows(tmp_path):
    path = write(tmp_path / "a.jsonl.gz", mixed_lines(), gz=True)
    expected = single_split_rows(path)
    assert {"malformed_json", "not_an_object"} <= {r[2] for r in expected}
    assert expected[0][0].endswith(":1") and expected[0][1] == "sample"  # the BOM line
    for split_bytes in (97, 500, 1_000, 4_000):
        splits = planned(path, split_bytes)
        assert len(splits) == capped(-(-len(mixed_lines()) // split_bytes)) > 1
        assert_tiles(splits)
        assert rows_of(splits) == expected, split_bytes


def test_a_file_is_cut_into_at_most_max_gzip_splits(tmp_path):
    data = mixed_lines()
    path = write(tmp_path / "a.jsonl.gz", data, gz=True)
    assert len(data) // 10 > jsonl.MAX_GZIP_SPLITS
    splits = planned(path, 10)
    assert len(splits) == jsonl.MAX_GZIP_SPLITS
    assert_tiles(splits)
    assert rows_of(splits) == single_split_rows(path)


def test_every_cut_point_gives_each_line_once_at_its_line_number(tmp_path):
    data = mixed_lines(n=24, long_every=5)
    path = write(tmp_path / "a.jsonl.gz", data, gz=True)
    expected = single_split_rows(path)
    for cut in range(0, len(data) + 2, 3):
        assert rows_of(at_cuts(path, [cut, cut + 1, cut + 250])) == expected, cut


def test_split_rows_say_which_split_owns_a_line(tmp_path):
    data = b"".join(record(i) + b"\n" for i in range(3))
    path = write(tmp_path / "a.jsonl.gz", data, gz=True)
    second = len(record(0)) + 1  # offset where line 2 starts
    parts = [rows_of([s]) for s in at_cuts(path, [second, second + 1])]
    assert [[r[0].rsplit(":", 1)[1] for r in part] for part in parts] == [["1"], ["2"], ["3"]]
    parts = [rows_of([s]) for s in at_cuts(path, [second + 1, len(data)])]
    assert [[r[0].rsplit(":", 1)[1] for r in part] for part in parts] == [["1", "2"], ["3"], []]


def test_a_file_smaller_than_one_split_is_one_split(tmp_path):
    data = mixed_lines(n=10)
    path = write(tmp_path / "a.jsonl.gz", data, gz=True)
    splits = planned(path, len(data))
    assert [(s.start, s.end, s.container) for s in splits] == [(0, -1, "jsonl_gz")]
    assert rows_of(splits) == single_split_rows(path)


def test_gzip_json_array_stays_one_split(tmp_path):
    path = write(tmp_path / "a.json.gz", json.dumps([{"messages": OK}] * 50).encode(), gz=True)
    splits = planned(path, 16)
    assert [(s.container, s.start, s.end) for s in splits] == [("json_array_gz", 0, -1)]


def test_multi_member_gzip_whose_trailer_counts_only_the_last_member(tmp_path):
    first, last = mixed_lines(n=80), b"".join(record(1000 + i, pad=200) + b"\n" for i in range(40))
    path = write(tmp_path / "a.jsonl.gz", gzip.compress(first, mtime=0) + gzip.compress(last, mtime=0))
    expected = single_split_rows(path)
    assert [r[0].rsplit(":", 1)[1] for r in expected[-40:]] == [str(81 + i) for i in range(40)]
    assert jsonl.gzip_size_hint(str(path), path.stat().st_size) == len(last)
    splits = planned(path, 600)
    assert len(splits) == capped(-(-len(last) // 600)) > 1  # cut by the last member's size: the last split reads the rest
    assert rows_of(splits) == expected
    member_end = len(first)
    assert rows_of(at_cuts(path, [member_end - 1, member_end, member_end + 1])) == expected


@pytest.mark.parametrize("factor", [0.01, 0.3, 1.7, 40])
def test_a_wrong_size_hint_changes_only_where_the_cuts_fall(tmp_path, monkeypatch, factor):
    data = mixed_lines()
    path = write(tmp_path / "a.jsonl.gz", data, gz=True)
    expected = single_split_rows(path)
    monkeypatch.setattr(jsonl, "gzip_size_hint", lambda p, size: int(len(data) * factor))
    splits = planned(path, 300)
    assert_tiles(splits)
    assert len(splits) == capped(max(1, -(-int(len(data) * factor) // 300)))
    assert rows_of(splits) == expected
    if factor > 1:
        assert rows_of(splits[-1:]) == []  # cut past the real end: the last splits are empty


def test_implausible_trailers_give_one_split(tmp_path, monkeypatch):
    monkeypatch.setattr(fs, "CHUNK_BYTES", 1)  # zlib rejects the patched trailer only after the data came out
    data = mixed_lines()
    packed = gzip.compress(data, mtime=0)
    for claimed in (0, len(packed) - 1, len(packed) * 1033):
        path = write(tmp_path / f"a{claimed}.jsonl.gz", packed[:-4] + claimed.to_bytes(4, "little"))
        assert jsonl.gzip_size_hint(str(path), len(packed)) is None
        assert [(s.container, s.start, s.end) for s in planned(path, 64)] == [("jsonl_gz", 0, -1)]
    path = write(tmp_path / "true.jsonl.gz", packed)
    assert jsonl.gzip_size_hint(str(path), len(packed)) == len(data)
    assert jsonl.gzip_size_hint(str(write(tmp_path / "tiny.gz", b"\x1f\x8b\x08")), 3) is None


def test_a_trailer_that_lies_breaks_the_stream_once_and_loses_no_line(tmp_path, monkeypatch):
    """zlib checks ISIZE, so a patched trailer is a corrupt stream: every line comes out once, then one
    truncated_file reject from the split whose range holds the end of the data (the later ones are empty)."""
    monkeypatch.setattr(fs, "CHUNK_BYTES", 1)  # 1-byte reads: the length check fails after all the data came out
    data = mixed_lines()
    packed = gzip.compress(data, mtime=0)
    path = write(tmp_path / "a.jsonl.gz", packed[:-4] + (len(data) * 3).to_bytes(4, "little"))
    expected = single_split_rows(path)
    assert [r[2] for r in expected].count("truncated_file") == 1 and expected[-1][2] == "truncated_file"
    good = single_split_rows(write(tmp_path / "good.jsonl.gz", packed))
    assert [r[1:] for r in expected[:-1]] == [r[1:] for r in good]
    assert [r[0].rsplit(":", 1)[1] for r in expected] == [r[0].rsplit(":", 1)[1] for r in good] + [
        str(data.count(b"\n") + 1)]
    splits = planned(path, 500)
    assert len(splits) == capped(-(-len(data) * 3 // 500))
    per_split = [rows_of([s]) for s in splits]
    assert [row for part in per_split for row in part] == expected
    owner = next(i for i, s in enumerate(splits) if s.start <= len(data) < s.end)
    assert per_split[owner][-1][2] == "truncated_file"
    assert all(part == [] for part in per_split[owner + 1:])


# ---------------------------------------------------------------- truncated and corrupt files

@pytest.mark.parametrize("keep", [0.35, 0.6, 0.9])
def test_a_truncated_file_gives_one_reject_and_every_line_before_the_break_once(tmp_path, keep):
    data = mixed_lines(n=40, long_every=4)
    packed = gzip.compress(data, mtime=0)
    path = write(tmp_path / "a.jsonl.gz", packed[: int(len(packed) * keep)])
    expected = single_split_rows(path)
    assert [r[2] for r in expected].count("truncated_file") == 1 and expected[-1][2] == "truncated_file"
    recovered = len(_decompress_prefix(packed[: int(len(packed) * keep)]))
    assert 0 < recovered < len(data)
    for cut in range(0, recovered + 40, 7):
        splits = at_cuts(path, [cut // 2, cut, cut + 3])
        per_split = [rows_of([s]) for s in splits]
        assert [row for part in per_split for row in part] == expected, cut
        holder = [i for i, part in enumerate(per_split) if any(r[2] == "truncated_file" for r in part)]
        assert len(holder) == 1 and all(part == [] for part in per_split[holder[0] + 1:])


def test_a_corrupt_member_in_the_middle(tmp_path):
    good = gzip.compress(mixed_lines(n=30), mtime=0)
    broken = bytearray(gzip.compress(b"".join(record(500 + i) + b"\n" for i in range(30)), mtime=0))
    broken[40:60] = b"\x00" * 20
    path = write(tmp_path / "a.jsonl.gz", good + bytes(broken) + good)
    expected = single_split_rows(path)
    assert [r[2] for r in expected].count("truncated_file") == 1
    for cut in range(0, len(mixed_lines(n=30)) + 600, 41):
        assert rows_of(at_cuts(path, [cut, cut + 200])) == expected, cut


def _decompress_prefix(packed: bytes) -> bytes:
    return zlib.decompressobj(wbits=47).decompress(packed)


# ---------------------------------------------------------------- parameters and rows

def test_gzip_split_bytes_is_validated():
    assert IngestParams().gzip_split_bytes == 64 * 1024 * 1024
    for bad in (0, -1):
        with pytest.raises(ConfigError, match="gzip_split_bytes"):
            IngestParams(gzip_split_bytes=bad)


def test_gzip_split_rows_round_trip(tmp_path):
    path = write(tmp_path / "a.jsonl.gz", mixed_lines(), gz=True)
    splits = planned(path, 1_000)
    rows = [s.to_row() for s in splits]
    assert all(isinstance(r[k], int) for r in rows for k in ("start", "end", "first_line", "row_group"))
    assert [FileSplit.from_row(r) for r in rows] == splits
