"""Near-duplicates inside a selection: how much of the budget went to rows that say what another row says."""

from __future__ import annotations

import numpy as np

from postmix.mixture.similarity import top_similarities


def nearest_other_similarity(unit_vectors: np.ndarray, threads: int) -> np.ndarray:
    """For each row, the highest cosine to any other row of the same set (-1 for a set of one row)."""
    if len(unit_vectors) < 2:
        return np.full(len(unit_vectors), -1.0, dtype=np.float32)
    similarities, indices = top_similarities(unit_vectors, unit_vectors, 2, threads)
    own = np.arange(len(unit_vectors))
    # the row itself is normally first; with an exact duplicate faiss may list the twin first, so pick by index
    return np.where(indices[:, 0] == own, similarities[:, 1], similarities[:, 0])


def near_duplicate_rate(unit_vectors: np.ndarray, selected: np.ndarray, threshold: float, threads: int) -> float:
    """Share of selected rows whose nearest other selected row has cosine >= threshold."""
    if len(selected) == 0:
        return 0.0
    nearest = nearest_other_similarity(unit_vectors[np.asarray(selected, dtype=np.int64)], threads)
    return float(np.mean(nearest >= threshold))
