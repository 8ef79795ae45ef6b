import dataclasses

import numpy as np
import pytest

from postmix.errors import ConfigError, InputError
from postmix.semantic.kmeans import assign_labels, default_k, fit_centroids, fit_sample
from postmix.semantic.params import SemanticParams


def clustered_vectors(n: int, n_centers: int, dim: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_centers, dim))
    truth = rng.integers(0, n_centers, n)
    vectors = (centers[truth] + spread * rng.normal(size=(n, dim))).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), truth


def test_default_k_is_the_papers_point_grows_as_sqrt_and_keeps_20_points_per_label():
    assert default_k(939_000) == 4500
    assert default_k(4 * 939_000) == 9000
    assert default_k(1000) == 1000 // 20
    assert default_k(2) == 2
    with pytest.raises(InputError):
        default_k(1)


def test_planted_clusters_are_recovered():
    vectors, truth = clustered_vectors(3000, 8, 32, 0.3, seed=1)
    params = SemanticParams(k=16, seed=0)
    labels = assign_labels(vectors, fit_centroids(vectors, params), params).cluster_id
    # every label holds members of one planted cluster only (purity 1)
    for label in np.unique(labels):
        assert len(np.unique(truth[labels == label])) == 1
    assert len(np.unique(labels)) >= 8


def test_labels_are_byte_identical_across_reruns_and_fit_thread_counts():
    vectors, _ = clustered_vectors(4000, 20, 48, 0.8, seed=2)
    runs = []
    for threads in (1, 2, 1):
        params = SemanticParams(k=40, seed=7, fit_threads=threads)
        centroids = fit_centroids(vectors, params)
        assigned = assign_labels(vectors, centroids, params)
        runs.append((centroids.tobytes(), assigned.label_ids.tobytes(), assigned.weights.tobytes()))
    assert runs[0] == runs[2]
    assert runs[0][:2] == runs[1][:2]


def test_a_different_seed_gives_a_different_fit():
    vectors, _ = clustered_vectors(2000, 20, 16, 1.0, seed=3)
    first = fit_centroids(vectors, SemanticParams(k=30, seed=1))
    second = fit_centroids(vectors, SemanticParams(k=30, seed=2))
    assert first.tobytes() != second.tobytes()


def test_fit_sample_is_seeded_and_skips_invalid_rows():
    vectors, _ = clustered_vectors(100, 3, 8, 0.5, seed=4)
    vectors[5] = np.nan
    vectors[6] = 0.0
    sample = fit_sample(vectors, 50, seed=9)
    assert len(sample) == 50 and np.all(np.isfinite(sample))
    assert np.array_equal(sample, fit_sample(vectors, 50, seed=9))
    assert len(fit_sample(vectors, 1000, seed=9)) == 98


def test_centroids_are_unit_float32_and_k_above_the_sample_is_a_config_error():
    vectors, _ = clustered_vectors(200, 4, 8, 0.5, seed=5)
    centroids = fit_centroids(vectors, SemanticParams(k=4))
    assert centroids.dtype == np.float32 and np.allclose(np.linalg.norm(centroids, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError):
        fit_centroids(vectors, SemanticParams(k=201))


def test_assignment_keeps_top_m_above_the_floor_with_weights_summing_to_one():
    centroids = np.eye(4, dtype=np.float32)
    vectors = np.array(
        [
            [1.0, 0.9, 0.0, 0.0],  # two labels above the floor
            [1.0, 0.1, 0.05, 0.0],  # only the nearest passes the floor
            [0.0, 0.0, 0.0, 0.0],  # zero vector: no label
            [np.nan, 1.0, 0.0, 0.0],  # NaN: no label
        ],
        dtype=np.float32,
    )
    params = SemanticParams(top_m=3, label_floor=0.5)
    got = assign_labels(vectors, centroids, params)
    assert got.label_ids.tolist() == [[0, 1, -1], [0, -1, -1], [-1, -1, -1], [-1, -1, -1]]
    assert got.cluster_id.tolist() == [0, 0, -1, -1]
    assert np.allclose(got.weights.sum(axis=1), [1.0, 1.0, 0.0, 0.0])
    assert got.weights[0, 0] > got.weights[0, 1] > 0
    assert got.weights.dtype == np.float32 and got.label_ids.dtype == np.int32


def test_nearest_label_is_kept_even_below_the_floor():
    got = assign_labels(np.array([[0.0, 1.0]], dtype=np.float32), np.array([[1.0, 0.0]], dtype=np.float32),
                        SemanticParams(top_m=1, label_floor=0.5))
    assert got.label_ids.tolist() == [[0]] and got.weights.tolist() == [[1.0]]


def test_assignment_in_batches_matches_assignment_at_once():
    vectors, _ = clustered_vectors(1000, 10, 32, 0.8, seed=6)
    params = SemanticParams(k=20)
    centroids = fit_centroids(vectors, params)
    whole = assign_labels(vectors, centroids, params)
    halves = [assign_labels(part, centroids, params) for part in (vectors[:500], vectors[500:])]
    assert np.array_equal(whole.label_ids, np.concatenate([h.label_ids for h in halves]))
    assert np.allclose(whole.weights, np.concatenate([h.weights for h in halves]), atol=1e-6)


def test_dimension_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="dim"):
        assign_labels(np.ones((2, 3), dtype=np.float32), np.ones((2, 4), dtype=np.float32), SemanticParams())


def test_real_embeddings_get_stable_labels(encoder, embed_params):
    from postmix.embed.encoder import encode_texts

    texts = [f"How do I {verb} a {noun} in Python?" for verb in ("sort", "reverse", "copy") for noun in ("list", "dict")]
    texts += [f"Write a poem about {thing}." for thing in ("the sea", "autumn", "a cat", "the moon", "rain", "love")]
    vectors = encode_texts(texts, embed_params)
    params = dataclasses.replace(SemanticParams(k=2, seed=0))
    first = assign_labels(vectors, fit_centroids(vectors, params), params).cluster_id
    second = assign_labels(vectors, fit_centroids(vectors, params), params).cluster_id
    assert first.tolist() == second.tolist()
    assert len(set(first[:6])) == 1 and len(set(first[6:])) == 1 and first[0] != first[6]
