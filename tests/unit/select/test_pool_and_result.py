import logging

import numpy as np
import pytest
import scipy.sparse as sp

from postmix.errors import ConfigError, InputError
from postmix.select import select
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph, SelectionPool

from helpers import random_instance, tiny_graph, tiny_pool


def _pool(**overrides):
    fields = dict(sample_ids=np.array(["a", "b"]), quality=np.array([0.5, 1.0]),
                  labels=sp.csr_matrix(np.eye(2)), costs=np.array([1.0, 2.0]), label_names=("x", "y"))
    fields.update(overrides)
    return SelectionPool(**fields)


@pytest.mark.parametrize("overrides, message", [
    (dict(quality=np.array([0.0, 1.0])), "quality must be in"),
    (dict(quality=np.array([np.nan, 1.0])), "NaN"),
    (dict(sample_ids=np.array(["a", "a"])), "unique"),
    (dict(costs=np.array([1.0, 0.0])), "costs must be > 0"),
    (dict(labels=sp.csr_matrix(np.eye(3))), "labels are 3 x 3"),
    (dict(groups={"source": np.array(["x"])}), "group column 'source'"),
    (dict(embeddings=np.ones((3, 4))), "embeddings"),
    (dict(near_duplicate=np.array([0, 1])), "near_duplicate"),
    (dict(response_chars=np.array([3.0])), "response_chars must have one value per sample"),
    (dict(response_chars=np.array([3.0, np.inf])), "response_chars has NaN or infinity"),
    (dict(response_chars=np.array([3.0, -1.0])), r"response_chars must be >= 0, row 1 \(b\)"),
])
def test_pool_validation_names_the_problem(overrides, message):
    with pytest.raises(InputError, match=message):
        _pool(**overrides)


def test_label_graph_validation():
    with pytest.raises(InputError, match="symmetric"):
        LabelGraph(sp.csr_matrix(np.array([[1.0, 0.5], [0.0, 1.0]])))
    with pytest.raises(InputError, match="diagonal"):
        LabelGraph(sp.csr_matrix(np.array([[0.5, 0.0], [0.0, 1.0]])))


@pytest.mark.parametrize("fields, message", [
    (dict(), "exactly one of budget"), (dict(budget=5, budget_tokens=5), "exactly one"),
    (dict(budget=5, method="best"), "select.method"), (dict(budget=5, phi="log"), "select.phi"),
    (dict(budget=5, beta=1.5), "concave"), (dict(budget=5, distributed="maybe"), "select.distributed"),
])
def test_params_validation(fields, message):
    with pytest.raises(ConfigError, match=message):
        SelectParams(exclude_near_duplicates=False, **fields)


def test_every_pick_is_explained():
    result = select(tiny_pool(), tiny_graph(), SelectParams(exclude_near_duplicates=False,
                                                            budget=3, beta=0.8, progress=False, top_labels=2))
    records = result.to_records()
    assert [r["rank"] for r in records] == [1, 2, 3]
    assert records[0]["sample_id"] == "s0" and records[0]["source"] == "y"
    assert records[0]["top_labels"] == ["a", "b"]  # label a's information spreads 2/3 to a, 1/3 to b
    assert records[0]["top_label_gains"][0] > records[0]["top_label_gains"][1]
    assert sum(records[0]["top_label_gains"]) == pytest.approx(records[0]["gain"])
    assert records[2]["objective_after"] == pytest.approx(result.objective)
    assert result.objective == pytest.approx(result.empty_objective + result.gain.sum())


def test_wall_time_and_peak_memory_are_logged(caplog):
    pool, graph = random_instance(0)
    with caplog.at_level(logging.DEBUG, logger="postmix.select"):  # debug: on the console with --verbose only
        result = select(pool, graph, SelectParams(exclude_near_duplicates=False, budget=5, progress=False))
    assert result.wall_time_s > 0 and result.peak_memory_bytes > 0
    assert any("wall_time_s=" in r.message and "peak_rss_mib=" in r.message for r in caplog.records)


def test_progress_bar_goes_to_stderr_and_can_be_disabled(capsys):
    pool, graph = random_instance(0)
    select(pool, graph, SelectParams(exclude_near_duplicates=False, budget=5, progress=False))
    assert capsys.readouterr().err == ""
    select(pool, graph, SelectParams(exclude_near_duplicates=False, budget=5, progress=True))
    captured = capsys.readouterr()
    assert "lazy greedy" in captured.err and captured.out == ""


def test_frame_and_npz_round_trips(tmp_path):
    from postmix.select.frames import load_pool_npz, pool_from_frame, pool_to_frame, save_pool_npz

    pool, graph = random_instance(9)
    back = pool_from_frame(pool_to_frame(pool), pool.label_names, ("source", "task"))
    assert (back.labels != pool.labels).nnz == 0
    np.testing.assert_array_equal(back.sample_ids, pool.sample_ids)
    np.testing.assert_array_equal(back.near_duplicate, pool.near_duplicate)
    np.testing.assert_array_equal(back.response_chars, pool.response_chars)
    save_pool_npz(tmp_path / "pool.npz", pool, graph)
    loaded, loaded_graph = load_pool_npz(tmp_path / "pool.npz")
    np.testing.assert_array_equal(loaded.response_chars, pool.response_chars)
    np.testing.assert_array_equal(pool.subset(np.array([5, 2])).response_chars, pool.response_chars[[5, 2]])
    params = SelectParams(exclude_near_duplicates=False, budget=10, progress=False)
    np.testing.assert_array_equal(select(loaded, loaded_graph, params).sample_id,
                                  select(pool, graph, params).sample_id)
    with pytest.raises(InputError, match="not found"):
        load_pool_npz(tmp_path / "missing.npz")
