import numpy as np
import pandas as pd
import pytest

from postmix.embed.encoder import encode_texts
from postmix.errors import ConfigError, InputError
from postmix.semantic.dedup import comparison_windows, find_near_duplicates, near_duplicates_frame
from postmix.semantic.params import SemanticParams


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def with_planted_copies(base: np.ndarray, pairs: dict[int, int], noise: float, seed: int) -> np.ndarray:
    """Row `copy` becomes row `source` plus a little noise, for each copy -> source."""
    rng = np.random.default_rng(seed)
    vectors = base.copy()
    for copy, source in pairs.items():
        vectors[copy] = base[source] + noise * rng.normal(size=base.shape[1])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def ids(n: int) -> list[str]:
    return [f"id{i:04d}" for i in range(n)]


def test_planted_exact_copies_and_paraphrases_of_real_text_are_found(embed_params, encoder):
    texts = [
        "How do I reverse a list in Python?",
        "How do I reverse a list in Python?",  # exact copy
        "How can I reverse a list in Python?",  # paraphrase
        "What is the capital of France?",
        "What's the capital city of France?",  # paraphrase
        "Write a haiku about autumn leaves.",
        "Explain how vaccines train the immune system.",
    ]
    vectors = encode_texts(texts, embed_params)
    result = find_near_duplicates(ids(len(texts)), vectors, None, 0.9, 1000, cluster_id=3)
    assert dict(zip(result["sample_id"], result["duplicate_of"])) == {"id0001": "id0000", "id0002": "id0000",
                                                                   "id0004": "id0003"}
    assert result.loc[result["sample_id"] == "id0001", "similarity"].iloc[0] >= 0.999
    assert set(result["cluster_id"]) == {3}


def test_default_threshold_keeps_distinct_samples_apart():
    vectors = with_planted_copies(unit_rows(500, 64, seed=0), {10: 3, 11: 3, 200: 100}, noise=0.01, seed=1)
    result = find_near_duplicates(ids(500), vectors, None, 0.95, 1000)
    assert dict(zip(result["sample_id"], result["duplicate_of"])) == {"id0010": "id0003", "id0011": "id0003",
                                                                   "id0200": "id0100"}
    assert result["similarity"].min() >= 0.95


def test_the_highest_quality_member_is_kept_ties_to_the_smallest_id():
    vectors = with_planted_copies(unit_rows(6, 32, seed=2), {1: 0, 2: 0, 4: 3, 5: 3}, noise=0.0, seed=0)
    quality = [0.2, 0.9, 0.5, 0.7, 0.7, np.nan]
    result = find_near_duplicates(ids(6), vectors, quality, 0.95, 100)
    assert dict(zip(result["sample_id"], result["duplicate_of"])) == {"id0000": "id0001", "id0002": "id0001",
                                                                   "id0004": "id0003", "id0005": "id0003"}


def test_transitive_chains_form_one_group():
    base = np.zeros((3, 3), dtype=np.float32)
    angle = np.deg2rad(15)  # cos 15 deg = 0.966 per link, cos 30 deg = 0.866 end to end
    for i in range(3):
        base[i] = [np.cos(i * angle), np.sin(i * angle), 0.0]
    result = find_near_duplicates(["a", "b", "c"], base, None, 0.95, 100)
    assert result["duplicate_of"].tolist() == ["a", "a"]
    assert result["similarity"].iloc[1] == pytest.approx(np.cos(2 * angle), abs=1e-6)


def test_result_does_not_depend_on_input_order():
    vectors = with_planted_copies(unit_rows(300, 32, seed=3), {5: 1, 6: 1, 150: 77}, noise=0.02, seed=4)
    quality = np.random.default_rng(5).random(300)
    first = find_near_duplicates(ids(300), vectors, quality, 0.95, 1000)
    order = np.random.default_rng(6).permutation(300)
    second = find_near_duplicates(np.array(ids(300))[order], vectors[order], quality[order], 0.95, 1000)
    pd.testing.assert_frame_equal(first, second)


def test_a_cluster_above_the_limit_is_split_and_still_finds_its_duplicates():
    vectors = with_planted_copies(unit_rows(2000, 16, seed=7), {i + 1000: i for i in range(0, 1000, 50)},
                                  noise=0.01, seed=8)
    windows = list(comparison_windows(vectors, 300))
    assert max(len(w) for w in windows) == 300
    assert set(np.concatenate(windows).tolist()) == set(range(2000))
    result = find_near_duplicates(ids(2000), vectors, None, 0.95, 300)
    expected = {f"id{i + 1000:04d}": f"id{i:04d}" for i in range(0, 1000, 50)}
    assert dict(zip(result["sample_id"], result["duplicate_of"])) == expected


def test_nan_and_zero_vectors_are_never_duplicates():
    vectors = with_planted_copies(unit_rows(5, 8, seed=9), {1: 0}, noise=0.0, seed=0)
    vectors[2] = 0.0
    vectors[3] = 0.0
    vectors[4] = np.nan
    result = find_near_duplicates(ids(5), vectors, None, 0.95, 100)
    assert result["sample_id"].tolist() == ["id0001"]


def test_bad_arguments_are_clear_errors():
    vectors = unit_rows(2, 4, seed=0)
    with pytest.raises(ConfigError):
        find_near_duplicates(["a", "b"], vectors, None, 1.5, 100)
    with pytest.raises(InputError, match="more than once"):
        find_near_duplicates(["a", "a"], vectors, None, 0.95, 100)
    with pytest.raises(InputError):
        find_near_duplicates(["a"], vectors, None, 0.95, 100)


def test_frame_entry_point_reads_vector_lists_quality_and_flags_bad_rows():
    vectors = with_planted_copies(unit_rows(4, 8, seed=10), {1: 0}, noise=0.0, seed=0)
    pdf = pd.DataFrame({
        "sample_id": ["a", "b", "c", "d"],
        "cluster_id": [7, 7, 7, 7],
        "vector": [vectors[0].tolist(), vectors[1].tolist(), None, [0.1, 0.2]],
        "quality": [0.1, 0.8, 0.5, 0.5],
    })
    result = near_duplicates_frame(pdf, SemanticParams(), dim=8)
    assert result.to_dict("records") == [
        {"sample_id": "a", "duplicate_of": "b", "similarity": pytest.approx(1.0, abs=1e-6), "cluster_id": 7}
    ]
    with pytest.raises(InputError, match="one cluster"):
        near_duplicates_frame(pdf.assign(cluster_id=[1, 2, 1, 1]), SemanticParams(), dim=8)
