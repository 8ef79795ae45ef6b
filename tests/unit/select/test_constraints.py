import dataclasses

import numpy as np
import pytest

from postmix.errors import ConfigError, ConstraintError
from postmix.select import select
from postmix.select.constraints import Quota, parse_quota
from postmix.select.params import SelectParams
from postmix.select.synthetic import synthetic_pool

from helpers import random_instance


@pytest.fixture(scope="module")
def pool_and_graph():
    return synthetic_pool(3000, 120, np.random.default_rng(4), degree=6, embedding_dim=16)


def test_parse_share_count_and_floor():
    assert parse_quota("source:gpteacher<=0.2") == Quota("source", "gpteacher", "<=", 0.2, "share")
    assert parse_quota("task:Math>=0.05") == Quota("task", "Math", ">=", 0.05, "share")
    assert parse_quota("source:dolly<=500") == Quota("source", "dolly", "<=", 500.0, "count")
    assert parse_quota("task:Coding & Debugging>=0.1").value == "Coding & Debugging"


@pytest.mark.parametrize("text", ["source=dolly", "source:dolly<0.2", "dolly<=0.2", "source:dolly<=abc",
                                  "source:dolly<=1.5", "source:x<=-0.5", "source:x<=nan", "source:x>=inf"])
def test_malformed_quotas_are_config_errors(text):
    with pytest.raises(ConfigError, match="quota"):
        parse_quota(text)


@pytest.mark.parametrize("quotas, message", [
    (("source:x<0.2",), r"select.quotas\[0\]: quota 'source:x<0.2': expected"),
    (("source:a<=0.1", "source:x<=-0.5"), r"select.quotas\[1\]: quota 'source:x<=-0.5'"),
    (("source:x<=nan",), "'source:x<=nan': amount 'nan' must be a finite number"),
    (("source:dolly<=0.1", "source:dolly<=0.2"), "already has a <= quota"),
])
def test_bad_quotas_fail_when_the_params_are_built(quotas, message):
    with pytest.raises(ConfigError, match=message):
        SelectParams(budget=100, quotas=quotas)


@pytest.mark.parametrize("quotas, message", [
    (("task:Math>=0.6", "task:Reasoning>=0.5"), "add up to"),
    (("origin:dolly<=0.2",), "no group column 'origin'"),
    (("source:nowhere<=0.2",), "no sample has source = 'nowhere'"),
    (("source:dolly<=0.1", "source:dolly>=0.2"), "below floor"),
])
def test_impossible_constraints_fail_before_any_work(pool_and_graph, quotas, message):
    pool, graph = pool_and_graph
    with pytest.raises(ConstraintError, match=message):
        select(pool, graph, SelectParams(exclude_near_duplicates=False, budget=100, quotas=quotas, progress=False))


def test_a_quality_floor_that_empties_the_pool_is_named(pool_and_graph):
    pool, graph = pool_and_graph
    with pytest.raises(ConstraintError, match="select.min_quality 1 leaves no candidate"):
        select(pool, graph, SelectParams(budget=10, min_quality=1.0, progress=False))


def test_floor_larger_than_its_group_is_refused(pool_and_graph):
    pool, graph = pool_and_graph
    members = int(((pool.groups["task"] == "Others") & (pool.quality >= 0.5)).sum())
    with pytest.raises(ConstraintError, match=f"quota task:Others>={members + 1}: floor of"):
        select(pool, graph, SelectParams(exclude_near_duplicates=False,
                                         budget=members + 50, quotas=(f"task:Others>={members + 1}",),
                                         min_quality=0.5, progress=False))


def test_caps_and_floors_are_honoured_and_bind(pool_and_graph):
    pool, graph = pool_and_graph
    free = select(pool, graph, SelectParams(exclude_near_duplicates=False, budget=200, progress=False))
    free_dolly = int((free.groups["source"] == "dolly").sum())
    free_math = int((free.groups["task"] == "Math").sum())
    cap, floor = free_dolly // 2, free_math + 15
    result = select(pool, graph, SelectParams(exclude_near_duplicates=False,
                                              budget=200, quotas=(f"source:dolly<={cap}", f"task:Math>={floor}"),
                                              progress=False))
    assert len(result) == 200
    assert (result.groups["source"] == "dolly").sum() == cap  # binds: greedy wanted more
    assert (result.groups["task"] == "Math").sum() >= floor


def test_share_quotas_resolve_against_the_budget(pool_and_graph):
    pool, graph = pool_and_graph
    result = select(pool, graph, SelectParams(exclude_near_duplicates=False,
                                              budget=200, quotas=("source:dolly<=0.1", "task:Planning>=0.25"),
                                              progress=False))
    assert (result.groups["source"] == "dolly").sum() <= 20
    assert (result.groups["task"] == "Planning").sum() >= 50


def test_quality_floor_and_near_duplicates_are_excluded(pool_and_graph):
    pool, graph = pool_and_graph
    result = select(pool, graph, SelectParams(budget=300, min_quality=0.7, exclude_near_duplicates=True,
                                              progress=False))
    assert np.all(pool.quality[result.index] >= 0.7)
    assert not pool.near_duplicate[result.index].any()
    unfiltered = select(pool, graph, SelectParams(exclude_near_duplicates=False, budget=300, progress=False))
    assert pool.near_duplicate[unfiltered.index].any() or np.any(pool.quality[unfiltered.index] < 0.7)


def test_token_budget_and_token_quotas(pool_and_graph):
    pool, graph = pool_and_graph
    result = select(pool, graph, SelectParams(exclude_near_duplicates=False, budget_tokens=50_000,
                                              quotas=("source:oasst<=0.1", "task:Math>=0.2"), progress=False))
    assert result.cost.sum() <= 50_000
    assert result.cost[result.groups["source"] == "oasst"].sum() <= 5_000
    assert result.cost[result.groups["task"] == "Math"].sum() >= 10_000


def test_near_duplicate_exclusion_needs_the_mask():
    pool, graph = random_instance(0)
    bare = pool.__class__(pool.sample_ids, pool.quality, pool.labels, pool.costs, pool.label_names)
    with pytest.raises(ConstraintError, match="near_duplicate"):
        select(bare, graph, SelectParams(budget=5, exclude_near_duplicates=True, progress=False))


@pytest.mark.parametrize("method", ["mig", "random", "quality", "deita", "kcenter", "mig-gradient"])
def test_every_method_honours_every_constraint(pool_and_graph, method):
    pool, graph = pool_and_graph
    params = SelectParams(method=method, budget=120, quotas=("source:dolly<=0.1", "task:Math>=0.2"),
                          min_quality=0.4, exclude_near_duplicates=True, progress=False)
    result = select(pool, graph, params)
    assert len(result) == 120
    assert (result.groups["source"] == "dolly").sum() <= 12
    assert (result.groups["task"] == "Math").sum() >= 24
    assert np.all(pool.quality[result.index] >= 0.4) and not pool.near_duplicate[result.index].any()


def test_near_duplicates_are_excluded_by_default_and_a_pool_without_them_is_refused(pool_and_graph):
    pool, graph = pool_and_graph
    assert SelectParams(budget=1).exclude_near_duplicates
    result = select(pool, graph, SelectParams(budget=300, progress=False))
    assert not pool.near_duplicate[result.index].any()
    assert pool.near_duplicate.any()  # the pool does hold near-duplicates, so the default did exclude some
    bare = dataclasses.replace(pool, near_duplicate=None)
    with pytest.raises(ConstraintError, match="exclude_near_duplicates is on .*exclude_near_duplicates: false"):
        select(bare, graph, SelectParams(budget=5, progress=False))
    assert len(select(bare, graph, SelectParams(budget=5, exclude_near_duplicates=False, progress=False)).index) == 5


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_task_label_weight_must_be_finite_and_not_negative(weight):
    with pytest.raises(ConfigError, match="task_label_weight"):
        SelectParams(budget=1, task_label_weight=weight)
