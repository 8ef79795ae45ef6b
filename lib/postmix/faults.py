"""Fault injection for the kill-and-rerun tests: crash the process right after a chosen Delta commit.

Set POSTMIX_CRASH_AFTER=<table> (or <stage>:<table>) and the process SIGKILLs itself after its next commit to that
table, as a killed driver would die: no cleanup, no finally blocks. Unset (always, outside tests) it does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "POSTMIX_CRASH_AFTER"


def crash_point_reached(stage: str, table: str) -> None:
    target = os.environ.get(ENV)
    if target and target in (table, f"{stage}:{table}"):
        os.kill(os.getpid(), signal.SIGKILL)
