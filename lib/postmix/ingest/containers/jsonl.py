"""JSON Lines, plain or gzip (told apart by magic bytes): one object per line; BOM and CRLF tolerated.

Blank lines are not records (they are skipped but still counted for line numbers). A plain file may be read in
byte-range splits that start on line boundaries (planned by plan_line_splits); a gzip file is one split.
"""

from __future__ import annotations

from typing import Iterator

from postmix.ingest import fs
from postmix.ingest import reasons as R
from postmix.ingest.containers.item import Item
from postmix.ingest.containers.lines import TruncatedStream, decode_json_line, gunzip_chunks, split_lines
from postmix.ingest.params import IngestParams


def iter_items(path: str, gzipped: bool, params: IngestParams, start: int = 0, end: int = -1,
               first_line: int = 1) -> Iterator[Item]:
    """Items of the lines in [start, end) of a plain file, or of the whole gzip file."""
    yield from _items(path, gzipped, params, start, end, first_line)


def iter_sample_items(path: str, gzipped: bool, params: IngestParams) -> Iterator[Item]:
    """Items from the start of a file, for format detection: reading stops once detect_sample_bytes of lines were
    examined, where a line over max_record_bytes counts as max_record_bytes (it is streamed past, never held), so
    a huge first line does not hide the records after it."""
    yield from _items(path, gzipped, params, 0, -1, 1, budget=params.detect_sample_bytes)


def _items(path: str, gzipped: bool, params: IngestParams, start: int, end: int, first_line: int,
           budget: int | None = None) -> Iterator[Item]:
    chunks = fs.read_chunks(path, start, end)
    if gzipped:
        chunks = gunzip_chunks(chunks)
    line_no = first_line - 1
    examined = 0
    try:
        for line, n_bytes in split_lines(chunks, params.max_record_bytes):
            if budget is not None and examined >= budget:
                return
            examined += min(n_bytes, params.max_record_bytes) + 1
            line_no += 1
            item = decode_json_line(line, n_bytes, f"{path}:{line_no}", params.max_record_bytes,
                                    params.raw_excerpt_chars)
            if item is not None:
                yield item
    except TruncatedStream as err:
        yield Item(f"{path}:{line_no + 1}", raw=None, reason=R.TRUNCATED_FILE,
                   detail=f"{err}; {line_no} lines were read before the break, the rest of the file is lost")


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
