"""Where postmix keeps what it builds once per machine (ONNX exports, encoder dimension notes)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/postmix, else ~/.cache/postmix."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "postmix"
