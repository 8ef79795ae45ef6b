"""File access through pyarrow.fs: local paths and URIs with a scheme (hdfs://, s3://, gs://, file://) alike.

Only path strings cross process boundaries; each process resolves its own filesystem, so everything stays picklable.
"""

from __future__ import annotations

import os
from typing import Iterator

import pyarrow.fs as pafs

CHUNK_BYTES = 1 << 20


def has_scheme(path: str) -> bool:
    return "://" in path


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem that holds path and the path inside it."""
    if has_scheme(path):
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), os.path.abspath(path)


def display_path(path: str) -> str:
    """The path as locations show it: absolute for local files, the URI as given otherwise."""
    return path if has_scheme(path) else os.path.abspath(path)


def info(path: str) -> pafs.FileInfo:
    filesystem, inner = resolve(path)
    return filesystem.get_file_info(inner)


def list_files(path: str) -> list[pafs.FileInfo]:
    """Every file and directory under a directory, recursively, in path order."""
    filesystem, inner = resolve(path)
    found = filesystem.get_file_info(pafs.FileSelector(inner, recursive=True))
    return sorted(found, key=lambda entry: entry.path)


def join_like(original: str, inner_path: str) -> str:
    """Rebuild a user-facing path for a file found by listing (keep the URI scheme of the original)."""
    if not has_scheme(original):
        return inner_path
    scheme = original.split("://", 1)[0]
    return f"{scheme}://{inner_path.lstrip('/')}" if scheme != "file" else f"file://{inner_path}"


def read_chunks(path: str, start: int = 0, end: int = -1) -> Iterator[bytes]:
    """The bytes of a file from start to end (-1 = to the end), in chunks."""
    filesystem, inner = resolve(path)
    with filesystem.open_input_file(inner) as handle:
        handle.seek(start)
        remaining = None if end < 0 else end - start
        while remaining is None or remaining > 0:
            size = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
            data = handle.read(size)
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data


def read_head(path: str, n_bytes: int) -> bytes:
    """The first n_bytes of a file (fewer if it is shorter)."""
    filesystem, inner = resolve(path)
    with filesystem.open_input_file(inner) as handle:
        return handle.read(n_bytes)


def open_random_access(path: str):
    filesystem, inner = resolve(path)
    return filesystem.open_input_file(inner)
