"""Coverage metrics: of the label space (through the objective's information matrix) and of the embedding space."""

from __future__ import annotations

import numpy as np

from postmix.mixture.similarity import top_similarities
from postmix.select.objective import InformationObjective


def _informed_labels(objective: InformationObjective, rows: np.ndarray) -> np.ndarray:
    """Mask of labels k with sum over `rows` of Xp_ik > 0 (propagated information, as the objective sees it)."""
    information = np.asarray(objective.rows[np.asarray(rows, dtype=np.int64)].sum(axis=0)).ravel()
    return information > 0


def label_coverage(objective: InformationObjective, selected: np.ndarray) -> float:
    """Share of the labels the pool carries information on that the selection carries information on too."""
    pool_labels = _informed_labels(objective, np.arange(objective.rows.shape[0]))
    if not pool_labels.any():
        return 0.0
    return float(_informed_labels(objective, selected)[pool_labels].sum() / pool_labels.sum())


def label_presence(labels, selected: np.ndarray) -> float:
    """Share of the labels present in some pool row (weight > 0 before propagation) present in some selected row."""
    in_pool = np.asarray((labels > 0).sum(axis=0)).ravel() > 0
    if not in_pool.any():
        return 0.0
    in_selection = np.asarray((labels[np.asarray(selected, dtype=np.int64)] > 0).sum(axis=0)).ravel() > 0
    return float(in_selection[in_pool].sum() / in_pool.sum())


def coverage_sample(n_rows: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """The pool rows semantic coverage is measured over: all of them, or a seeded sample in row order."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def semantic_coverage(unit_vectors: np.ndarray, sample_rows: np.ndarray, selected: np.ndarray, threads: int) -> float:
    """Mean over the sampled pool rows of the highest cosine to any selected row (1.0 = every row is selected)."""
    if len(selected) == 0 or len(sample_rows) == 0:
        return 0.0
    best, _ = top_similarities(unit_vectors[sample_rows], unit_vectors[np.asarray(selected, dtype=np.int64)], 1,
                               threads)
    return float(np.mean(best[:, 0], dtype=np.float64))
