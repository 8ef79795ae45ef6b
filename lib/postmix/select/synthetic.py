"""Synthetic selection pools with realistic sparsity, for tests and the benchmark (seeded, deterministic).

The generator, so benchmark figures can be read against it:
- labels: 12 task labels (Magpie's categories) then K - 12 semantic labels (k-means clusters in the real pipeline);
- label graph: semantic labels sit on a ring; each links to its `degree // 2` nearest ring neighbours on each side
  with similarity uniform in [0.90, 0.99) (the kept edges of a T = 0.9 cosine graph), so average degree = `degree`;
  task labels have no edges (diagonal only);
- each sample: one task label (weight 1, Zipf-like task frequencies), a primary semantic label (Zipf-like cluster
  sizes) and two secondary labels among the primary's graph neighbours, with Dirichlet(3, 1.5, 1) weights sorted
  so the primary weighs most: 4 non-zeros per row, as "task + top-3 semantic labels";
- quality ~ Beta(5, 2) clipped to [0.01, 1]; cost ~ round(LogNormal(log 300, 0.8)) + 1 tokens;
- groups: source (6 sources, skewed shares) and task; about 3% of rows flagged as near-duplicates;
- sample_ids are a random permutation of zero-padded integers, so id order is unrelated to row order;
- embeddings (optional, d = `embedding_dim`): the primary label's random unit centroid plus noise, L2-normalised.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from postmix.annotate.taxonomy import MAGPIE_CATEGORIES
from postmix.select.pool import LabelGraph, SelectionPool

TASKS = MAGPIE_CATEGORIES
SOURCES = ("dolly", "gpteacher", "oasst", "alpaca", "codealpaca", "sharegpt")
_SOURCE_SHARES = np.array([0.30, 0.20, 0.18, 0.15, 0.10, 0.07])


def synthetic_graph(n_labels: int, degree: int, rng: np.random.Generator) -> LabelGraph:
    """Ring graph over the semantic labels (see module doc); the task labels are isolated."""
    n_semantic = n_labels - len(TASKS)
    half = max(degree // 2, 0)
    if n_semantic < 2 * half + 1:
        raise ValueError(f"{n_semantic} semantic labels are too few for degree {degree}")
    source = np.repeat(np.arange(n_semantic), half)
    target = (source + np.tile(np.arange(1, half + 1), n_semantic)) % n_semantic
    weight = rng.uniform(0.90, 0.99, size=len(source))
    offset = len(TASKS)
    upper = sp.coo_matrix((weight, (source + offset, target + offset)), shape=(n_labels, n_labels))
    weights = upper + upper.T + sp.identity(n_labels)
    names = TASKS + tuple(f"cluster_{i:05d}" for i in range(n_semantic))
    return LabelGraph(sp.csr_matrix(weights), names)


def synthetic_pool(n_rows: int, n_labels: int, rng: np.random.Generator, degree: int = 10,
                   embedding_dim: int = 0) -> tuple[SelectionPool, LabelGraph]:
    """A pool of `n_rows` samples over `n_labels` labels and its label graph (see module doc)."""
    graph = synthetic_graph(n_labels, degree, rng)
    n_semantic = n_labels - len(TASKS)
    half = max(degree // 2, 1)
    task = rng.choice(len(TASKS), size=n_rows, p=_zipf(len(TASKS), 0.8))
    primary = rng.choice(n_semantic, size=n_rows, p=_zipf(n_semantic, 0.6))
    first = (primary + rng.integers(1, half + 1, size=n_rows)) % n_semantic
    second = (primary - rng.integers(1, half + 1, size=n_rows)) % n_semantic
    semantic_weights = -np.sort(-rng.dirichlet([3.0, 1.5, 1.0], size=n_rows), axis=1)
    rows = np.repeat(np.arange(n_rows), 4)
    columns = np.stack([task, primary + len(TASKS), first + len(TASKS), second + len(TASKS)], axis=1).ravel()
    values = np.concatenate([np.ones((n_rows, 1)), semantic_weights], axis=1).ravel()
    labels = sp.csr_matrix((values.astype(np.float32).astype(np.float64), (rows, columns)),
                           shape=(n_rows, n_labels))
    width = len(str(n_rows))
    sample_ids = np.char.add("s", np.char.zfill(rng.permutation(n_rows).astype(str), width))
    pool = SelectionPool(
        sample_ids=sample_ids,
        quality=np.clip(rng.beta(5.0, 2.0, size=n_rows), 0.01, 1.0),
        labels=labels,
        costs=np.round(rng.lognormal(np.log(300.0), 0.8, size=n_rows)) + 1.0,
        label_names=graph.label_names,
        groups={"source": np.asarray(SOURCES)[rng.choice(len(SOURCES), size=n_rows, p=_SOURCE_SHARES)],
                "task": np.asarray(TASKS)[task]},
        embeddings=_embeddings(primary, n_semantic, embedding_dim, rng) if embedding_dim else None,
        near_duplicate=rng.random(n_rows) < 0.03,
    )
    return pool, graph


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _embeddings(primary: np.ndarray, n_semantic: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centroids = rng.standard_normal((n_semantic, dim))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    vectors = centroids[primary] + 0.35 * rng.standard_normal((len(primary), dim)) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)
