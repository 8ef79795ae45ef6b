"""File access through pyarrow.fs: local paths and URIs with a scheme (hdfs://, s3://, gs://, file://) alike.

Only path strings cross process boundaries; each process resolves its own filesystem, so everything stays picklable.

Listing a local folder (`list_files`) walks it with os.scandir: symbolic links are followed, but every real
folder is entered once (tracked by its (st_dev, st_ino)), so a link to the folder itself or to an ancestor
(`loop -> .`) ends the walk instead of repeating it, and every real file is listed once (under its own path
rather than a link's, else the smallest path). Links that lead nowhere and files that are not regular (FIFOs,
sockets, devices) are listed with their kind, never opened: the ingest turns them into reject rows.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow.fs as pafs

CHUNK_BYTES = 1 << 20
# What a listed path is (`kind`): FILE is a regular file, SPECIAL a FIFO, socket or device (never opened), BROKEN_LINK
# a symbolic link whose target does not exist or cannot be resolved (a link loop), MISSING nothing at all.
# UNLISTABLE a folder whose entries cannot be read (permission denied).
FILE, DIRECTORY, SPECIAL, BROKEN_LINK, MISSING = "file", "directory", "special", "broken_link", "missing"
UNLISTABLE = "unlistable"

log = logging.getLogger("postmix.ingest.fs")


@dataclass(frozen=True)
class Entry:
    """One listed path (inside its filesystem, like pyarrow's FileInfo.path) and what it is."""

    path: str
    kind: str

    @property
    def is_file(self) -> bool:
        return self.kind == FILE

    @property
    def is_dir(self) -> bool:
        return self.kind == DIRECTORY


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


def is_local(path: str) -> bool:
    return not has_scheme(path) or path.startswith("file://")


def local_path(path: str) -> str:
    return os.path.abspath(path.removeprefix("file://"))


def kind(path: str) -> str:
    """What path is (FILE, DIRECTORY, SPECIAL, BROKEN_LINK or MISSING), without opening it."""
    if not is_local(path):
        return _remote_kind(info(path).type)
    return _local_kind(local_path(path))[0]


def _remote_kind(file_type: pafs.FileType) -> str:
    return {pafs.FileType.File: FILE, pafs.FileType.Directory: DIRECTORY,
            pafs.FileType.NotFound: MISSING}.get(file_type, SPECIAL)


def _local_kind(path: str) -> tuple[str, os.stat_result | None]:
    """The kind and the stat of what the path leads to (links followed)."""
    try:
        status = os.stat(path)
    except OSError:
        return (BROKEN_LINK if os.path.islink(path) else MISSING), None
    if stat.S_ISDIR(status.st_mode):
        return DIRECTORY, status
    return (FILE if stat.S_ISREG(status.st_mode) else SPECIAL), status


def broken_link_detail(path: str) -> str:
    """Why a link leads nowhere: its target and the error of following it."""
    local = local_path(path)
    try:
        target = os.readlink(local)
    except OSError:
        target = "?"
    try:
        os.stat(local)
        reason = "it resolves now"
    except OSError as err:
        reason = err.strerror or type(err).__name__
    return f"symbolic link to {target!r} cannot be followed: {reason}"


def special_detail(path: str) -> str:
    """What kind of non-regular file path is (FIFO, socket, device)."""
    if not is_local(path):
        return "not a regular file"
    mode = os.stat(local_path(path)).st_mode
    what = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "not a regular file")
    return f"{what}, not a regular file: never opened (reading it could block forever)"


def list_files(path: str, descend: Callable[[str], bool] = lambda p: True) -> list[Entry]:
    """Every file and directory under a directory, recursively, in path order. `descend(path)` says whether to
    enter a folder (its entry is listed either way). Local folders: see the module docstring (loops end)."""
    if not is_local(path):
        filesystem, inner = resolve(path)
        found = filesystem.get_file_info(pafs.FileSelector(inner, recursive=True))
        return sorted((Entry(e.path, _remote_kind(e.type)) for e in found), key=lambda entry: entry.path)
    return _walk_local(local_path(path).rstrip("/") or "/", descend)


def _walk_local(root: str, descend: Callable[[str], bool]) -> list[Entry]:
    root_status = os.stat(root)
    entered = {(root_status.st_dev, root_status.st_ino)}
    files: dict[tuple[int, int], str] = {}  # real file -> the path it is listed under
    others: list[Entry] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        children = _children(folder)
        if children is None:
            others.append(Entry(folder, UNLISTABLE))
            continue
        for child in children:
            kind_of, status = _local_kind(child)
            if kind_of == FILE:
                key = (status.st_dev, status.st_ino)
                if key in files:  # a second path to one file: only then is it worth resolving links
                    log.warning("listing %s: %s is the same file as %s, listed once", root, child, files[key])
                    files[key] = min(files[key], child, key=_link_last)
                else:
                    files[key] = child
            elif kind_of == DIRECTORY:
                key = (status.st_dev, status.st_ino)
                if key in entered:
                    log.warning("listing %s: %s leads to a folder already listed (a link loop or a second path to "
                                "it), not entered again", root, child)
                    continue
                entered.add(key)
                others.append(Entry(child, DIRECTORY))
                if descend(child):
                    pending.append(child)
            elif kind_of != MISSING:  # SPECIAL or BROKEN_LINK: listed, never opened
                others.append(Entry(child, kind_of))
    return sorted([Entry(p, FILE) for p in files.values()] + others, key=lambda entry: entry.path)


def _link_last(path: str) -> tuple[bool, str]:
    """Which of two paths to one file is listed: the file's own path before a path through a link, then the smaller."""
    return os.path.realpath(path) != path, path


def _children(folder: str) -> list[str] | None:
    """The folder's entries, sorted; None when it cannot be listed (the caller reports it)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(os.path.join(folder, entry.name) for entry in entries)
    except OSError:
        return None


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
