"""Facts about a run that are not parameters: code version, peak memory, redaction of secrets."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import Any, Mapping

import psutil

import postmix

_SECRET_KEY = re.compile(r"(secret|password|passwd|token|credential|access[._-]?key|session[._-]?key|auth)", re.I)
_SECRET_IN_TEXT = re.compile(
    r"((?:secret|password|passwd|token|credential|access[._-]?key|session[._-]?key)[\w.-]*\s*[=:]\s*)([^\s,;'\"]+)",
    re.I,
)
REDACTED = "***redacted***"


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-looking keys (s3a secret keys, tokens, passwords) replaced."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out[key] = redact_mapping(value)
        elif _SECRET_KEY.search(str(key)):
            out[key] = REDACTED
        else:
            out[key] = value
    return out


def redact_text(text: str) -> str:
    """Hide `key=value` secrets inside free text such as an error message."""
    return _SECRET_IN_TEXT.sub(lambda m: m.group(1) + REDACTED, text)


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout (fixed argv: no shell)."""
    root = Path(postmix.__file__).resolve().parents[2]
    version = postmix.__version__
    if (root / ".git").exists():
        try:
            sha = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
            version += f"+g{sha}" + (".dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return version


class PeakRss:
    """Samples the resident memory of this process and its children (the Spark JVM in local mode).

    Use as a context manager; `peak_mb` is the highest sum seen. Sampling every 0.2 s misses very short peaks,
    which is fine for stage-level figures.
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakRss":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        try:
            me = psutil.Process()
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            return
        self.peak_mb = max(self.peak_mb, total / 2**20)
