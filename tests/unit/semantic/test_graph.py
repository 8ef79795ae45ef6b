import functools

import numpy as np
import pytest

from postmix.annotate.taxonomy import MAGPIE_CATEGORIES as TASK_LABELS
from postmix.embed.encoder import encode_texts
from postmix.errors import ConfigError
from postmix.semantic.graph import (
    build_label_graph,
    degree_table,
    graph_edges,
    graph_from_edges,
    label_embeddings,
    task_label_names,
)


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_graph_is_symmetric_with_unit_diagonal_and_edges_only_at_or_above_t():
    vectors = unit_rows(300, 8, seed=0)
    graph = build_label_graph(vectors, 0.6)
    dense = graph.toarray()
    cosines = vectors @ vectors.T
    assert np.array_equal(dense, dense.T)
    assert np.all(np.diag(dense) == 1.0)
    off = ~np.eye(300, dtype=bool)
    assert np.all((dense[off] != 0) == (cosines[off] >= 0.6))
    assert np.allclose(dense[off][dense[off] != 0], cosines[off][cosines[off] >= 0.6], atol=1e-6)


def test_graph_built_in_blocks_matches_a_dense_build(monkeypatch):
    import postmix.semantic.graph as graph_module

    vectors = unit_rows(500, 6, seed=1)
    whole = build_label_graph(vectors, 0.5)
    monkeypatch.setattr(graph_module, "BLOCK_ROWS", 64)
    assert (build_label_graph(vectors, 0.5) != whole).nnz == 0


def test_edge_list_round_trips():
    graph = build_label_graph(unit_rows(200, 8, seed=2), 0.55)
    edges = graph_edges(graph)
    assert np.all(edges["src"] < edges["dst"])
    assert (graph_from_edges(edges, 200) != graph).nnz == 0


def test_degree_table_falls_as_the_threshold_rises():
    table = degree_table(unit_rows(400, 8, seed=3), [0.3, 0.5, 0.7, 0.9])
    assert table["threshold"].tolist() == [0.3, 0.5, 0.7, 0.9]
    assert table["mean_degree"].is_monotonic_decreasing
    assert table["isolated_share"].is_monotonic_increasing
    graph = build_label_graph(unit_rows(400, 8, seed=3), 0.5)
    assert table.loc[1, "edges"] == (graph.nnz - 400) // 2


def test_threshold_outside_cosine_range_is_a_config_error():
    with pytest.raises(ConfigError):
        build_label_graph(unit_rows(3, 4, seed=0), 1.5)


def test_named_labels_are_embedded_from_their_text_after_the_centroids(embed_params, encoder):
    centroids = encode_texts(["Fix the bug in my code", "Write a short story."], embed_params)
    names = [f"task:{label}" for label in TASK_LABELS]
    labels = label_embeddings(centroids, names, functools.partial(encode_texts, params=embed_params))
    assert labels.names[:2] == ["cluster:0", "cluster:1"] and labels.names[2:] == names
    assert labels.vectors.shape == (14, 384)
    coding = labels.vectors[2 + TASK_LABELS.index("Coding & Debugging")]
    assert np.allclose(coding, encode_texts(["Coding & Debugging"], embed_params)[0], atol=1e-6)
    similarity = labels.vectors[:2] @ labels.vectors[2:].T
    assert TASK_LABELS[int(np.argmax(similarity[0]))] == "Coding & Debugging"
    assert TASK_LABELS[int(np.argmax(similarity[1]))] == "Creative writing"


def test_task_labels_are_the_distinct_tasks_written_sorted_whatever_the_vocabulary():
    # a user task model's labels, in annotation order, repeated, with a null and an empty task (left out)
    written = ["zz-arith", "verse", None, "zz-arith", "", "Math", "verse"]
    assert task_label_names(written) == ["task:Math", "task:verse", "task:zz-arith"]
    assert task_label_names(reversed(written)) == task_label_names(written)
    assert task_label_names({"verse": 3, "Math": 1}) == ["task:Math", "task:verse"]  # task -> count, as the stage
    assert task_label_names([]) == []


def test_named_labels_without_an_encoder_are_a_config_error():
    with pytest.raises(ConfigError):
        label_embeddings(unit_rows(2, 4, seed=0), ["task:Math"], None)
