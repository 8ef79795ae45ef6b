"""Nearest-neighbour cosine searches with faiss (exact inner product on L2-normalised vectors), threads pinned."""

from __future__ import annotations

import numpy as np

from postmix.errors import InputError

# Stored vectors are normalised; a norm this small has no direction and cannot be compared.
MIN_NORM = 1e-6


def normalised(vectors: np.ndarray, where: str) -> np.ndarray:
    """Float32 rows scaled to unit norm; InputError on NaN, infinite or zero rows (never a silent 0 similarity)."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise InputError(f"{where}: embeddings must be a (n, d) matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise InputError(f"{where}: embeddings contain NaN or infinity (row {bad})")
    norms = np.linalg.norm(matrix, axis=1)
    if np.any(norms < MIN_NORM):
        raise InputError(f"{where}: embedding row {int(np.flatnonzero(norms < MIN_NORM)[0])} is a zero vector")
    return np.ascontiguousarray(matrix / norms[:, None], dtype=np.float32)


def top_similarities(queries: np.ndarray, database: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, indices) of the k nearest database rows per query, best first; both inputs already normalised."""
    import faiss
    from threadpoolctl import threadpool_limits

    from postmix.console import quiet_libraries

    quiet_libraries()  # postmix.console: this may be a Spark worker
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexFlatIP(database.shape[1])
    index.add(database)
    with threadpool_limits(limits=threads, user_api="blas"):
        similarities, indices = index.search(queries, k)
    return np.minimum(similarities, 1.0), indices
