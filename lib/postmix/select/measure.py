"""Wall time and peak memory of one selection, logged (debug) on the "postmix.select" logger, plus the progress bar."""

from __future__ import annotations

import logging
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

from tqdm import tqdm

logger = logging.getLogger("postmix.select")


@dataclass
class Measurement:
    """Filled when the measured block ends. peak_rss_kind says what peak_rss_bytes means:
    'selection' = process peak RSS during the block (Linux VmHWM, reset at the start of the block);
    'process' = peak RSS since the process started (where VmHWM cannot be reset)."""

    wall_time_s: float = 0.0
    peak_rss_bytes: int = 0
    peak_rss_kind: str = ""


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # "5" resets the VmHWM high-water mark (Linux >= 4.0)
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def measured(what: str, **details):
    """Time a block and record its peak memory; log one line when it ends."""
    measurement = Measurement()
    measurement.peak_rss_kind = "selection" if _reset_peak_rss() else "process"
    start = time.perf_counter()
    yield measurement
    measurement.wall_time_s = time.perf_counter() - start
    measurement.peak_rss_bytes = _peak_rss_bytes()
    extra = " ".join(f"{key}={value}" for key, value in details.items())
    logger.debug("%s %s wall_time_s=%.3f peak_rss_mib=%.1f (%s peak)", what, extra, measurement.wall_time_s,
                measurement.peak_rss_bytes / 2**20, measurement.peak_rss_kind)


def progress_bar(total: float, enabled: bool, description: str):
    """tqdm on stderr; `enabled=False` (params.progress) silences it."""
    return tqdm(total=total, disable=not enabled, file=sys.stderr, desc=description, leave=False)
