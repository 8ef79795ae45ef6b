"""A JSON document that is one array of objects (plain or gzip), e.g. ShareGPT exports; pretty-printed is fine.

The document is read whole (at most json_array_max_bytes after decompression) but its elements are decoded one at a
time, so one bad element is one reject. Invalid UTF-8 inside an element rejects that element only. After a syntax
error between elements the parser cannot find the next element reliably: it stops with one reject that says so.
"""

from __future__ import annotations

import json
import re
from typing import Iterator

from postmix.ingest import fs
from postmix.ingest import reasons as R
from postmix.ingest.containers.item import Item
from postmix.ingest.containers.lines import BOM, TruncatedStream, excerpt, gunzip_chunks

_DECODER = json.JSONDecoder(strict=False)
_WS = re.compile(r"[ \t\n\r]*")
_INVALID_BYTE = re.compile("[\udc80-\udcff]")  # invalid UTF-8 bytes after decode(errors="surrogateescape")


class TooLarge(Exception):
    """The (decompressed) document is over json_array_max_bytes."""


def read_document(path: str, gzipped: bool, max_bytes: int) -> tuple[str, str | None]:
    """The document's text and, when a gzip stream broke, why; raises TooLarge over max_bytes."""
    chunks = fs.read_chunks(path)
    if gzipped:
        chunks = gunzip_chunks(chunks)
    parts, total, broken = [], 0, None
    try:
        for chunk in chunks:
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(f"more than json_array_max_bytes={max_bytes} bytes")
            parts.append(chunk)
    except TruncatedStream as err:
        broken = str(err)
    data = b"".join(parts)
    if data.startswith(BOM):
        data = data[len(BOM):]
    return data.decode("utf-8", errors="surrogateescape"), broken


def iter_items(path: str, gzipped: bool, params) -> Iterator[Item]:
    try:
        text, broken = read_document(path, gzipped, params.json_array_max_bytes)
    except TooLarge as err:
        yield Item(path, reason=R.FILE_TOO_LARGE, detail=f"JSON array file has {err}")
        return
    yield from iter_elements(text, path, params, broken)


def iter_elements(text: str, path: str, params, broken: str | None = None) -> Iterator[Item]:
    """Items of the array in text, element by element."""
    pos = _WS.match(text, 0).end()
    if not text.startswith("[", pos):
        yield Item(path, raw=excerpt(text, params.raw_excerpt_chars), reason=R.MALFORMED_JSON,
                   detail="the document does not start with '['")
        return
    pos, index = pos + 1, 0
    pos = _WS.match(text, pos).end()
    if text.startswith("]", pos):
        yield from _trailing_item(text, pos + 1, path, params)
        return
    while True:
        location = f"{path}[{index}]"
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            yield _stop_item(text, err.pos, location, params, broken, err.msg)
            return
        except RecursionError:
            yield Item(location, raw=excerpt(text[pos:], params.raw_excerpt_chars), reason=R.NESTING_TOO_DEEP,
                       detail="element nested too deeply to parse; the elements after it are lost")
            return
        except ValueError as err:  # a value json refuses (an integer over 4300 digits): the element's end is unknown
            yield _stop_item(text, pos, location, params, broken, f"unparseable JSON value ({err})")
            return
        yield _element_item(text[pos:end], value, location, params)
        index += 1
        pos = _WS.match(text, end).end()
        if text.startswith("]", pos):
            yield from _trailing_item(text, pos + 1, path, params)
            return
        if not text.startswith(",", pos):
            yield _stop_item(text, pos, f"{path}[{index}]", params, broken, "expected ',' or ']'")
            return
        pos = _WS.match(text, pos + 1).end()


def _trailing_item(text: str, pos: int, path: str, params) -> Iterator[Item]:
    """Text after the closing bracket (e.g. a JSONL file whose first line is an array) is one reject, not lost."""
    rest = text[pos:]
    if rest.strip():
        yield Item(f"{path}@{pos}", raw=excerpt(rest.strip(), params.raw_excerpt_chars), reason=R.MALFORMED_JSON,
                   detail=f"{len(rest.strip())} chars of data after the array's closing bracket at char {pos - 1} "
                          "were not read (a JSONL file must not start with an array line)")


def _element_item(raw: str, value, location: str, params) -> Item:
    n_bytes = len(raw.encode("utf-8", errors="surrogateescape"))
    if n_bytes > params.max_record_bytes:
        return Item(location, raw=excerpt(raw, params.raw_excerpt_chars), size=n_bytes, reason=R.RECORD_TOO_LARGE,
                    detail=f"element has {n_bytes} bytes > max_record_bytes={params.max_record_bytes}")
    bad = _INVALID_BYTE.search(raw)
    if bad:
        return Item(location, raw=excerpt(raw, params.raw_excerpt_chars), size=n_bytes, reason=R.INVALID_UTF8,
                    detail=f"invalid UTF-8 byte 0x{ord(bad.group()) - 0xDC00:02x} at char {bad.start()}")
    if not isinstance(value, dict):
        return Item(location, raw=excerpt(raw, params.raw_excerpt_chars), size=n_bytes, reason=R.NOT_AN_OBJECT,
                    detail=f"the element is a {type(value).__name__}, not an object")
    return Item(location, record=value, raw=raw, size=n_bytes)


def _stop_item(text: str, pos: int, location: str, params, broken: str | None, message: str) -> Item:
    """The one reject that ends parsing: truncated_file when the text simply ends, malformed_json otherwise."""
    rest = text[pos:]
    if broken or not rest.strip():
        why = broken or "the document ends before the array is closed"
        return Item(location, raw=excerpt(rest, params.raw_excerpt_chars) or None, reason=R.TRUNCATED_FILE,
                    detail=f"{why}; elements before index {location.rsplit('[', 1)[1]} were kept")
    return Item(location, raw=excerpt(rest, params.raw_excerpt_chars), reason=R.MALFORMED_JSON,
                detail=f"{message} at char {pos}; parsing stopped, the elements after this point are lost")
