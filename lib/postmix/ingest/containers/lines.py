"""Byte-level helpers shared by the JSON containers: gunzip that survives truncation, line splitting with a cap,
and decoding one JSON text into an Item."""

from __future__ import annotations

import json
import zlib
from typing import Iterable, Iterator

from postmix.ingest import reasons as R
from postmix.ingest.containers.item import Item

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
# strict=False accepts raw tabs/newlines inside strings (common in crawled data); NUL is caught later.
_DECODER = json.JSONDecoder(strict=False)


class TruncatedStream(Exception):
    """The compressed stream ended before its end marker, or is corrupt; everything before was yielded."""


def gunzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress gzip (also several concatenated members); raise TruncatedStream after the last good bytes."""
    decompressor = zlib.decompressobj(wbits=47)
    in_member = False  # bytes of the current member were fed but its end marker was not seen yet
    for chunk in chunks:
        while chunk:
            in_member = True
            try:
                out = decompressor.decompress(chunk)
            except zlib.error as err:
                raise TruncatedStream(f"corrupt gzip data: {err}") from None
            if out:
                yield out
            if decompressor.eof:  # a member ended: the rest of the chunk (if any) starts the next member
                chunk = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=47)
                in_member = False
            else:
                chunk = b""
    if in_member:
        tail = decompressor.flush()
        if tail:
            yield tail
        raise TruncatedStream("the gzip stream ends before its end-of-stream marker")


class LineRange:
    """The bytes of the lines that START in [start, end) of a byte stream (end -1 = to the end), for a stream that
    cannot seek (decompressed gzip): bytes before the range are read and dropped, counting their newlines, and
    reading stops at the newline that ends the range's last line, so the stream is never pulled past it.

    A line starts at offset 0 and after every newline; a line starting at p belongs to the range with
    start <= p < end, so ranges that tile [0, infinity) give every line to exactly one of them. `first_line` is the
    1-based number of the range's first line; `reached` turns true once the range's first line start was found,
    so an error the stream raises before that (while dropping) belongs to an earlier range, not this one.
    """

    def __init__(self, chunks: Iterable[bytes], start: int = 0, end: int = -1):
        self._chunks = chunks
        self.start = start
        self.end = end
        self.first_line = 1
        self.reached = False

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._chunks)
        first, offset = self._skip(chunks)  # first: the bytes from the range's first line start, at `offset`
        if first is None:
            return
        for chunk in _chain(first, chunks):
            if self.end >= 0:
                newline = chunk.find(b"\n", max(0, self.end - 1 - offset))
                if newline >= 0:  # the next line starts at or after end: the range's last line ends here
                    yield chunk[: newline + 1]
                    return
            if chunk:
                yield chunk
            offset += len(chunk)

    def _skip(self, chunks: Iterator[bytes]) -> tuple[bytes | None, int]:
        """Drop the bytes before the first line that starts at or after `start`; (rest of that chunk, its offset),
        or (None, _) when the stream ends first or that line starts at or after `end` (the range holds no line)."""
        if self.start <= 0:
            self.reached = True
            return (None if self.end == 0 else b""), 0
        offset, newlines = 0, 0
        for chunk in chunks:
            newline = chunk.find(b"\n", max(0, self.start - 1 - offset))
            if newline < 0:
                newlines += chunk.count(b"\n")
                offset += len(chunk)
                continue
            self.first_line = newlines + chunk.count(b"\n", 0, newline + 1) + 1
            self.reached = True
            line_start = offset + newline + 1
            if 0 <= self.end <= line_start:
                return None, line_start
            return chunk[newline + 1:], line_start
        return None, offset


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def split_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Yield (line, n_bytes) per line without its newline; a line over max_line_bytes is cut to that many bytes
    but n_bytes is its true length (so huge lines never sit in memory whole)."""
    parts: list[bytes] = []
    size = 0
    kept = 0
    for chunk in chunks:
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            end = len(chunk) if newline < 0 else newline
            if kept <= max_line_bytes:
                piece = chunk[start:end]
                parts.append(piece)
                kept += len(piece)
            size += end - start
            if newline < 0:
                break
            yield b"".join(parts)[: max_line_bytes + 1], size
            parts, size, kept = [], 0, 0
            start = newline + 1
    if size:
        yield b"".join(parts)[: max_line_bytes + 1], size


def excerpt(text: str, limit: int) -> str:
    """A reject's raw copy: at most limit chars, always encodable as UTF-8."""
    return text[:limit].encode("utf-8", errors="replace").decode("utf-8")


def decode_json_line(line: bytes, n_bytes: int, location: str, max_record_bytes: int, raw_limit: int) -> Item | None:
    """One JSONL line -> Item (record or reject); None for a blank line (not a record)."""
    if line.startswith(BOM):
        line = line[len(BOM):]
    if line.endswith(b"\r"):
        line = line[:-1]
    if n_bytes > max_record_bytes:
        return Item(location, raw=_lossy(line, raw_limit), size=n_bytes, reason=R.RECORD_TOO_LARGE,
                    detail=f"line has {n_bytes} bytes > max_record_bytes={max_record_bytes}")
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return Item(location, raw=_lossy(line, raw_limit), size=n_bytes, reason=R.INVALID_UTF8, detail=str(err))
    return decode_json_text(text, location, n_bytes, raw_limit)


def decode_json_text(text: str, location: str, n_bytes: int, raw_limit: int) -> Item:
    """One JSON text -> Item: an object record, or malformed_json / nesting_too_deep / not_an_object."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as err:
        return Item(location, raw=excerpt(text, raw_limit), size=n_bytes, reason=R.MALFORMED_JSON,
                    detail=f"{err.msg} at char {err.pos}")
    except RecursionError:
        return Item(location, raw=excerpt(text, raw_limit), size=n_bytes, reason=R.NESTING_TOO_DEEP,
                    detail="the JSON value is nested too deeply to parse")
    except ValueError as err:  # not a syntax error but a value json refuses, e.g. an integer over 4300 digits
        return Item(location, raw=excerpt(text, raw_limit), size=n_bytes, reason=R.MALFORMED_JSON,
                    detail=f"unparseable JSON value: {err}")
    if not isinstance(value, dict):
        return Item(location, raw=excerpt(text, raw_limit), size=n_bytes, reason=R.NOT_AN_OBJECT,
                    detail=f"the JSON value is a {type(value).__name__}, not an object")
    return Item(location, record=value, raw=text, size=n_bytes)


def _lossy(data: bytes, limit: int) -> str:
    return excerpt(data[: limit * 4].decode("utf-8", errors="replace"), limit)
