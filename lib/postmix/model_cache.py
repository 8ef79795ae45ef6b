"""One stage's models at a time in a long-lived process.

Spark keeps its Python workers for the whole session and hands them every stage's tasks, so a worker that embedded
keeps the encoder (about 1.5 GB in bfloat16) while it later assigns labels, and one that annotated keeps the
fastText and ranker models while it embeds. Each module that caches models registers how to drop them; each stage's
batch function calls `use_models(stage)` before its work, which drops what other stages loaded in this process
(and hands the freed heap back to the operating system). Within a stage nothing is dropped, so a worker loads a
stage's models once however many of its tasks it runs.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from typing import Callable

_RELEASERS: dict[str, Callable[[], None]] = {}
_current: str | None = None


def register(stage: str, release: Callable[[], None]) -> None:
    """`release` drops the models `stage` caches in this process (called when another stage's work begins)."""
    _RELEASERS[stage] = release


def use_models(stage: str) -> list[str]:
    """Make `stage` the one whose models this process keeps; returns the stages whose models were dropped."""
    global _current
    if _current == stage:
        return []
    dropped = [name for name in sorted(_RELEASERS) if name != stage]
    for name in dropped:
        _RELEASERS[name]()
    _current = stage
    if dropped:
        gc.collect()
        _trim_heap()
    return dropped


def _trim_heap() -> None:
    """glibc keeps freed memory in its arenas; malloc_trim hands it back (elsewhere this does nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass
