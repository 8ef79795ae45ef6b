"""Semantic stage timings (k-means fit, assignment, label graph, near-duplicates) and the label-graph T calibration.

    PYTHONPATH=lib .venv/bin/python tests/benchmarks/bench_semantic.py --rows 100000 [--vectors real.npy]

With --vectors (e.g. from bench_embed.py --save-vectors) the real MiniLM vectors are used, otherwise a seeded
synthetic mixture on the sphere with the same dimension (stated in the output). The degree table over a grid of T
is what docs/SEMANTIC.md quotes; run it on real vectors for that purpose.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from postmix.semantic.dedup import find_near_duplicates  # noqa: E402
from postmix.semantic.graph import build_label_graph, degree_table  # noqa: E402
from postmix.semantic.kmeans import assign_labels, default_k, fit_centroids  # noqa: E402
from postmix.semantic.params import SemanticParams  # noqa: E402

GRID = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def synthetic_vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    """Topics of very different sizes (Zipf) with within-topic spread, plus 2% planted near-copies."""
    rng = np.random.default_rng(seed)
    n_topics = max(2, rows // 50)
    centers = rng.normal(size=(n_topics, dim))
    sizes = 1.0 / np.arange(1, n_topics + 1)
    topic = rng.choice(n_topics, size=rows, p=sizes / sizes.sum())
    vectors = centers[topic] + 1.2 * rng.normal(size=(rows, dim))
    copies = rng.choice(rows, size=rows // 50, replace=False)
    vectors[copies] = vectors[rng.choice(rows, size=len(copies))] + 0.05 * rng.normal(size=(len(copies), dim))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, round(time.perf_counter() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--vectors", type=Path)
    parser.add_argument("--k", type=int)
    args = parser.parse_args()

    if args.vectors:
        vectors = np.load(args.vectors)[: args.rows]
        source = f"real vectors from {args.vectors}"
    else:
        vectors = synthetic_vectors(args.rows, 384, seed=0)
        source = "synthetic Zipf topic mixture, 384-d"
    params = SemanticParams(k=args.k)
    k = args.k or default_k(len(vectors))
    centroids, fit_s = timed(fit_centroids, vectors, params, k)
    assigned, assign_s = timed(assign_labels, vectors, centroids, params)
    graph, graph_s = timed(build_label_graph, centroids, params.graph_threshold)
    table, table_s = timed(degree_table, centroids, GRID)

    start = time.perf_counter()
    duplicates = 0
    cluster_sizes = np.bincount(assigned.cluster_id[assigned.cluster_id >= 0], minlength=k)
    order = np.argsort(assigned.cluster_id, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(cluster_sizes)])
    sample_ids = np.array([f"s{i:08d}" for i in range(len(vectors))], dtype=object)
    for cluster in range(k):
        members = order[bounds[cluster] : bounds[cluster + 1]]
        if len(members) > 1:
            found = find_near_duplicates(sample_ids[members], vectors[members], None, params.dedup_threshold,
                                         params.max_cluster_rows, cluster)
            duplicates += len(found)
    dedup_s = round(time.perf_counter() - start, 2)

    print(json.dumps({
        "rows": len(vectors), "source": source, "k": k, "fit_sample_rows": min(len(vectors), params.fit_sample_rows),
        "niter": params.niter, "fit_s": fit_s, "assign_s": assign_s, "assign_threads": params.assign_threads,
        "label_graph_s": graph_s, "graph_threshold": params.graph_threshold, "graph_edges": (graph.nnz - k) // 2,
        "degree_table_s": table_s, "dedup_s": dedup_s, "near_duplicates": duplicates,
        "largest_cluster": int(cluster_sizes.max()), "median_cluster": float(np.median(cluster_sizes)),
    }, indent=2))
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
