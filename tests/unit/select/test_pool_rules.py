"""The engine-free rules of a pool row and of the label space (the Spark pool builder applies the same)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from postmix.errors import ConfigError, InputError
from postmix.params import fingerprint, params_to_plain
from postmix.select.label_space import check_label_rows, check_same_fit, graph_weights, label_space
from postmix.select.params import BUDGET_MISSING, SelectParams, require_select_params
from postmix.select.pool_rules import (BASE_GROUPS, MIN_QUALITY_SCORE, clipped_quality, group_columns,
                                       needs_embeddings, sample_cost, token_cost)
from postmix.select.quota import Quota


def test_quality_is_clipped_into_the_objectives_range():
    assert clipped_quality([0.0, -1.0, 0.5, 1.0, 2.0]).tolist() == [MIN_QUALITY_SCORE, MIN_QUALITY_SCORE, 0.5, 1.0,
                                                                     1.0]


def test_token_cost_is_characters_over_four_rounded_up_and_at_least_one():
    assert token_cost([0, 3, 4, 10], [0, 2, 0, 0]).tolist() == [1.0, 2.0, 1.0, 3.0]


def test_sample_cost_follows_the_budgets_unit():
    assert sample_cost(SelectParams(budget=5), [100, 7], [9, 9]).tolist() == [1.0, 1.0]
    assert sample_cost(SelectParams(budget_tokens=50), [100, 7], [9, 9]).tolist() == [28.0, 4.0]


def test_group_columns_are_source_task_and_known_quota_columns_once():
    params = SelectParams(budget=10, quotas=("language:en<=0.5", "language:de>=0.1", "flavour:x<=0.2",
                                            "source:a<=0.3", "quality:1<=0.1"))
    assert group_columns(params, {"source", "task", "language", "quality"}) == BASE_GROUPS + ("language",)


def test_only_deita_and_kcenter_need_vectors():
    assert [m for m in ("mig", "random", "deita", "kcenter") if needs_embeddings(SelectParams(budget=1, method=m))] \
        == ["deita", "kcenter"]


def test_quotas_are_parsed_once_and_stay_text_in_fingerprints():
    params = SelectParams(budget=10, quotas=("source:a<=0.2", "task:Math>=3"))
    assert params.parsed_quotas == (Quota("source", "a", "<=", 0.2, "share"), Quota("task", "Math", ">=", 3.0, "count"))
    assert params_to_plain(params)["quotas"] == ["source:a<=0.2", "task:Math>=3"]
    assert "parsed_quotas" not in params_to_plain(params) and "_parsed_quotas" not in params_to_plain(params)
    assert fingerprint(params) == fingerprint(SelectParams(budget=10, quotas=("source:a<=0.2", "task:Math>=3")))
    assert dataclasses.replace(params, quotas=("source:b<=1",)).parsed_quotas[0].value == "b"


def test_select_params_are_required_with_one_message():
    with pytest.raises(ConfigError, match=BUDGET_MISSING):
        require_select_params(None)
    with pytest.raises(ConfigError, match=f"mixture: {BUDGET_MISSING}"):
        require_select_params(None, "mixture")
    params = SelectParams(budget=3)
    assert require_select_params(params, "report") is params


def test_label_space_from_rows():
    labels = [{"label_id": 0, "kind": "cluster", "name": "c0", "fit_id": "f"},
              {"label_id": 1, "kind": "task", "name": "Math", "fit_id": "f"}]
    space = label_space(labels, [{"src": 0, "dst": 1, "weight": 0.5}])
    assert space.fit_id == "f" and space.label_names == ("c0", "Math") and space.task_label_ids == {"Math": 1}
    assert np.array_equal(space.graph.weights.toarray(), [[1.0, 0.5], [0.5, 1.0]])


@pytest.mark.parametrize("labels, message", [
    ([], "semantic_labels is empty"),
    ([{"label_id": 1, "kind": "task", "name": "x", "fit_id": "f"}], "without gaps"),
    ([{"label_id": 0, "kind": "task", "name": "x", "fit_id": "f"},
      {"label_id": 1, "kind": "task", "name": "y", "fit_id": "g"}], "several fits"),
])
def test_broken_label_rows_are_refused(labels, message):
    with pytest.raises(InputError, match=message):
        check_label_rows(labels)


def test_graph_edges_are_mirrored_and_bad_edges_refused():
    assert np.array_equal(graph_weights(3, [{"src": 0, "dst": 2, "weight": 0.7}]).toarray(),
                          [[1.0, 0.0, 0.7], [0.0, 1.0, 0.0], [0.7, 0.0, 1.0]])
    with pytest.raises(InputError, match="src < dst"):
        graph_weights(3, [{"src": 0, "dst": 3, "weight": 0.7}])


def test_tables_of_another_fit_are_refused():
    check_same_fit("label_graph", ["f", "f"], "f")
    with pytest.raises(InputError, match="label_graph holds rows of fit.s. g but semantic_labels is fit f"):
        check_same_fit("label_graph", ["f", "g"], "f")
