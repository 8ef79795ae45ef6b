import numpy as np
import pytest

from postmix.errors import InputError
from postmix.select import select
from postmix.select.params import SelectParams
from postmix.select.synthetic import synthetic_pool

from helpers import random_instance


@pytest.fixture(scope="module")
def pool_and_graph():
    return synthetic_pool(2000, 80, np.random.default_rng(8), degree=6, embedding_dim=16)


def _select(pool, graph, **kwargs):
    """The baselines' own order, unconstrained unless a test asks for a constraint (near-duplicate exclusion too)."""
    return select(pool, graph, SelectParams(**{"exclude_near_duplicates": False, "progress": False, **kwargs}))


def test_random_is_seeded(pool_and_graph):
    pool, graph = pool_and_graph
    first, again = _select(pool, graph, method="random", budget=50), _select(pool, graph, method="random", budget=50)
    other = _select(pool, graph, method="random", budget=50, seed=1)
    np.testing.assert_array_equal(first.index, again.index)
    assert set(first.index) != set(other.index)
    expected = np.random.default_rng(0).permutation(len(pool))[:50]
    np.testing.assert_array_equal(first.index, expected)


def test_quality_takes_the_top_scores_with_id_ties(pool_and_graph):
    pool, graph = pool_and_graph
    result = _select(pool, graph, method="quality", budget=40)
    assert np.all(np.diff(pool.quality[result.index]) <= 0)
    assert pool.quality[result.index].min() >= np.sort(pool.quality)[-40]
    tied = random_instance(1)[0]
    tied_pool = tied.__class__(tied.sample_ids, np.full(len(tied), 0.5), tied.labels, tied.costs, tied.label_names)
    tied_result = _select(tied_pool, random_instance(1)[1], method="quality", budget=5)
    assert list(tied_result.sample_id) == sorted(tied.sample_ids)[:5]


def test_longest_takes_the_longest_responses_with_id_ties():
    pool, graph = random_instance(13)
    result = _select(pool, graph, method="longest", budget=len(pool))
    expected = sorted(range(len(pool)), key=lambda row: (-pool.response_chars[row], pool.sample_ids[row]))
    assert list(result.index) == expected
    tied = [length for length in pool.response_chars if (pool.response_chars == length).sum() > 1]
    assert tied  # the instance has equal lengths, so the sample_id tie-break is exercised
    assert result.params["method"] == "longest" and "gain_rule" not in result.params


def _by_length(pool):
    """Rows longest response first, smaller sample_id on ties: written out independently of the method."""
    return sorted(range(len(pool)), key=lambda row: (-pool.response_chars[row], pool.sample_ids[row]))


def test_longest_skips_only_what_the_constraints_forbid():
    pool, graph = random_instance(14, n_rows=120)
    result = _select(pool, graph, method="longest", budget=30, quotas=("source:x<=0.1",), min_quality=0.2,
                     exclude_near_duplicates=True)
    expected, in_x = [], 0
    for row in _by_length(pool):
        if len(expected) == 30:
            break
        if pool.quality[row] < 0.2 or pool.near_duplicate[row] or (pool.groups["source"][row] == "x" and in_x == 3):
            continue
        in_x += pool.groups["source"][row] == "x"
        expected.append(row)
    assert list(result.index) == expected and in_x == 3  # the cap was reached, so it did skip rows


def test_longest_meets_floors_and_token_budgets():
    pool, graph = random_instance(15, n_rows=150)
    floored = _select(pool, graph, method="longest", budget=20, quotas=("task:t2>=0.75",))
    expected, deficit = [], 15
    for row in _by_length(pool):
        left = 20 - len(expected)
        if left == 0:
            break
        is_t2 = pool.groups["task"][row] == "t2"
        if is_t2 or left - 1 >= deficit:  # the floor reservation with a sample budget
            expected.append(row)
            deficit -= bool(is_t2 and deficit)
    assert list(floored.index) == expected and deficit == 0
    unfloored = _select(pool, graph, method="longest", budget=20)
    assert (pool.groups["task"][unfloored.index] == "t2").sum() < 15  # so the floor changed the picks
    tokens = _select(pool, graph, method="longest", budget_tokens=200)
    expected, left = [], 200.0
    for row in _by_length(pool):
        if pool.costs[row] <= left:
            expected.append(row)
            left -= pool.costs[row]
    assert list(tokens.index) == expected and len(expected) < len(pool)


def test_longest_needs_response_lengths():
    pool, graph = random_instance(2)
    bare = pool.__class__(pool.sample_ids, pool.quality, pool.labels, pool.costs, pool.label_names)
    with pytest.raises(InputError, match="'longest' needs the response length"):
        _select(bare, graph, method="longest", budget=3)


def test_deita_keeps_picks_apart_by_the_cosine_threshold(pool_and_graph):
    pool, graph = pool_and_graph
    result = _select(pool, graph, method="deita", budget=60, deita_threshold=0.8)
    vectors = pool.embeddings[result.index]
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    assert similarity.max() < 0.8
    assert result.index[0] == np.lexsort((pool.id_ranks(), -pool.quality))[0]  # score first


def test_kcenter_starts_at_the_best_quality_then_goes_farthest(pool_and_graph):
    pool, graph = pool_and_graph
    result = _select(pool, graph, method="kcenter", budget=5)
    assert result.index[0] == int(np.argmax(pool.quality))
    first = pool.embeddings[result.index[0]]
    assert result.index[1] == int(np.argmax(1.0 - pool.embeddings @ first))


def test_embedding_baselines_need_embeddings():
    pool, graph = random_instance(2)
    bare = pool.__class__(pool.sample_ids, pool.quality, pool.labels, pool.costs, pool.label_names)
    for method in ("deita", "kcenter"):
        with pytest.raises(InputError, match="needs embeddings"):
            _select(bare, graph, method=method, budget=3)


def test_gradient_sampler_follows_the_first_order_score(pool_and_graph):
    """Each pick maximises Xp_i . phi'(coverage): checked step by step against a direct dense computation."""
    pool, graph = pool_and_graph
    result = _select(pool, graph, method="mig-gradient", budget=10)
    from postmix.select.objective import build_objective

    dense = build_objective(pool, graph, SelectParams(exclude_near_duplicates=False, budget=10)).rows.toarray()
    coverage = np.zeros(dense.shape[1])
    taken = np.zeros(len(pool), dtype=bool)
    for row in result.index:
        scores = dense @ (0.8 * (coverage + 1e-6) ** -0.2)
        scores[taken] = -np.inf
        assert scores[row] >= scores.max() * (1 - 1e-12)  # float64 scores, summed in another order here
        coverage += dense[row]
        taken[row] = True


def test_all_baselines_are_scored_by_the_exact_objective(pool_and_graph):
    pool, graph = pool_and_graph
    objectives = {method: _select(pool, graph, method=method, budget=80).objective
                  for method in ("mig", "random", "quality", "deita", "kcenter", "mig-gradient")}
    assert objectives["mig"] >= max(objectives[m] for m in ("random", "quality", "deita", "kcenter"))
    assert objectives["mig"] >= objectives["mig-gradient"] * 0.999
