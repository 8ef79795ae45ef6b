"""JSON Lines, plain or gzip (told apart by magic bytes): one object per line; BOM and CRLF tolerated.

Blank lines are not records (they are skipped but still counted for line numbers). A plain file may be read in
byte-range splits that start on line boundaries (planned by plan_line_splits). A gzip file may be read in splits
that are ranges of its DECOMPRESSED bytes (planned by plan_gzip_splits from the gzip size trailer, a hint only):
gzip cannot seek, so each split decompresses from the file's start, drops the bytes before its range while counting
newlines (line numbers stay exact), keeps the lines that start inside its range and stops once past its end.

Ownership (both kinds): a line starting at offset p belongs to the split with start <= p < end; the last split is
open-ended (end -1). A gzip stream that breaks (truncated or corrupt) gives one `truncated_file` reject, from the
split that owns the line in progress at the break; later splits, which break while still dropping bytes, yield
nothing.
"""

from __future__ import annotations

from typing import Iterator

from postmix.ingest import fs
from postmix.ingest import reasons as R
from postmix.ingest.containers.item import Item
from postmix.ingest.containers.lines import LineRange, TruncatedStream, decode_json_line, gunzip_chunks, split_lines
from postmix.ingest.params import IngestParams


def iter_items(path: str, gzipped: bool, params: IngestParams, start: int = 0, end: int = -1,
               first_line: int = 1) -> Iterator[Item]:
    """Items of the lines that start in [start, end): byte offsets in a plain file (first_line: the number of the
    line at start), offsets in the decompressed content of a gzip file (the split counts its own line numbers:
    first_line is ignored)."""
    yield from _items(path, gzipped, params, start, end, first_line)


def iter_sample_items(path: str, gzipped: bool, params: IngestParams) -> Iterator[Item]:
    """Items from the start of a file, for format detection: reading stops once detect_sample_bytes of lines were
    examined, where a line over max_record_bytes counts as max_record_bytes (it is streamed past, never held), so
    a huge first line does not hide the records after it."""
    yield from _items(path, gzipped, params, 0, -1, 1, budget=params.detect_sample_bytes)


def _items(path: str, gzipped: bool, params: IngestParams, start: int, end: int, first_line: int,
           budget: int | None = None) -> Iterator[Item]:
    window = None
    if gzipped:
        window = LineRange(gunzip_chunks(fs.read_chunks(path)), start, end)
        chunks = iter(window)
    else:
        chunks = fs.read_chunks(path, start, end)
    lines_read = 0
    examined = 0
    try:
        for line, n_bytes in split_lines(chunks, params.max_record_bytes):
            if budget is not None and examined >= budget:
                return
            examined += min(n_bytes, params.max_record_bytes) + 1
            lines_read += 1
            line_no = _first_line(window, first_line) - 1 + lines_read
            item = decode_json_line(line, n_bytes, f"{path}:{line_no}", params.max_record_bytes,
                                    params.raw_excerpt_chars)
            if item is not None:
                yield item
    except TruncatedStream as err:
        if window is not None and not window.reached:
            return  # the break falls before this split's first line: the split that owns that line reports it
        line_no = _first_line(window, first_line) - 1 + lines_read
        yield Item(f"{path}:{line_no + 1}", raw=None, reason=R.TRUNCATED_FILE,
                   detail=f"{err}; {line_no} lines were read before the break, the rest of the file is lost")


def _first_line(window: LineRange | None, first_line: int) -> int:
    """The number of the split's first line: planned for a plain split, counted while dropping for a gzip one."""
    return window.first_line if window is not None else first_line


def plan_line_splits(path: str, size: int, split_bytes: int) -> list[tuple[int, int, int]]:
    """(start, end, first_line) byte ranges of about split_bytes each, cut just after a newline.

    This reads the file once (newline counting only) so every split knows its first line number.
    """
    if size <= split_bytes:
        return [(0, size, 1)]
    ranges = []
    start, start_line = 0, 1
    target = split_bytes
    offset, lines_seen = 0, 0
    for chunk in fs.read_chunks(path):
        search_from = 0
        while target < offset + len(chunk):
            newline = chunk.find(b"\n", max(target - offset, search_from))
            if newline < 0:
                break
            boundary = offset + newline + 1
            lines_at_boundary = lines_seen + chunk.count(b"\n", 0, newline + 1)
            if boundary < size:
                ranges.append((start, boundary, start_line))
                start, start_line = boundary, lines_at_boundary + 1
            target = boundary + split_bytes
            search_from = newline + 1
        lines_seen += chunk.count(b"\n")
        offset += len(chunk)
    ranges.append((start, size, start_line))
    return ranges


# Deflate expands at most about 1032:1, so a trailer claiming more than this per compressed byte is not a size.
MAX_GZIP_RATIO = 1032
GZIP_MIN_BYTES = 18  # header (10) + trailer (8): anything shorter has no trailer to read
# Split k of n decompresses k/n of the file only to drop it, so the dropped work grows with the square of n: past
# this many splits per file the ranges widen instead (a 1 GiB file: 8 splits, 3.5 file-decompressions dropped).
MAX_GZIP_SPLITS = 8


def gzip_size_hint(path: str, compressed_size: int) -> int | None:
    """The decompressed size a gzip file's ISIZE trailer claims (its last 4 bytes, little-endian, the size of the
    LAST member mod 2**32), or None when that is implausible: below the compressed size or above what deflate can
    expand to. Several members, a file over 4 GiB or a wrong trailer make it wrong, plausible or not: it is only a
    hint of where to cut, never a bound on what is read."""
    if compressed_size < GZIP_MIN_BYTES:
        return None
    trailer = b"".join(fs.read_chunks(path, compressed_size - 4, compressed_size))
    if len(trailer) != 4:
        return None
    claimed = int.from_bytes(trailer, "little")
    if claimed < compressed_size or claimed > compressed_size * MAX_GZIP_RATIO:
        return None
    return claimed


def plan_gzip_splits(path: str, compressed_size: int, gzip_split_bytes: int) -> list[tuple[int, int]]:
    """(start, end) ranges of the DECOMPRESSED content of a gzip JSONL file, about gzip_split_bytes each and of
    equal width (at most MAX_GZIP_SPLITS of them), cut where the size hint says; the last is open-ended (end -1), the first starts at 0, so they
    tile every offset and every line is read exactly once however wrong the hint is (a short hint leaves more to
    the last split, a long one leaves later splits empty). One split when there is no plausible hint."""
    hint = gzip_size_hint(path, compressed_size)
    if hint is None or hint <= gzip_split_bytes:
        return [(0, -1)]
    n_splits = min(-(-hint // gzip_split_bytes), MAX_GZIP_SPLITS)
    cuts = [hint * i // n_splits for i in range(1, n_splits)]
    return list(zip([0] + cuts, cuts + [-1]))
