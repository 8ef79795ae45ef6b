import numpy as np
import pytest

from postmix.select import prepare_constraints, select
from postmix.select.distributed import partition_count, partition_ids, randgreedi, use_distributed
from postmix.select.params import SelectParams
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
