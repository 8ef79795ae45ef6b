"""Parameters of `postmix export` (mapped from the `export:` config section or the CLI flags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from postmix.errors import ConfigError

FORMATS = ("jsonl", "parquet")
STYLES = ("messages", "sharegpt", "alpaca")
ORDERS = ("rank", "sample_id")


@dataclass(frozen=True)
class ExportParams:
    """How the mixture is written for trainers (docs/REPORT.md, "Export", has the mapping of each style).

    format: jsonl (one JSON object a line, UTF-8) or parquet (one file, zstd).
    style: messages (TRL / Hugging Face chat), sharegpt or alpaca (LLaMA-Factory).
    extra_columns: the mixture columns written next to the style's fields; None = every column but `messages`.
        `sample_id` is always written.
    order: rows by selection rank (a prefix of the file is the greedy pick for a smaller budget) or by sample_id.
    """

    format: str = "jsonl"
    style: str = "messages"
    extra_columns: Optional[tuple[str, ...]] = None
    order: str = "rank"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"export.format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.style not in STYLES:
            raise ConfigError(f"export.style must be one of {', '.join(STYLES)}, got {self.style!r}")
        if self.order not in ORDERS:
            raise ConfigError(f"export.order must be one of {', '.join(ORDERS)}, got {self.order!r}")
