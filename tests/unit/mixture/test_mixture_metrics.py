import numpy as np
import pytest
import scipy.sparse as sp

from postmix.errors import ConfigError, InputError
from postmix.mixture import (METRIC_INFO, MetricsContext, MetricsInputs, MixtureParams, compare_with_random,
                             metrics_frame, random_baseline_rows, rows_of)
from postmix.mixture.coverage import coverage_sample, label_coverage, label_presence
from postmix.mixture.distribution import compare_distribution
from postmix.mixture.duplicates import near_duplicate_rate, nearest_other_similarity
from postmix.mixture.similarity import normalised
from postmix.select import select
from postmix.select.objective import build_objective
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph, SelectionPool
from postmix.select.synthetic import synthetic_pool


def small_instance():
    """Four labels; a-b linked in the graph, c and d isolated; d is in no pool row."""
    graph = LabelGraph(sp.csr_matrix(np.array([[1, .6, 0, 0], [.6, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.]])),
                       ("a", "b", "c", "d"))
    labels = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0.]]))
    embeddings = np.array([[1, 0, 0], [0.999, 0.0447, 0], [0, 1, 0], [0, 0, 2.]])
    pool = SelectionPool(sample_ids=np.array(["s0", "s1", "s2", "s3"]), quality=np.array([.9, .5, .7, .3]),
                         labels=labels, costs=np.array([10, 20, 30, 40.]), label_names=graph.label_names,
                         embeddings=embeddings)
    return pool, graph


def test_task_distribution_entropy_and_kl_by_hand():
    result = compare_distribution(np.array(["a", "a", "b", "b"]), np.array(["a", "a"]))
    assert (result.selection_entropy, result.pool_entropy, result.ratio) == (0.0, 1.0, 0.0)
    assert result.kl == pytest.approx(1.0)  # 1 * log2(1 / 0.5)
    same = compare_distribution(np.array(["a", "b", "c", "c"]), np.array(["a", "b", "c", "c"]))
    assert same.ratio == pytest.approx(1.0) and same.kl == pytest.approx(0.0)
    assert same.pool_entropy == pytest.approx(1.5)


def test_label_coverage_counts_propagated_information_and_presence_does_not():
    pool, graph = small_instance()
    objective = build_objective(pool, graph, SelectParams(budget=2))
    # row 0 has label a; through the a-b edge it informs b too; c is informed only by row 2; d by nobody
    assert label_coverage(objective, np.array([0])) == pytest.approx(2 / 3)
    assert label_presence(pool.labels, np.array([0])) == pytest.approx(1 / 3)
    assert label_coverage(objective, np.array([0, 2])) == pytest.approx(1.0)
    assert label_coverage(objective, np.array([], dtype=np.int64)) == 0.0


def test_semantic_coverage_is_mean_best_cosine_over_the_sample():
    pool, graph = small_instance()
    context = MetricsContext(MetricsInputs(pool, graph, SelectParams(budget=2), np.array(["t"] * 4)),
                             MixtureParams())
    unit = normalised(pool.embeddings, "test")
    expected = np.mean((unit @ unit[[0]].T).max(axis=1))  # brute force over every pool row (pool < sample size)
    assert context.measure(np.array([0])).semantic_coverage == pytest.approx(expected, abs=1e-6)
    assert context.measure(np.arange(4)).semantic_coverage == pytest.approx(1.0, abs=1e-6)


def test_coverage_sample_is_seeded_and_bounded():
    rows = coverage_sample(1000, 50, np.random.default_rng(3))
    assert len(rows) == 50 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, coverage_sample(1000, 50, np.random.default_rng(3)))
    assert np.array_equal(coverage_sample(10, 50, np.random.default_rng(3)), np.arange(10))


def test_near_duplicate_rate_counts_rows_with_a_close_selected_twin():
    pool, _ = small_instance()
    unit = normalised(pool.embeddings, "test")
    # rows 0 and 1 have cosine ~0.999; rows 2 and 3 are orthogonal to everything
    assert near_duplicate_rate(unit, np.arange(4), 0.95, 1) == pytest.approx(0.5)
    assert near_duplicate_rate(unit, np.array([0, 2, 3]), 0.95, 1) == 0.0
    exact = normalised(np.array([[1, 0], [1, 0], [1, 0], [0, 1.]]), "test")
    np.testing.assert_allclose(nearest_other_similarity(exact, 1), [1, 1, 1, 0], atol=1e-6)


def test_metrics_agree_with_select_and_random_baseline_keeps_the_budget():
    pool, graph = synthetic_pool(600, 40, np.random.default_rng(1), embedding_dim=16)
    select_params = SelectParams(budget=60, progress=False)
    result = select(pool, graph, select_params)
    inputs = MetricsInputs(pool, graph, select_params, pool.groups["task"])
    comparison = compare_with_random(inputs, result.index, MixtureParams(seed=5))
    assert comparison.selection.objective == pytest.approx(result.objective, rel=1e-12)
    assert comparison.selection.n_samples == comparison.random.n_samples == 60
    assert comparison.selection.mean_quality == pytest.approx(pool.quality[result.index].mean())
    assert comparison.selection.objective > comparison.random.objective  # greedy beats random on its objective
    again = compare_with_random(inputs, result.index, MixtureParams(seed=5))
    assert again.selection == comparison.selection and again.random == comparison.random
    assert not np.array_equal(random_baseline_rows(pool, graph, select_params, 6), comparison.random_rows)


def test_random_baseline_fills_a_token_budget_without_quotas():
    pool, graph = synthetic_pool(400, 30, np.random.default_rng(2))
    params = SelectParams(budget_tokens=20_000, quotas=("source:dolly<=0.1",), min_quality=0.9, progress=False)
    rows = random_baseline_rows(pool, graph, params, seed=0)
    assert pool.costs[rows].sum() <= 20_000
    assert pool.costs[rows].sum() > 20_000 - pool.costs.max()  # filled until nothing more fitted
    assert (pool.quality[rows] < 0.9).any()  # the quality floor is not applied to the baseline


def test_metrics_frame_has_one_row_per_metric_in_order():
    pool, graph = synthetic_pool(200, 30, np.random.default_rng(0), embedding_dim=8)
    params = SelectParams(budget=20, progress=False)
    inputs = MetricsInputs(pool, graph, params, pool.groups["task"])
    frame = metrics_frame(compare_with_random(inputs, np.arange(20), MixtureParams()))
    assert list(frame.columns) == ["metric", "selection", "random", "unit", "description"]
    assert list(frame["metric"]) == list(METRIC_INFO)
    assert frame.loc[frame["metric"] == "n_samples", "selection"].item() == 20


def test_bad_inputs_raise_user_errors():
    pool, graph = small_instance()
    params = SelectParams(budget=2)
    with pytest.raises(InputError, match="task labels"):
        MetricsInputs(pool, graph, params, np.array(["t"]))
    no_vectors = SelectionPool(pool.sample_ids, pool.quality, pool.labels, pool.costs, pool.label_names)
    with pytest.raises(InputError, match="no embeddings"):
        MetricsInputs(no_vectors, graph, params, np.array(["t"] * 4))
    with pytest.raises(InputError, match="'zz'"):
        rows_of(pool, ["s1", "zz"])
    assert rows_of(pool, ["s3", "s0"]).tolist() == [3, 0]
    context = MetricsContext(MetricsInputs(pool, graph, params, np.array(["t"] * 4)), MixtureParams())
    with pytest.raises(InputError, match="twice"):
        context.measure(np.array([1, 1]))
    with pytest.raises(InputError, match="row indices"):
        context.measure(np.array([7]))
    with pytest.raises(InputError, match="zero vector"):
        normalised(np.zeros((2, 3)), "x")
    with pytest.raises(ConfigError):
        MixtureParams(near_duplicate_threshold=0.0)
