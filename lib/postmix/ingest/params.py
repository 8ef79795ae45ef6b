"""Parameters of the ingest stage and the declaration of one source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from postmix.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestParams:
    """Limits and sampling sizes of the ingest; every field has a default (the YAML loader maps `ingest:` onto it)."""

    max_field_chars: int = 200_000  # one message's content or the meta JSON text; longer -> field_too_large
    max_record_bytes: int = 2_000_000  # one raw JSONL line / array element / row as JSON; longer -> record_too_large
    max_messages: int = 512  # messages per conversation; more -> too_many_messages
    raw_excerpt_chars: int = 2_000  # how much of a rejected row is kept in `raw`
    split_bytes: int = 64 * MIB  # target size of one split of a large plain JSONL file (cut on line boundaries)
    # target DECOMPRESSED size of one split of a large gzip JSONL file (each split decompresses from the file's
    # start, so smaller costs more: docs/FORMATS.md has the measurement behind the default)
    gzip_split_bytes: int = 64 * MIB
    detect_sample_rows: int = 64  # records sampled from the start of a file to detect its format
    detect_sample_bytes: int = 8 * MIB  # most bytes read from a file's start while sampling
    json_array_max_bytes: int = 256 * MIB  # largest JSON-array document (decompressed) read whole into memory

    def __post_init__(self) -> None:
        for name in ("max_field_chars", "max_record_bytes", "max_messages", "raw_excerpt_chars", "split_bytes",
                     "gzip_split_bytes", "detect_sample_rows", "detect_sample_bytes", "json_array_max_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"ingest.{name} must be a positive integer, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class SourceSpec:
    """One input source: a user-chosen name, a path (file, directory or glob; local or a URI) and an optional format."""

    name: str
    path: str
    format: Optional[str] = None  # a registry format name; None = detect per file

    @staticmethod
    def parse(text: str) -> "SourceSpec":
        """Parse `NAME=PATH` or `NAME=PATH:FORMAT` (the CLI form); a URI's own colon (s3://) is not a format."""
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise ConfigError(f"source {text!r} must look like NAME=PATH or NAME=PATH:FORMAT")
        path, fmt = rest, None
        head, colon, tail = rest.rpartition(":")
        if colon and head and "/" not in tail and not tail.startswith("//") and tail and not _is_drive(head):
            path, fmt = head, tail
        return SourceSpec(name=name.strip(), path=path, format=fmt)


def _is_drive(head: str) -> bool:
    """True for a bare Windows drive letter like 'C' (so 'C:foo' is not read as a format)."""
    return len(head) == 1 and head.isalpha()
