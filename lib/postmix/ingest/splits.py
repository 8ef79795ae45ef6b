"""From source specs to a list of file splits: path expansion, per-file container and format detection, splitting.

Decisions (docs/FORMATS.md repeats them):
  - a path that does not exist, or a directory or glob that yields no data file -> InputError naming it;
  - directories are walked recursively; files and folders whose name starts with '.' or '_' are skipped (Spark/Hadoop
    markers such as _SUCCESS, .crc), and so are files without a data extension (DATA_EXTENSIONS); a folder holding
    `_delta_log` is one Delta source. Explicit files and globs are taken whatever their extension;
  - a file that exists but cannot be opened or read -> a file-level reject `unreadable_file` (not an error: one bad
    file among thousands must not stop a crawl), as is an empty file (`empty_file`) and a JSON-array file over
    json_array_max_bytes (`file_too_large`);
  - format: the spec's explicit format wins; otherwise the first detect_sample_rows objects decide. Any sampled object
    whose keys fit two formats equally, a sample where no object fits any format, or an exact tie between formats ->
    InputError naming the file and the fields seen; otherwise the format most sampled objects fit wins. A file whose sample holds no JSON object at all gets format None: each of its
    rows becomes a reject. Objects that do not fit the file's format become `format_mismatch` rejects.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Optional

from postmix.errors import InputError
from postmix.ingest.formats.registry import AMBIGUOUS, FORMATS, best_format, get_format, matching_formats
from postmix.ingest import fs
from postmix.ingest import reasons as R
from postmix.ingest.containers import item as C
from postmix.ingest.containers import delta, jsonl, parquet
from postmix.ingest.containers.json_array import iter_elements
from postmix.ingest.containers.lines import BOM, GZIP_MAGIC, TruncatedStream, gunzip_chunks
from postmix.ingest.params import IngestParams, SourceSpec

DATA_EXTENSIONS = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz", ".gz", ".parquet")
PARQUET_MAGIC = b"PAR1"
FORMAT_NAMES = tuple(FORMATS)
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class FileSplit:
    """One unit of parsing work: a byte range of a JSONL file, a row group, a whole file, or a file-level reject.

    A JSONL split (plain or gzip) owns the lines that start in [start, end)."""

    source: str
    path: str
    container: str
    format: Optional[str]
    # byte range of a JSONL split: file offsets (plain) or offsets in the decompressed content (gzip, where the
    # split reads from the file's start and drops what precedes `start`); end -1 = to the end of the file
    start: int = 0
    end: int = -1
    row_group: int = -1  # Parquet row group, -1 otherwise
    first_line: int = 1  # line number of the first line at `start` (plain JSONL; a gzip split counts its own)
    reason: Optional[str] = None  # set for file-level rejects (empty, unreadable, too large)
    detail: Optional[str] = None

    def to_row(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_row(row) -> "FileSplit":
        """From to_row()'s dict or a Spark Row of it."""
        data = row.asDict() if hasattr(row, "asDict") else dict(row)
        return FileSplit(**{f.name: data[f.name] for f in fields(FileSplit)})


@dataclass(frozen=True)
class FileProbe:
    container: str
    format: Optional[str]
    reason: Optional[str] = None
    detail: Optional[str] = None


# ---------------------------------------------------------------- expansion

def expand_source(spec: SourceSpec) -> list[str]:
    """The data files (and Delta table folders) a source's path names, sorted; InputError when there are none.
    Links, FIFOs and unlistable folders are listed too (probe_file turns them into rejects, never opening them)."""
    path = spec.path
    found = fs.kind(path)
    if _GLOB_CHARS.search(path) and found == fs.MISSING:  # a real file named like a glob is that file
        return _expand_glob(spec)
    if found == fs.MISSING:
        raise InputError(f"source {spec.name!r}: path {path!r} does not exist")
    if found != fs.DIRECTORY:
        return [fs.display_path(path)]
    if delta.is_delta_table(path):
        return [fs.display_path(path).rstrip("/")]
    return _expand_directory(spec, path)


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _expand_directory(spec: SourceSpec, path: str) -> list[str]:
    root = fs.resolve(path)[1].rstrip("/")
    found, skipped = [], []

    def descend(folder: str) -> bool:  # never into hidden folders nor into a Delta table (it is one source)
        return not _hidden(folder.rsplit("/", 1)[-1]) and not delta.is_delta_table(fs.join_like(path, folder))

    for entry in fs.list_files(path, descend):
        relative = entry.path[len(root) + 1:]
        if any(_hidden(p) for p in relative.split("/")):
            continue
        full = fs.join_like(path, entry.path)
        if entry.kind == fs.DIRECTORY:
            if delta.is_delta_table(full):
                found.append(full)
        elif entry.kind == fs.UNLISTABLE or entry.path.lower().endswith(DATA_EXTENSIONS):
            found.append(full)
        else:
            skipped.append(relative)
    if not found:
        hint = f" (skipped, no data extension: {', '.join(skipped[:5])})" if skipped else ""
        raise InputError(f"source {spec.name!r}: directory {path!r} holds no data files{hint}")
    return sorted(found)


def _expand_glob(spec: SourceSpec) -> list[str]:
    """Glob with '*' and '?' inside one path segment and '**' across segments."""
    pattern = spec.path
    base = pattern[: _GLOB_CHARS.search(pattern).start()].rsplit("/", 1)[0] or "/"
    if fs.kind(base) != fs.DIRECTORY:
        raise InputError(f"source {spec.name!r}: glob {pattern!r} matches nothing ({base!r} is not a directory)")
    regex = re.compile(_glob_regex(fs.resolve(pattern)[1] if not fs.has_scheme(pattern) else pattern))
    matches = []
    for entry in fs.list_files(base):
        full = fs.join_like(base, entry.path)
        candidate = full if fs.has_scheme(pattern) else entry.path
        if regex.fullmatch(candidate) and (entry.kind != fs.DIRECTORY or delta.is_delta_table(full)):
            matches.append(full)
    if not matches:
        raise InputError(f"source {spec.name!r}: glob {pattern!r} matches no file")
    return sorted(matches)


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and pattern.find("]", i + 2) > 0:
            close = pattern.find("]", i + 2)
            body = pattern[i + 1:close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


# ---------------------------------------------------------------- detection

def detect_file_format(path: str, params: IngestParams, format: Optional[str] = None) -> tuple[str, Optional[str]]:
    """(container, format) of one file; see the module docstring for the rules and errors."""
    probe = probe_file(path, params, format)
    return probe.container, probe.format


def probe_file(path: str, params: IngestParams, format: Optional[str] = None) -> FileProbe:
    """Container, format and, for files that yield no records, the file-level reject."""
    if format is not None:
        get_format(format)  # an unknown declared format is an InputError before any file is read
    found = fs.kind(path)
    unusable = _unusable_path(path, found, format)
    if unusable is not None:
        return unusable
    if found == fs.DIRECTORY:
        return FileProbe(C.DELTA, format or _decide_format(path, [frozenset(delta.column_names(path))], format))
    try:
        container = sniff_container(path)
        if container == C.PARQUET:
            meta = parquet.open_file(path).metadata
            if meta.num_rows == 0:
                return FileProbe(C.EMPTY, format, R.EMPTY_FILE, "the Parquet file has zero rows")
            return FileProbe(C.PARQUET, _decide_format(path, [frozenset(meta.schema.to_arrow_schema().names)], format))
        keysets, n_items = _sample_keysets(path, container, params)
    except (OSError, ValueError) as err:  # permission denied, I/O error, corrupt Parquet footer
        return FileProbe(C.UNREADABLE, format, R.UNREADABLE_FILE, f"cannot read the file: {err}")
    except TruncatedStream as err:
        return FileProbe(C.UNREADABLE, format, R.TRUNCATED_FILE, f"{err}; no record could be read before the break")
    if container == C.EMPTY:
        return FileProbe(C.EMPTY, format, R.EMPTY_FILE, "the file holds no records")
    if n_items == 0:
        return FileProbe(C.EMPTY, format, R.EMPTY_FILE, "the file holds only blank lines or an empty array")
    return FileProbe(container, _decide_format(path, keysets, format))


def _unusable_path(path: str, found: str, format: Optional[str]) -> Optional[FileProbe]:
    """The file-level reject of a path (of kind `found`) that must not be opened: a FIFO/socket/device, a link
    leading nowhere, a folder that cannot be listed."""
    if found == fs.SPECIAL:
        return FileProbe(C.UNREADABLE, format, R.NOT_A_REGULAR_FILE, fs.special_detail(path))
    if found == fs.BROKEN_LINK:
        return FileProbe(C.UNREADABLE, format, R.BROKEN_LINK, fs.broken_link_detail(path))
    if found == fs.DIRECTORY and not delta.is_delta_table(path):
        return FileProbe(C.UNREADABLE, format, R.UNREADABLE_FILE, "cannot list the folder (permission denied?): "
                                                                    "its files were not read")
    if found == fs.MISSING:
        return FileProbe(C.UNREADABLE, format, R.UNREADABLE_FILE, "the file vanished after it was listed")
    return None


def sniff_container(path: str) -> str:
    """Container from magic bytes and the first non-blank character: gzip and Parquet by magic, '[' = JSON array."""
    head = fs.read_head(path, 4)
    if head.startswith(PARQUET_MAGIC):
        return C.PARQUET
    gzipped = head.startswith(GZIP_MAGIC)
    first = _first_char(path, gzipped)
    if first is None:
        return C.EMPTY
    if first == "[":
        return C.JSON_ARRAY_GZ if gzipped else C.JSON_ARRAY
    return C.JSONL_GZ if gzipped else C.JSONL


def _first_char(path: str, gzipped: bool) -> Optional[str]:
    """The first non-whitespace character of the (decompressed) content, after a BOM; None when there is none."""
    chunks = fs.read_chunks(path)
    if gzipped:
        chunks = gunzip_chunks(chunks)
    seen = b""
    try:
        for chunk in chunks:
            seen += chunk
            stripped = seen[len(BOM):] if seen.startswith(BOM) else seen
            stripped = stripped.lstrip()
            if stripped:
                return chr(stripped[0])
            if len(seen) > 1 << 20:  # a megabyte of whitespace: treat as empty of records
                seen = seen[-4:]
    except TruncatedStream:
        if not seen.strip(BOM + b" \t\r\n"):
            raise  # corrupt before its first record: not an empty file (probe_file reports truncated_file)
    return None


def _sample_keysets(path: str, container: str, params: IngestParams) -> tuple[list[frozenset], int]:
    """Key sets of the first sampled objects and the number of items (records or rejects) seen."""
    items = _sample_items(path, container, params)
    keysets, n_items = [], 0
    for sampled in items:
        n_items += 1
        if sampled.record is not None:
            keysets.append(frozenset(sampled.record))
            if len(keysets) >= params.detect_sample_rows:
                break
    return keysets, n_items


def _sample_items(path: str, container: str, params: IngestParams):
    if container in (C.JSONL, C.JSONL_GZ):
        items = jsonl.iter_sample_items(path, container == C.JSONL_GZ, params)
        return _bounded(items, params.detect_sample_rows * 4)
    if container in (C.JSON_ARRAY, C.JSON_ARRAY_GZ):
        chunks = fs.read_chunks(path, 0, -1 if container == C.JSON_ARRAY_GZ else params.detect_sample_bytes)
        if container == C.JSON_ARRAY_GZ:
            chunks = gunzip_chunks(chunks)
        text = _prefix(chunks, params.detect_sample_bytes)
        return _bounded(iter_elements(text, path, params, broken="sample"), params.detect_sample_rows * 4)
    return []


def _bounded(items, limit: int):
    for index, sampled in enumerate(items):
        if index >= limit:
            return
        yield sampled


def _prefix(chunks, limit: int) -> str:
    parts, total = [], 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            total += len(chunk)
            if total >= limit:
                break
    except TruncatedStream:
        pass
    data = b"".join(parts)[:limit]
    if data.startswith(BOM):
        data = data[len(BOM):]
    return data.decode("utf-8", errors="surrogateescape")


def _decide_format(path: str, keysets: list[frozenset], declared: Optional[str]) -> Optional[str]:
    if declared is not None:
        return declared
    if not keysets:
        return None  # nothing parseable in the sample: every row of the file becomes a reject
    votes = Counter()
    for keys in keysets:
        name = best_format(keys)
        if name == AMBIGUOUS:
            raise InputError(f"{path}: ambiguous format, fields {sorted(keys)[:30]} fit "
                             f"{' and '.join(matching_formats(keys))} equally; declare one as NAME=PATH:FORMAT")
        votes[name] += 1
    seen = sorted(set().union(*keysets))[:30]
    fitting = Counter({name: n for name, n in votes.items() if name is not None})
    if not fitting:
        raise InputError(f"{path}: unknown format, none of the {len(keysets)} sampled records fits a known format "
                         f"({', '.join(FORMAT_NAMES)}); fields seen: {seen}; declare one as NAME=PATH:FORMAT")
    ranked = fitting.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise InputError(f"{path}: ambiguous format, the sampled records split evenly between "
                         f"{ranked[0][0]} and {ranked[1][0]}; fields seen: {seen}")
    return ranked[0][0]


# ---------------------------------------------------------------- planning

def plan_splits(specs: list[SourceSpec], params: IngestParams) -> list[FileSplit]:
    """Every split of every source, in a stable order; all InputErrors surface here, before anything is written."""
    names = [spec.name for spec in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(f"source names must be unique, repeated: {duplicated}")
    splits: list[FileSplit] = []
    for spec in specs:
        for path in expand_source(spec):
            splits.extend(_file_splits(spec, path, params))
    return splits


def _file_splits(spec: SourceSpec, path: str, params: IngestParams) -> list[FileSplit]:
    probe = probe_file(path, params, spec.format)
    base = FileSplit(spec.name, path, probe.container, probe.format, reason=probe.reason, detail=probe.detail)
    if probe.reason is not None or probe.container in (C.JSON_ARRAY_GZ, C.DELTA):
        return [base]
    if probe.container == C.JSONL_GZ:
        ranges = jsonl.plan_gzip_splits(path, fs.info(path).size, params.gzip_split_bytes)
        return [FileSplit(spec.name, path, C.JSONL_GZ, probe.format, start=s, end=e) for s, e in ranges]
    if probe.container == C.JSON_ARRAY:
        size = fs.info(path).size
        if size > params.json_array_max_bytes:
            return [FileSplit(spec.name, path, C.TOO_LARGE, probe.format, reason=R.FILE_TOO_LARGE,
                              detail=f"JSON array file has {size} bytes > json_array_max_bytes="
                                     f"{params.json_array_max_bytes}")]
        return [base]
    if probe.container == C.PARQUET:
        n_groups = parquet.open_file(path).num_row_groups
        return [FileSplit(spec.name, path, C.PARQUET, probe.format, row_group=g) for g in range(n_groups)]
    ranges = jsonl.plan_line_splits(path, fs.info(path).size, params.split_bytes)
    return [FileSplit(spec.name, path, C.JSONL, probe.format, start=s, end=e, first_line=line) for s, e, line in ranges]
