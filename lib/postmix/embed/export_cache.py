"""Model exports built once per machine into a user cache folder: ONNX files (postmix.embed.onnx) and traced
TorchScript pipelines (postmix.embed.traced).

An export is built in a temporary folder and renamed into place, so a concurrent worker sees either no export or a
whole one. Builders of one export take turns on a lock file beside it (`.<key>.lock`, fcntl.flock): the executors of
one machine build it once, the others wait and reuse it; and a staging folder of that export found while holding the
lock belongs to a build that was killed, so it is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from postmix.errors import ModelError


def ensure_built(final: Path, marker: str, build: Callable[[Path], None], what: str) -> Path:
    """The folder `final`, built by `build(staging_folder)` when it has no `marker` file yet (atomically, once per
    machine). `what` says whose export it is in errors ("embed.backend 'onnx': cannot write its export under ...")."""
    if (final / marker).is_file():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{what}: cannot write its export under {final.parent}: {exc}") from exc
    with _build_lock(final) as locked:
        if (final / marker).is_file():
            return final  # built by the worker that held the lock before us
        if locked:
            _remove_dead_staging(final)
        return _build_into_place(final, marker, build, what)


def _build_into_place(final: Path, marker: str, build: Callable[[Path], None], what: str) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; other users of a shared cache may read the export
        os.rename(staging, final)
    except OSError as exc:
        if not (final / marker).is_file():
            raise ModelError(f"{what}: cannot write its export under {final.parent}: {exc}") from exc
        # Another worker renamed its complete export into place first; theirs is the same model.
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{what}: cannot build its export: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


@contextlib.contextmanager
def _build_lock(final: Path):
    """Exclusive flock on `.<key>.lock` beside the export, released when the block ends (or the process dies).
    Where the file system refuses locks, builds go unlocked: the atomic rename still keeps exports whole."""
    try:
        handle = open(final.parent / f".{final.name}.lock", "a+")
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            yield False
            return
        yield True


def _remove_dead_staging(final: Path) -> None:
    """Staging folders of this export left by killed builds (only called holding the build lock, so no live
    builder of this export owns one)."""
    for leftover in final.parent.glob(f".{final.name}.*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
