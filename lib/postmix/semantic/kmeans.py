"""Semantic labels: spherical k-means fitted with faiss on a driver-side sample, assignment per batch.

fit_centroids runs once on the driver over at most fit_sample_rows vectors; the (K, d) centroids are broadcast and
assign_labels runs on each executor batch. Both pin faiss's thread count (fit_threads, assign_threads) so a
rerun on the same set-up gives the same bytes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from postmix.embed.validate import valid_rows
from postmix.errors import ConfigError, InputError
from postmix.semantic.params import SemanticParams

# The MIG paper's operating point: about 4.5K labels for a 939K-sample pool.
ANCHOR_ROWS = 939_000
ANCHOR_K = 4_500
# At least 20 rows per label: faiss's own warning sits at 39, but on small pools that cap, not the sqrt rule, sets K,
# and the curation benchmark and the demo both select better with the finer labels of 20 (docs/SEMANTIC.md).
MIN_POINTS_PER_CENTROID = 20


def default_k(n_rows: int) -> int:
    """K = 4500 * sqrt(n / 939K), at most n / 20, at least 2 (docs/SEMANTIC.md says why).

    Square-root growth keeps the paper's operating point and lets both the number of labels and the mean label
    size grow with the pool (sqrt(n) each): a bigger pool gets finer topics without labels shrinking towards
    singletons, which the paper found to hurt as much as too few labels.
    """
    if n_rows < 2:
        raise InputError(f"semantic: {n_rows} valid vectors, at least 2 are needed for k-means labels")
    k = round(ANCHOR_K * math.sqrt(n_rows / ANCHOR_ROWS))
    return int(max(2, min(k, n_rows // MIN_POINTS_PER_CENTROID)))


def _pin_threads(threads: int, name: str) -> None:
    """faiss's OpenMP thread count; 0 means every core of this machine."""
    import os

    import faiss

    if threads < 0:
        raise ConfigError(f"semantic.{name}: {threads} must be >= 0 (0 = every core)")
    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)


def _as_float32(vectors: np.ndarray, where: str) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise InputError(f"{where}: expected a (n, d) matrix, got shape {matrix.shape}")
    return matrix


def fit_sample(vectors: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """At most max_rows valid rows, drawn without replacement by a generator seeded with `seed`, in row order."""
    matrix = _as_float32(vectors, "semantic fit sample")
    matrix = matrix[valid_rows(matrix)]
    if len(matrix) <= max_rows:
        return matrix
    chosen = np.sort(np.random.default_rng(seed).choice(len(matrix), size=max_rows, replace=False))
    return matrix[chosen]


def fit_centroids(sample_vectors: np.ndarray, params: SemanticParams, k: int | None = None) -> np.ndarray:
    """Unit-norm float32 centroids (K, d) of spherical k-means (faiss, seeded) over the sample's valid rows.

    K is `k`, else params.k, else default_k(len(sample)): the Spark side passes k=default_k(pool rows) since the
    sample does not know the pool size.
    """
    import faiss

    from postmix.console import quiet_libraries

    quiet_libraries()  # before faiss's first use here (it may be a Spark worker): postmix.console
    sample = fit_sample(sample_vectors, params.fit_sample_rows, params.seed)
    n_clusters = k if k is not None else params.k if params.k is not None else default_k(len(sample))
    if not 1 <= n_clusters <= len(sample):
        raise ConfigError(f"semantic.k: {n_clusters} labels for {len(sample)} valid sample vectors (need 1..n)")
    sample = sample / np.linalg.norm(sample, axis=1, keepdims=True)
    _pin_threads(params.fit_threads, "fit_threads")
    kmeans = faiss.Kmeans(
        sample.shape[1], n_clusters, niter=params.niter, seed=params.seed, spherical=True, verbose=False,
        # The sample is already drawn (seeded, above); faiss must not subsample it again.
        max_points_per_centroid=math.ceil(len(sample) / n_clusters) + 1,
        # faiss prints a warning below its own minimum (39); ours is the rule in default_k, and a user's k is theirs
        min_points_per_centroid=1,
    )
    kmeans.train(sample)
    centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
    return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)


class LabelAssignment(NamedTuple):
    """Per row: up to top_m label ids (-1 = none) with weights summing to 1, their cosines, and the nearest label.

    cluster_id is the nearest label (the dedup group); rows with a NaN/zero vector get -1 everywhere and weight 0.
    """

    label_ids: np.ndarray  # (n, m) int32
    weights: np.ndarray  # (n, m) float32
    similarities: np.ndarray  # (n, m) float32
    cluster_id: np.ndarray  # (n,) int32


def assign_labels(vectors: np.ndarray, centroids: np.ndarray, params: SemanticParams) -> LabelAssignment:
    """The top_m nearest centroids of each row, kept where cosine >= label_floor (the first always kept).

    Weights are the kept cosines divided by their sum (clipped at 0), so a sample spreads one unit of mass over its
    labels in proportion to how close it is to each.
    """
    import faiss

    from postmix.console import quiet_libraries

    quiet_libraries()  # a Spark worker's first faiss use: postmix.console
    matrix = _as_float32(vectors, "semantic assign")
    centroids = _as_float32(centroids, "semantic centroids")
    if matrix.shape[1] != centroids.shape[1]:
        raise InputError(f"semantic assign: vectors have dim {matrix.shape[1]}, centroids {centroids.shape[1]}")
    m = min(params.top_m, len(centroids))
    n = len(matrix)
    label_ids = np.full((n, m), -1, dtype=np.int32)
    similarities = np.zeros((n, m), dtype=np.float32)
    ok = valid_rows(matrix)
    if ok.any():
        _pin_threads(params.assign_threads, "assign_threads")
        index = faiss.IndexFlatIP(centroids.shape[1])
        index.add(centroids)
        rows = matrix[ok] / np.linalg.norm(matrix[ok], axis=1, keepdims=True)
        found_sims, found_ids = index.search(rows, m)
        keep = found_sims >= params.label_floor
        keep[:, 0] = True
        label_ids[ok] = np.where(keep, found_ids, -1)
        similarities[ok] = np.where(keep, found_sims, 0.0)
    mass = np.clip(similarities, 0.0, None)
    mass[:, 0] = np.where(label_ids[:, 0] >= 0, np.maximum(mass[:, 0], 1e-6), 0.0)  # a nearest label at cosine <= 0
    totals = mass.sum(axis=1, keepdims=True)
    weights = np.divide(mass, totals, out=np.zeros_like(mass), where=totals > 0).astype(np.float32)
    return LabelAssignment(label_ids, weights, similarities, label_ids[:, 0].copy())
