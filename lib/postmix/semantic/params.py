"""Parameters of the semantic stage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from postmix.errors import ConfigError


@dataclass(frozen=True)
class SemanticParams:
    """How semantic labels, the label graph and near-duplicates are made (see docs/SEMANTIC.md for the defaults).

    k: number of k-means labels; None = default_k(pool rows), the rule in postmix.semantic.kmeans.
    fit_sample_rows: at most this many vectors (a seeded sample) fit the centroids on the driver.
    seed: seeds the fit sample, faiss's initialisation and every split; same seed and inputs -> same labels.
    niter: k-means iterations.
    fit_threads: OpenMP threads of the driver-side k-means fit; 0 = every core (centroids were found identical
        for 1 and 2 threads; the tests check it).
    assign_threads: OpenMP threads of faiss search in assign_labels; 1 by default, one per Spark task core.
        Pinned because the thread count changes the last bits of the similarities (not the labels).
    top_m: at most this many labels per sample; label_floor: a label beyond the first is kept only if its cosine
        to the sample is >= this (the nearest label is always kept, so every valid sample has one).
    graph_threshold: label-graph edges where cosine(label_i, label_j) >= this (calibrated for MiniLM).
    include_task_labels: add the text embeddings of the distinct tasks in `annotations` as named labels.
    dedup_threshold: cosine at or above which two samples of one cluster are near-duplicates.
    max_cluster_rows: clusters larger than this are split (overlapping windows along their main axis) for dedup.
    dedup_threads: BLAS threads of the within-cluster products (1 = one Spark task core).
    """

    k: Optional[int] = None
    fit_sample_rows: int = 200_000
    seed: int = 0
    niter: int = 20
    fit_threads: int = 0
    assign_threads: int = 1
    top_m: int = 3
    label_floor: float = 0.5
    graph_threshold: float = 0.55
    include_task_labels: bool = True
    dedup_threshold: float = 0.95
    max_cluster_rows: int = 20_000
    dedup_threads: int = 1

    def __post_init__(self) -> None:
        minimums = {"fit_sample_rows": 1, "niter": 1, "fit_threads": 0, "assign_threads": 1, "top_m": 1,
                    "max_cluster_rows": 2, "dedup_threads": 1}
        for name, minimum in minimums.items():
            if getattr(self, name) < minimum:
                raise ConfigError(f"semantic.{name} must be >= {minimum}, got {getattr(self, name)!r}")
        if self.k is not None and self.k < 2:
            raise ConfigError(f"semantic.k must be >= 2 (or unset for the default), got {self.k!r}")
        for name in ("label_floor", "graph_threshold", "dedup_threshold"):
            value = getattr(self, name)
            if not (math.isfinite(value) and -1.0 <= value <= 1.0):
                raise ConfigError(f"semantic.{name} is a cosine: it must be in [-1, 1], got {value!r}")
        if self.dedup_threshold <= 0.0:
            raise ConfigError(f"semantic.dedup_threshold must be in (0, 1] (at or below 0 every pair of a cluster "
                              f"would be a near-duplicate), got {self.dedup_threshold!r}")
