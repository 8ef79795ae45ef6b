"""Checks on stored vectors before k-means, assignment or dedup use them.

Row-level problems (a null, NaN or zero vector, a vector of another length than its row says) become flags, so one
bad row never stops a job; the rows are left out of the semantic stage. A batch whose vectors come from another
model or another dimension than the configured one is a ModelError: mixing embedding spaces is never silently right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from postmix.errors import ModelError

FLAG_NULL_VECTOR = "null_vector"
FLAG_NAN_VECTOR = "nan_vector"
FLAG_ZERO_VECTOR = "zero_vector"
FLAG_WRONG_DIM = "wrong_dim"

# Normalised vectors have norm 1; anything this small carries no direction.
MIN_NORM = 1e-6


@dataclass(frozen=True)
class VectorBatch:
    """Valid rows stacked as float32 (n_valid, dim), the mask of valid input rows, and each input row's flags."""

    matrix: np.ndarray
    valid: np.ndarray
    flags: list[list[str]]


def require_model(stored_models: Sequence[str], expected_model: str, where: str) -> None:
    """ModelError unless every stored vector was made by the configured model (name or fingerprint)."""
    others = sorted({m for m in stored_models if m != expected_model})
    if others:
        raise ModelError(
            f"{where}: vectors from model(s) {others} but the configured model is {expected_model!r}; "
            "re-run embed for the configured model or configure the model the vectors were made with"
        )


def require_dim(matrix: np.ndarray, expected_dim: int, where: str) -> None:
    """ModelError unless the matrix is (n, expected_dim)."""
    if matrix.ndim != 2 or matrix.shape[1] != expected_dim:
        raise ModelError(f"{where}: vectors of shape {matrix.shape}, expected (n, {expected_dim})")


def row_flags(vector: Any, expected_dim: int) -> list[str]:
    """The problems of one stored vector: null, wrong length, NaN/inf, or zero norm (empty list when fine)."""
    if vector is None:
        return [FLAG_NULL_VECTOR]
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != expected_dim:
        return [FLAG_WRONG_DIM]
    if not np.all(np.isfinite(array)):
        return [FLAG_NAN_VECTOR]
    if float(np.linalg.norm(array)) < MIN_NORM:
        return [FLAG_ZERO_VECTOR]
    return []


def stack_vectors(vectors: Sequence[Any], expected_dim: int) -> VectorBatch:
    """Stack the usable vectors of a column (lists or arrays) into one re-normalised float32 matrix."""
    flags = [row_flags(v, expected_dim) for v in vectors]
    valid = np.array([not f for f in flags], dtype=bool)
    if valid.any():
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v, ok in zip(vectors, valid) if ok])
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    else:
        matrix = np.empty((0, expected_dim), dtype=np.float32)
    return VectorBatch(matrix, valid, flags)


def valid_rows(matrix: np.ndarray) -> np.ndarray:
    """Mask of rows of a float matrix that are finite and not zero."""
    finite = np.all(np.isfinite(matrix), axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], matrix, 0.0), axis=1)
    return finite & (norms >= MIN_NORM)
