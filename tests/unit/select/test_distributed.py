import numpy as np
import pytest

from postmix.errors import ConstraintError
from postmix.select import prepare_constraints, select
from postmix.select.constraints import resolve_quotas
from postmix.select.distributed import finish_randgreedi, partition_count, partition_ids, randgreedi, use_distributed
from postmix.select.params import SelectParams
from postmix.select.quota import parse_quotas
from postmix.select.result import selection_summary
from postmix.select.synthetic import synthetic_pool


@pytest.fixture(scope="module")
def pool_and_graph():
    return synthetic_pool(6000, 300, np.random.default_rng(2), degree=8)


def test_partitions_depend_on_ids_and_seed_not_row_order():
    ids = np.array([f"id{i}" for i in range(500)])
    parts = partition_ids(ids, 4, seed=0)
    shuffled = np.random.default_rng(0).permutation(500)
    np.testing.assert_array_equal(partition_ids(ids[shuffled], 4, seed=0), parts[shuffled])
    assert set(parts) == {0, 1, 2, 3}
    assert not np.array_equal(partition_ids(ids, 4, seed=1), parts)


def test_auto_mode_switches_by_pool_size():
    assert use_distributed(10, SelectParams(budget=1, distributed="on"))
    assert not use_distributed(10**9, SelectParams(budget=1, distributed="off"))
    assert use_distributed(1000, SelectParams(budget=1, distributed_min_rows=1000))
    assert not use_distributed(999, SelectParams(budget=1, distributed_min_rows=1000))
    assert partition_count(10, SelectParams(budget=1, partitions=7)) == 7


def test_randgreedi_is_within_one_percent_of_single_node(pool_and_graph):
    pool, graph = pool_and_graph
    single = select(pool, graph, SelectParams(budget=200, progress=False, distributed="off"))
    distributed = select(pool, graph, SelectParams(budget=200, progress=False, distributed="on", partitions=4))
    assert distributed.params["distributed"] and distributed.params["partitions"] == 4
    assert len(distributed) == 200
    assert distributed.objective / single.objective >= 0.99


def test_randgreedi_honours_caps_and_floors(pool_and_graph):
    pool, graph = pool_and_graph
    params = SelectParams(budget=150, quotas=("source:dolly<=0.05", "task:Editing>=0.2"), distributed="on",
                          partitions=5, progress=False)
    result = select(pool, graph, params)
    assert (result.groups["source"] == "dolly").sum() <= 7
    assert (result.groups["task"] == "Editing").sum() >= 30


def test_randgreedi_is_deterministic_and_order_free(pool_and_graph):
    pool, graph = pool_and_graph
    params = SelectParams(budget=100, distributed="on", partitions=3, progress=False)
    resolved, _ = prepare_constraints(pool, params)
    picks, _ = randgreedi(pool, graph, params, resolved)
    order = np.random.default_rng(5).permutation(len(pool))
    shuffled_picks, _ = randgreedi(pool.subset(order), graph, params, resolved)
    np.testing.assert_array_equal(pool.sample_ids[picks], pool.subset(order).sample_ids[shuffled_picks])


def test_finishing_on_a_union_that_cannot_meet_a_floor_is_a_constraint_error(pool_and_graph):
    # the union of local picks holds no Editing row, so neither the merge nor any local solution meets the floor
    pool, graph = pool_and_graph
    params = SelectParams(budget=50, quotas=("task:Editing>=0.2",), exclude_near_duplicates=False, progress=False)
    resolved = resolve_quotas(parse_quotas(params.quotas), params)
    union = pool.subset(np.flatnonzero(pool.groups["task"] != "Editing")[:300])
    with pytest.raises(ConstraintError, match=r"could not meet the constraints: task:Editing>= 10"):
        finish_randgreedi(union, graph, params, resolved, {0: np.arange(50), 1: np.arange(50, 90)}, 2, "in-process")


def test_randgreedi_records_the_single_node_summary_plus_its_own_fields(pool_and_graph):
    pool, graph = pool_and_graph
    single = select(pool, graph, SelectParams(budget=40, progress=False, distributed="off"))
    distributed = select(pool, graph, SelectParams(budget=40, progress=False, distributed="on", partitions=3))
    shared = set(selection_summary(SelectParams(budget=1))) | {"gain_rule", "distributed", "peak_memory_kind"}
    assert {"phi", "beta", "alpha", "min_quality"} <= shared <= set(single.params) & set(distributed.params)
    assert set(distributed.params) - set(single.params) == {"engine", "partitions", "union_rows", "winner"}
    assert distributed.params["engine"] == "in-process" and distributed.params["union_rows"] <= 40 * 3
