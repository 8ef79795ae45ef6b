"""The label graph: cosine similarity between label embeddings, edges kept where >= T, diagonal 1.

Labels are the k-means centroids (ids 0..K-1) followed by named labels (task categories, user tags) embedded from
their text with the same encoder as the samples (ids K..). The graph is K x K, small enough to broadcast, but it
is built in row blocks so that a large K never needs a dense K x K matrix.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Optional, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from postmix.errors import ConfigError, InputError

BLOCK_ROWS = 2048
TASK_PREFIX = "task:"


def task_label_names(tasks: Iterable[Optional[str]]) -> list[str]:
    """Named labels "task:<name>" for the distinct tasks annotate wrote, sorted so one set of tasks always gives the
    same label ids. Derived from the data, not a fixed vocabulary: a user task model (or task column) has its own
    labels, and a label no sample carries would only add an empty row to the graph. Null or empty tasks are left out.
    """
    return [f"{TASK_PREFIX}{task}" for task in sorted({task for task in tasks if task})]


class LabelSet(NamedTuple):
    """Label names (row i of vectors is label id i) and their unit-norm float32 embeddings."""

    names: list[str]
    vectors: np.ndarray


def label_embeddings(
    centroids: np.ndarray, named_labels: Sequence[str], encoder: Callable[[Sequence[str]], np.ndarray] | None
) -> LabelSet:
    """Centroids as labels "cluster:<i>", then each named label (e.g. "task:Math" -> text "Math") embedded.

    A named label may carry a "<kind>:" prefix; only the text after it is embedded. `encoder` maps texts to unit
    vectors in the centroids' space (e.g. functools.partial(encode_texts, params=embed_params)).
    """
    vectors = [np.asarray(centroids, dtype=np.float32)]
    names = [f"cluster:{i}" for i in range(len(centroids))]
    if named_labels:
        if encoder is None:
            raise ConfigError("semantic: named labels need an encoder to embed their text")
        if len(set(named_labels)) != len(named_labels):
            raise InputError(f"semantic: named labels repeat: {sorted(named_labels)}")
        texts = [label.split(":", 1)[1] if ":" in label else label for label in named_labels]
        embedded = np.asarray(encoder(texts), dtype=np.float32)
        if embedded.shape != (len(texts), vectors[0].shape[1]):
            raise InputError(f"semantic: label embeddings {embedded.shape} do not match centroids {vectors[0].shape}")
        vectors.append(embedded)
        names.extend(named_labels)
    stacked = np.concatenate(vectors)
    return LabelSet(names, stacked / np.linalg.norm(stacked, axis=1, keepdims=True))


def _similarity_blocks(label_vectors: np.ndarray, floor: float):
    """(rows, cols, cosines) of every pair with cosine >= floor, one row block at a time."""
    matrix = np.ascontiguousarray(label_vectors, dtype=np.float32)
    for start in range(0, len(matrix), BLOCK_ROWS):
        sims = matrix[start : start + BLOCK_ROWS] @ matrix.T
        rows, cols = np.nonzero(sims >= floor)
        yield rows + start, cols, sims[rows, cols]


def build_label_graph(label_vectors: np.ndarray, threshold: float) -> sp.csr_matrix:
    """K x K symmetric CSR: cosine where >= threshold off the diagonal, 1 on the diagonal, 0 elsewhere."""
    if not -1.0 <= threshold <= 1.0:
        raise ConfigError(f"semantic.graph_threshold: {threshold} is not a cosine in [-1, 1]")
    n = len(label_vectors)
    parts = [(r[r != c], c[r != c], s[r != c]) for r, c, s in _similarity_blocks(label_vectors, threshold)]
    rows = np.concatenate([p[0] for p in parts] + [np.arange(n)])
    cols = np.concatenate([p[1] for p in parts] + [np.arange(n)])
    weights = np.concatenate([p[2] for p in parts] + [np.ones(n, dtype=np.float32)])
    graph = sp.csr_matrix((weights.astype(np.float32), (rows, cols)), shape=(n, n))
    # Float rounding can make s_ij and s_ji differ in the last bit; the mean makes the graph exactly symmetric.
    graph = ((graph + graph.T) * 0.5).tocsr()
    graph.setdiag(1.0)
    graph.sort_indices()
    return graph


def graph_edges(graph: sp.csr_matrix) -> pd.DataFrame:
    """Undirected edges (src < dst, diagonal left out) with their weights, as the label_graph table stores them."""
    upper = sp.triu(graph, k=1).tocoo()
    order = np.lexsort((upper.col, upper.row))
    return pd.DataFrame(
        {
            "src": upper.row[order].astype(np.int32),
            "dst": upper.col[order].astype(np.int32),
            "weight": upper.data[order].astype(np.float32),
        }
    )


def graph_from_edges(edges: pd.DataFrame, n_labels: int) -> sp.csr_matrix:
    """The symmetric graph back from graph_edges' rows (diagonal 1)."""
    src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
    weight = edges["weight"].to_numpy(dtype=np.float32)
    graph = sp.csr_matrix(
        (np.concatenate([weight, weight]), (np.concatenate([src, dst]), np.concatenate([dst, src]))),
        shape=(n_labels, n_labels),
    )
    graph.setdiag(1.0)
    graph.sort_indices()
    return graph


def degree_table(label_vectors: np.ndarray, thresholds: Sequence[float]) -> pd.DataFrame:
    """Per threshold T: edges, mean / median / p90 / max degree (self left out) and the share of isolated labels."""
    lowest = min(thresholds)
    pairs = [(r[r != c], s[r != c]) for r, c, s in _similarity_blocks(label_vectors, lowest)]
    rows = np.concatenate([p[0] for p in pairs])
    sims = np.concatenate([p[1] for p in pairs])
    n = len(label_vectors)
    records = []
    for threshold in sorted(thresholds):
        degree = np.bincount(rows[sims >= threshold], minlength=n)
        records.append(
            {
                "threshold": threshold,
                "edges": int(degree.sum() // 2),
                "mean_degree": float(degree.mean()),
                "median_degree": float(np.median(degree)),
                "p90_degree": float(np.percentile(degree, 90)),
                "max_degree": int(degree.max()),
                "isolated_share": float(np.mean(degree == 0)),
            }
        )
    return pd.DataFrame(records)
