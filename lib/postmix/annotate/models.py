"""Loading models once per process, with validation and a fingerprint (sha256 of the file).

fastText for every kind; a quality model whose file ends in `.lgbm` is the LightGBM ranker (quality_rank.py).

A model is cached under (kind, resolved path, sha256): a file replaced in place gets a new fingerprint and is loaded
again, and two workers loading the same bytes agree on the fingerprint they write in every row.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import fasttext

from postmix.annotate.calibration import PlattCalibration, load_calibration
from postmix.annotate.labelled import decode_label
from postmix import model_cache
from postmix.errors import ModelError

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_TASK_MODEL = MODELS_DIR / "task_magpie12.ftz"
FASTTEXT_QUALITY_MODEL = MODELS_DIR / "quality_alpacaeval.ftz"
RANKER_QUALITY_MODEL = MODELS_DIR / "quality_rank.lgbm"
# The default quality model: the ranker beats fastText and reply length on `make bench-quality` (docs/BENCHMARKS.md).
DEFAULT_QUALITY_MODEL = RANKER_QUALITY_MODEL
LABEL_PREFIX = "__label__"
QUALITY_LABELS = ("bad", "good")


@dataclass(frozen=True)
class LoadedModel:
    kind: str  # "task" | "quality" | "lid"
    name: str  # file name, written in every row
    path: str
    sha256: str
    labels: Tuple[str, ...]  # decoded: no __label__ prefix, no percent-encoding
    model: object  # fasttext.FastText._FastText, or quality_rank.QualityRanker for a .lgbm quality model
    calibration: Optional[PlattCalibration] = None


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the key so that an edited file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(kind: str, path: os.PathLike | str) -> LoadedModel:
    """The validated model at `path` (cached per process); any problem is a ModelError naming the path."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise ModelError(f"{kind} model file not found: {resolved}")
    return _load_validated(kind, str(resolved), model_fingerprint(resolved))


def model_fingerprint(path: Path) -> str:
    """sha256 of the model file; for a ranker with companion files (its text scorers, its group model), sha256 over
    the file hashes, so replacing any of them changes the fingerprint every annotated row records."""
    from postmix.annotate.quality_rank import companion_files, is_ranker_path

    companions = companion_files(path) if is_ranker_path(path) else []
    if not companions:
        return file_sha256(path)
    joined = "\n".join(f"{p.name}:{file_sha256(p)}" for p in [path, *companions])
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=16)
def _load_validated(kind: str, path: str, sha256: str) -> LoadedModel:
    from postmix.annotate.quality_rank import is_ranker_path, load_ranker

    if is_ranker_path(path):
        if kind != "quality":
            raise ModelError(f"{kind} model {path}: LightGBM (.lgbm) models are quality rankers only")
        calibration = load_calibration(Path(path))
        if calibration.method != "platt_score":
            raise ModelError(f"quality model {path}: a ranker needs a 'platt_score' calibration, got "
                             f"{calibration.method!r}")
        return LoadedModel(kind, Path(path).name, path, sha256, QUALITY_LABELS, load_ranker(path), calibration)
    model = _read_fasttext(kind, path)
    labels = _checked_labels(kind, path, model.get_labels())
    calibration = load_calibration(Path(path)) if kind == "quality" else None
    if calibration is not None and calibration.method != "platt":
        raise ModelError(f"quality model {path}: a fastText model needs a 'platt' calibration")
    return LoadedModel(kind, Path(path).name, path, sha256, labels, model, calibration)


def _read_fasttext(kind: str, path: str):
    from postmix.console import quiet_libraries

    quiet_libraries()  # loaded in Spark workers too: postmix.console
    try:
        model = fasttext.load_model(path)
    except (ValueError, RuntimeError, MemoryError, OSError) as err:
        raise ModelError(f"{kind} model {path} cannot be loaded as a fastText model (corrupt or wrong file): {err}") \
            from err
    if not model.is_quantized() and not model.get_labels():
        raise ModelError(f"{kind} model {path} is not a supervised fastText classifier")
    return model


def _checked_labels(kind: str, path: str, raw_labels) -> Tuple[str, ...]:
    raw = [str(label) for label in raw_labels]
    if len(raw) < 2 or not all(label.startswith(LABEL_PREFIX) for label in raw):
        raise ModelError(f"{kind} model {path} has no usable label set (need >= 2 '__label__' labels, got {raw[:5]})")
    labels = tuple(decode_label(label) for label in raw)
    if kind == "quality" and sorted(labels) != list(QUALITY_LABELS):
        raise ModelError(f"quality model {path} must have exactly the labels {QUALITY_LABELS}, got {labels}")
    if kind == "lid" and not all(1 < len(code) <= 8 for code in labels):
        raise ModelError(f"language model {path} labels are not language codes: {labels[:5]}")
    return labels


def clear_caches() -> None:
    """Forget loaded models and fingerprints (tests that rewrite a model file in place use this)."""
    _load_validated.cache_clear()
    _sha256_of.cache_clear()


model_cache.register("annotate", clear_caches)  # a worker keeps one stage's models: postmix.model_cache
