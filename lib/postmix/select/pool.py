"""The selection pool and the label graph: the two inputs every selector takes.

Both are validated on construction so that a bad pool fails with a message naming the field, not with an
IndexError deep inside a greedy loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np
import scipy.sparse as sp

from postmix.errors import InputError


def _canonical_csr(matrix: sp.spmatrix, dtype=np.float64) -> sp.csr_matrix:
    """CSR with summed duplicates, sorted indices and no explicit zeros: the row sums then never depend on how the
    matrix was assembled, which keeps results identical across partitionings."""
    csr = sp.csr_matrix(matrix, dtype=dtype, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


@dataclass(frozen=True)
class LabelGraph:
    """Similarity between labels: K x K sparse, symmetric, diagonal 1, edges kept where >= T by its builder."""

    weights: sp.csr_matrix
    label_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        weights = _canonical_csr(self.weights)
        object.__setattr__(self, "weights", weights)
        n_rows, n_cols = weights.shape
        if n_rows != n_cols:
            raise InputError(f"label graph: weights must be square, got {n_rows} x {n_cols}")
        if self.label_names and len(self.label_names) != n_rows:
            raise InputError(f"label graph: {len(self.label_names)} label names for {n_rows} labels")
        if not np.all(np.isfinite(weights.data)) or np.any(weights.data < 0):
            raise InputError("label graph: weights must be finite and non-negative")
        if not np.allclose(weights.diagonal(), 1.0):
            raise InputError("label graph: the diagonal must be 1 (each label is fully similar to itself)")
        asymmetry = abs(weights - weights.T)
        if asymmetry.nnz and asymmetry.max() > 1e-9:
            raise InputError("label graph: weights must be symmetric")

    @property
    def n_labels(self) -> int:
        return self.weights.shape[0]

    @classmethod
    def identity(cls, n_labels: int) -> "LabelGraph":
        """No propagation between labels: each label only covers itself."""
        return cls(sp.identity(n_labels, format="csr", dtype=np.float64))


@dataclass(frozen=True)
class SelectionPool:
    """Candidate rows for selection, one entry per sample, all arrays aligned on the row index."""

    sample_ids: np.ndarray
    quality: np.ndarray
    labels: sp.csr_matrix
    costs: np.ndarray
    label_names: tuple[str, ...]
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)
    embeddings: Optional[np.ndarray] = None
    near_duplicate: Optional[np.ndarray] = None
    response_chars: Optional[np.ndarray] = None  # characters of the assistant turns (method "longest")

    def __post_init__(self) -> None:
        n = len(self.sample_ids)
        object.__setattr__(self, "sample_ids", np.asarray(self.sample_ids).astype(str))
        object.__setattr__(self, "quality", _float_vector("quality", self.quality, n))
        object.__setattr__(self, "costs", _float_vector("costs", self.costs, n))
        object.__setattr__(self, "labels", _canonical_csr(self.labels))
        object.__setattr__(self, "label_names", tuple(str(name) for name in self.label_names))
        object.__setattr__(self, "groups", {str(k): np.asarray(v).astype(str) for k, v in self.groups.items()})
        self._check_ids()
        self._check_quality_and_costs()
        self._check_labels(n)
        self._check_optional(n)

    def _check_ids(self) -> None:
        if len(np.unique(self.sample_ids)) != len(self.sample_ids):
            raise InputError("selection pool: sample_ids must be unique (they are the tie-break key)")

    def _check_quality_and_costs(self) -> None:
        if np.any(self.quality <= 0) or np.any(self.quality > 1):
            bad = int(np.flatnonzero((self.quality <= 0) | (self.quality > 1))[0])
            raise InputError(f"selection pool: quality must be in (0, 1], row {bad} "
                             f"({self.sample_ids[bad]}) has {self.quality[bad]}")
        if np.any(self.costs <= 0):
            bad = int(np.flatnonzero(self.costs <= 0)[0])
            raise InputError(f"selection pool: costs must be > 0, row {bad} ({self.sample_ids[bad]}) has "
                             f"{self.costs[bad]}")

    def _check_labels(self, n: int) -> None:
        if self.labels.shape != (n, len(self.label_names)):
            raise InputError(f"selection pool: labels are {self.labels.shape[0]} x {self.labels.shape[1]}, expected "
                             f"{n} rows x {len(self.label_names)} label names")
        if not np.all(np.isfinite(self.labels.data)) or np.any(self.labels.data < 0):
            raise InputError("selection pool: label weights must be finite and non-negative")

    def _check_optional(self, n: int) -> None:
        for column, values in self.groups.items():
            if len(values) != n:
                raise InputError(f"selection pool: group column {column!r} has {len(values)} values for {n} rows")
        if self.embeddings is not None:
            embeddings = np.asarray(self.embeddings, dtype=np.float32)
            object.__setattr__(self, "embeddings", embeddings)
            if embeddings.ndim != 2 or embeddings.shape[0] != n:
                raise InputError(f"selection pool: embeddings must be {n} x d, got {embeddings.shape}")
            if not np.all(np.isfinite(embeddings)):
                raise InputError("selection pool: embeddings contain NaN or infinity")
        if self.near_duplicate is not None:
            mask = np.asarray(self.near_duplicate)
            if mask.dtype != bool or mask.shape != (n,):
                raise InputError(f"selection pool: near_duplicate must be a bool mask of {n} rows")
            object.__setattr__(self, "near_duplicate", mask)
        if self.response_chars is not None:
            lengths = _float_vector("response_chars", self.response_chars, n)
            if np.any(lengths < 0):
                bad = int(np.flatnonzero(lengths < 0)[0])
                raise InputError(f"selection pool: response_chars must be >= 0, row {bad} ({self.sample_ids[bad]}) "
                                 f"has {lengths[bad]}")
            object.__setattr__(self, "response_chars", lengths)

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    def id_ranks(self) -> np.ndarray:
        """Position of each row in sample_id order: the tie-break key (smaller sample_id wins)."""
        order = np.argsort(self.sample_ids, kind="stable")
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order))
        return ranks

    def subset(self, rows: np.ndarray) -> "SelectionPool":
        """The pool restricted to `rows` (in that order): partitions and the distributed merge use it."""
        rows = np.asarray(rows, dtype=np.int64)
        return SelectionPool(
            sample_ids=self.sample_ids[rows],
            quality=self.quality[rows],
            labels=self.labels[rows],
            costs=self.costs[rows],
            label_names=self.label_names,
            groups={column: values[rows] for column, values in self.groups.items()},
            embeddings=None if self.embeddings is None else self.embeddings[rows],
            near_duplicate=None if self.near_duplicate is None else self.near_duplicate[rows],
            response_chars=None if self.response_chars is None else self.response_chars[rows],
        )


def _float_vector(name: str, values, n: int) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float64)
    if vector.shape != (n,):
        raise InputError(f"selection pool: {name} must have one value per sample ({n}), got shape {vector.shape}")
    if not np.all(np.isfinite(vector)):
        bad = int(np.flatnonzero(~np.isfinite(vector))[0])
        raise InputError(f"selection pool: {name} has NaN or infinity at row {bad}")
    return vector
