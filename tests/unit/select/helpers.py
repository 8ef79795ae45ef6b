"""Small hand-made and seeded random instances shared by the selection unit tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from postmix.select.pool import LabelGraph, SelectionPool

LABELS = ("a", "b", "c", "d")


def tiny_graph() -> LabelGraph:
    weights = np.array([[1, .5, 0, 0], [.5, 1, 0, 0], [0, 0, 1, .9], [0, 0, .9, 1.]])
    return LabelGraph(sp.csr_matrix(weights), LABELS)


def tiny_pool() -> SelectionPool:
    """Six samples; s0 and s1 are identical rows, so the sample_id tie-break decides between them."""
    labels = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [.5, 0, .5, 0], [0, 0, 0, 1], [1, 0, 0, 0]])
    return SelectionPool(
        sample_ids=np.array(["s1", "s2", "s3", "s4", "s5", "s0"]),
        quality=np.array([1, .5, 1, .8, .9, 1]),
        labels=sp.csr_matrix(labels),
        costs=np.array([10, 20, 30, 40, 50, 10.]),
        label_names=LABELS,
        groups={"source": np.array(["x", "y", "x", "y", "x", "y"])},
    )


def dense_objective(pool: SelectionPool, graph: LabelGraph, rows, alpha=1.0, beta=0.8) -> float:
    """F written straight from docs/SELECTION.md ("The objective") with dense numpy: the independent reference."""
    weights = graph.weights.toarray()
    off_diagonal = weights - np.diag(np.diag(weights))
    propagation = np.eye(len(weights)) + alpha * off_diagonal
    propagation = propagation / propagation.sum(axis=0, keepdims=True)
    information = pool.quality[:, None] * pool.labels.toarray() @ propagation
    coverage = information[list(rows)].sum(axis=0)
    return float(np.sum((coverage + 1e-6) ** beta))


def random_instance(seed: int, n_rows: int = 60, n_labels: int = 8, groups: bool = True):
    """A small random pool (1-3 labels per row, random graph; response lengths with ties) for the property tests."""
    rng = np.random.default_rng(seed)
    weights = np.triu(rng.uniform(0.3, 1.0, (n_labels, n_labels)) * (rng.random((n_labels, n_labels)) < 0.3), 1)
    graph = LabelGraph(sp.csr_matrix(weights + weights.T + np.eye(n_labels)), tuple(f"l{i}" for i in range(n_labels)))
    labels = np.zeros((n_rows, n_labels))
    for row in range(n_rows):
        chosen = rng.choice(n_labels, size=rng.integers(1, 4), replace=False)
        labels[row, chosen] = rng.uniform(0.1, 1.0, size=len(chosen))
    pool = SelectionPool(
        sample_ids=np.array([f"id{v:04d}" for v in rng.permutation(n_rows)]),
        quality=rng.uniform(0.05, 1.0, n_rows),
        labels=sp.csr_matrix(labels),
        costs=rng.integers(1, 50, n_rows).astype(float),
        label_names=graph.label_names,
        groups={"source": rng.choice(["x", "y", "z"], n_rows), "task": rng.choice(["t1", "t2"], n_rows)}
        if groups else {},
        embeddings=_unit_rows(rng.standard_normal((n_rows, 6))),
        near_duplicate=rng.random(n_rows) < 0.1,
        response_chars=rng.integers(0, 40, n_rows).astype(float),  # drawn last: the other fields stay as they were
    )
    return pool, graph


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
