"""Semantic near-duplicates inside one k-means cluster, SemDeDup style.

The Spark side groups the embeddings by cluster_id (the nearest label) and calls find_near_duplicates once per
cluster, so no comparison ever crosses clusters and nothing is all-pairs over the pool. Inside a cluster, pairs with
cosine >= threshold are found by blocked inner products (memory: block x window, never n x n), joined transitively
(connected components of the pair graph, i.e. union-find), and each group keeps one member: the highest quality, ties and the no-quality case going to the
smallest sample_id. A cluster above max_cluster_rows is compared in overlapping windows of max_cluster_rows rows
along its main axis (top principal component), so work and memory stay bounded; pairs further apart than half a
window along that axis are not compared (docs/SEMANTIC.md).
"""

from __future__ import annotations

import functools
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from postmix.embed.validate import stack_vectors, valid_rows
from postmix.errors import ConfigError, InputError
from postmix.semantic.params import SemanticParams

BLOCK_ROWS = 1024
OUTPUT_COLUMNS = ("sample_id", "duplicate_of", "similarity", "cluster_id")


def _empty_result() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": pd.Series([], dtype=object),
            "duplicate_of": pd.Series([], dtype=object),
            "similarity": pd.Series([], dtype=np.float32),
            "cluster_id": pd.Series([], dtype=np.int32),
        }
    )


def _pairs_within(matrix: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of rows with cosine >= threshold, computed one row block at a time."""
    firsts, seconds = [], []
    for start in range(0, len(matrix), BLOCK_ROWS):
        sims = matrix[start : start + BLOCK_ROWS] @ matrix[start:].T
        rows, cols = np.nonzero(sims >= threshold)
        ahead = cols > rows  # cols are offset by `start` like rows: upper triangle, self left out
        firsts.append(rows[ahead] + start)
        seconds.append(cols[ahead] + start)
    return np.concatenate(firsts), np.concatenate(seconds)


def main_axis(matrix: np.ndarray) -> np.ndarray:
    """Unit top principal direction of the rows, sign fixed (largest component positive): deterministic."""
    centred = matrix.astype(np.float64) - matrix.mean(axis=0, dtype=np.float64)
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    axis = eigenvectors[:, -1]
    return axis if axis[np.argmax(np.abs(axis))] > 0 else -axis


def comparison_windows(matrix: np.ndarray, max_rows: int) -> Iterator[np.ndarray]:
    """Row-index windows to compare: all rows, or overlapping windows along the main axis when above max_rows."""
    n = len(matrix)
    if n <= max_rows:
        yield np.arange(n)
        return
    order = np.argsort(matrix @ main_axis(matrix).astype(np.float32), kind="stable")
    step = max(1, max_rows // 2)
    for start in range(0, n - step, step):
        yield order[start : start + max_rows]


def transitive_groups(n: int, firsts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Group id per row: rows linked by any chain of pairs share one (connected components = union-find result)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    links = coo_matrix((np.ones(len(firsts), dtype=np.int8), (firsts, seconds)), shape=(n, n))
    return connected_components(links, directed=False)[1]


def _keeper(members: np.ndarray, quality: np.ndarray | None) -> int:
    """Highest quality (NaN counts as lowest), ties to the smallest index (= smallest sample_id)."""
    if quality is None:
        return int(members.min())
    scores = np.nan_to_num(quality[members], nan=-np.inf)
    best = members[scores == scores.max()]
    return int(best.min())


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, found once (finding them reads /proc, ~7 ms a call)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def find_near_duplicates(
    sample_ids: Sequence[str],
    vectors: np.ndarray,
    quality: Sequence[float] | None,
    threshold: float,
    max_cluster_rows: int,
    cluster_id: int = -1,
    blas_threads: int = 1,
) -> pd.DataFrame:
    """Rows (sample_id, duplicate_of, similarity, cluster_id) for every member of one cluster that is dropped.

    similarity is the cosine to the kept member; through transitive links it can be below the threshold (each
    link is >= threshold). Rows with NaN or zero vectors are never duplicates. The result is sorted by sample_id and
    does not depend on the input row order. BLAS runs on blas_threads threads: a cluster's products are small,
    and a multi-threaded BLAS on them spends its time waiting for its threads (measured 300x slower at 40 rows on
    a busy 2-core machine); one thread is also what a Spark task owns.
    """
    with _blas_controller().limit(limits=blas_threads, user_api="blas"):
        return _find_near_duplicates(sample_ids, vectors, quality, threshold, max_cluster_rows, cluster_id)


def _find_near_duplicates(
    sample_ids: Sequence[str],
    vectors: np.ndarray,
    quality: Sequence[float] | None,
    threshold: float,
    max_cluster_rows: int,
    cluster_id: int,
) -> pd.DataFrame:
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"semantic.dedup_threshold: {threshold} is not a cosine in (0, 1]")
    if max_cluster_rows < 2:
        raise ConfigError(f"semantic.max_cluster_rows: {max_cluster_rows} must be >= 2")
    ids = np.asarray(sample_ids, dtype=object)
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or len(matrix) != len(ids):
        raise InputError(f"semantic dedup: {len(ids)} sample ids but vectors of shape {matrix.shape}")
    if len(set(ids.tolist())) != len(ids):
        raise InputError(f"semantic dedup: cluster {cluster_id} lists a sample_id more than once")
    ok = valid_rows(matrix)
    scores = None if quality is None else np.asarray(quality, dtype=np.float64)[ok]
    ids, matrix = ids[ok], matrix[ok]
    order = np.argsort(ids.astype(str), kind="stable")  # canonical order: input order never matters
    ids, matrix = ids[order], matrix[order] / np.linalg.norm(matrix[order], axis=1, keepdims=True)
    scores = None if scores is None else scores[order]
    if len(ids) < 2:
        return _empty_result()

    firsts, seconds = [], []
    for window in comparison_windows(matrix, max_cluster_rows):
        first, second = _pairs_within(matrix[window], threshold)
        firsts.append(window[first])
        seconds.append(window[second])
    groups = transitive_groups(len(ids), np.concatenate(firsts), np.concatenate(seconds))
    sizes = np.bincount(groups)
    records = []
    in_groups = np.flatnonzero(sizes[groups] > 1)
    for group in np.unique(groups[in_groups]):
        members = in_groups[groups[in_groups] == group]
        kept = _keeper(members, scores)
        for member in members[members != kept]:
            records.append((ids[member], ids[kept], float(matrix[member] @ matrix[kept]), cluster_id))
    if not records:
        return _empty_result()
    result = pd.DataFrame.from_records(records, columns=list(OUTPUT_COLUMNS))
    result["similarity"] = result["similarity"].astype(np.float32)
    result["cluster_id"] = result["cluster_id"].astype(np.int32)
    return result.sort_values("sample_id", kind="stable").reset_index(drop=True)


def near_duplicates_frame(pdf: pd.DataFrame, params: SemanticParams, dim: int) -> pd.DataFrame:
    """One cluster's rows (sample_id, cluster_id, vector[, quality]) -> its near-duplicate rows (applyInPandas)."""
    missing = {"sample_id", "cluster_id", "vector"} - set(pdf.columns)
    if missing:
        raise InputError(f"semantic dedup: batch lacks column(s) {sorted(missing)}; has {list(pdf.columns)}")
    clusters = pdf["cluster_id"].unique()
    if len(clusters) > 1:
        raise InputError(f"semantic dedup: one call takes one cluster, got {len(clusters)} ({sorted(clusters)[:5]}..)")
    batch = stack_vectors(pdf["vector"].tolist(), dim)
    quality = pdf["quality"].to_numpy(dtype=np.float64)[batch.valid] if "quality" in pdf.columns else None
    return find_near_duplicates(
        pdf["sample_id"].to_numpy()[batch.valid], batch.matrix, quality,
        params.dedup_threshold, params.max_cluster_rows, int(clusters[0]) if len(clusters) else -1,
        params.dedup_threads,
    )
