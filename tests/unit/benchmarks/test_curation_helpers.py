"""The curation benchmark's pure helpers: its measures, its verdict, its overrides and its pool composition rules
(the figures themselves come from `make bench-curation`)."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import curation_metrics as M  # noqa: E402
import curation_pools as P  # noqa: E402


def unit(rows) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_reference_coverage_is_the_mean_best_cosine():
    picks = unit([[1, 0, 0], [0, 1, 0]])
    reference = unit([[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    # best cosines: 1, 1/sqrt(2), 0
    assert M.reference_coverage(reference, picks) == pytest.approx((1 + 1 / math.sqrt(2) + 0) / 3, abs=1e-6)


def test_near_duplicate_rate_counts_rows_with_a_close_other_row_only():
    vectors = unit([[1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0, 0, 1]])
    assert M.near_duplicate_rate(vectors, 0.95) == pytest.approx(0.5)  # the first two only, never a row with itself
    assert M.near_duplicate_rate(vectors[:1], 0.95) == 0.0
    assert M.near_duplicate_rate(vectors[:0], 0.95) == 0.0
    copies = unit([[1, 2, 3]] * 3)
    assert M.near_duplicate_rate(copies, 0.95) == 1.0


def test_nearest_other_is_blocked_correctly(monkeypatch):
    rng = np.random.default_rng(0)
    vectors = unit(rng.normal(size=(50, 8)))
    full = vectors @ vectors.T
    np.fill_diagonal(full, -np.inf)
    monkeypatch.setattr(M, "BLOCK_ROWS", 7)
    assert np.allclose(M.nearest_other(vectors), full.max(axis=1))
    assert np.allclose(M.best_cosines(vectors[:20], vectors[20:]), (vectors[:20] @ vectors[20:].T).max(axis=1))


def test_entropy_and_kl_in_bits():
    assert M.entropy_bits(["a", "b", "a", "b"]) == pytest.approx(1.0)
    assert M.entropy_bits(["a"] * 5) == 0.0
    assert M.entropy_bits(["a", "b", "c", "d"]) == pytest.approx(2.0)
    pool = ["a", "a", "b", "c"]
    assert M.kl_bits(["a", "a", "b", "c"], pool) == pytest.approx(0.0)
    assert M.kl_bits(["b"], pool) == pytest.approx(math.log2(1 / 0.25))  # 1 * log2(1 / 0.25)
    with pytest.raises(ValueError):
        M.kl_bits(["z"], pool)


def test_selection_measures_leave_rows_without_ground_truth_out():
    vectors = unit(np.eye(4))
    measures = M.selection_measures(
        np.array([0, 1, 2]), gt=np.array([1.0, np.nan, 0.0, 0.5]), gt_class=np.array(["curated", "other", "low", "low"]),
        win_prob=np.array([np.nan, np.nan, np.nan, 0.3]), tasks=np.array(["x", "y", "x", "y"]), vectors=vectors,
        reference_vectors=vectors[3:], dedup_threshold=0.95)
    assert measures["gt_quality"] == pytest.approx(0.5) and measures["gt_rows"] == 2
    assert measures["alpaca_eval_win_prob"] is None and measures["alpaca_eval_rows"] == 0
    assert measures["low_quality_share"] == pytest.approx(1 / 3)
    assert measures["hand_curated_share"] == pytest.approx(1 / 3)
    assert measures["reference_coverage"] == pytest.approx(0.0, abs=1e-6)
    assert measures["near_duplicate_rate"] == 0.0
    assert measures["task_entropy"] == pytest.approx(M.entropy_bits(["x", "y", "x"]))


def test_mean_and_std_over_seeds():
    means, stds = M.mean_and_std([{"a": 1.0, "b": None}, {"a": 3.0, "b": None}], ["a", "b"])
    assert means == {"a": 2.0, "b": None}
    assert stds["a"] == pytest.approx(math.sqrt(2.0)) and stds["b"] is None


def test_verdict_needs_every_measure_strictly_better_and_no_dominating_method():
    random_mean = {"gt_quality": 0.5, "reference_coverage": 0.6, "near_duplicate_rate": 0.2, "task_entropy": 2.0}
    good = {"gt_quality": 0.6, "reference_coverage": 0.7, "near_duplicate_rate": 0.1, "task_entropy": 2.5}
    assert M.verdict(good, random_mean, {})["pass"]
    tie = {**good, "near_duplicate_rate": 0.2}
    result = M.verdict(tie, random_mean, {})
    assert not result["pass"] and result["not_better_than_random"] == ["near_duplicate_rate"]
    dominating = {"gt_quality": 0.7, "reference_coverage": 0.8, "near_duplicate_rate": 0.05, "task_entropy": 2.6}
    partly = {**dominating, "task_entropy": 2.5}  # equal on one measure: does not dominate
    result = M.verdict(good, random_mean, {"x": dominating, "y": partly})
    assert not result["pass"] and result["better_on_all_four"] == ["x"] and not result["not_better_than_random"]
    assert not M.verdict({**good, "gt_quality": None}, random_mean, {})["pass"]  # undefined is never better


def test_spread_positions_are_even_and_include_both_ends():
    assert P.spread_positions(11, 3) == [0, 5, 10]
    assert P.spread_positions(4, 10) == [0, 1, 2, 3]
    assert P.spread_positions(9, 1) == [4]
    assert P.spread_positions(100, 7) == sorted(set(P.spread_positions(100, 7)))
    assert list(P.nearest_free(2, 5, {2, 3})) == [1, 4, 0]


def test_row_hash_is_keyed_and_stable():
    assert P.row_hash("dolly-00001") == P.row_hash("dolly-00001")
    assert P.row_hash("dolly-00001") != P.row_hash("dolly-00001", seed="other")
    assert P.row_hash("dolly-00001") != P.row_hash("dolly-00002")


def test_ground_truth_per_dataset():
    assert P.ground_truth("dolly15k", {}) == (1.0, P.CURATED)
    assert P.ground_truth("t0_p3_50k", {}) == (0.0, P.LOW)
    assert P.ground_truth("hh_rlhf_harmless_test", {"meta": {"preferred": True}}) == (1.0, P.CURATED)
    assert P.ground_truth("hh_rlhf_harmless_test", {"meta": {"preferred": False}}) == (0.0, P.LOW)
    assert P.ground_truth("alpaca_eval2_gpt4t_judged", {"meta": {"win_prob_vs_reference": 0.2}}) == (0.2, P.LOW)
    assert P.ground_truth("alpaca_eval1_gpt4_judged", {"meta": {"win_prob_vs_reference": 0.5}}) == (0.5, P.OTHER)
    assert P.ground_truth("alpaca_eval1_gpt4_judged", {"meta": {"win_prob_vs_reference": None}}) == (None, P.OTHER)
    assert P.ground_truth("gpteacher", {}) == (None, P.OTHER)


def _dolly_rows(n: int) -> list[dict]:
    return [{"id": f"dolly-{i:05d}", "source": "dolly", "meta": {"category": "open_qa"},
             "messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}
            for i in range(n)]


def test_hashed_take_is_held_out_only_and_independent_of_file_order():
    rows = _dolly_rows(400)
    rows.append({**rows[0], "id": "dolly-99999"})  # same conversation as dolly-00000: one sample_id
    rows.append({"id": "dolly-99998", "source": "dolly", "meta": {},
                 "messages": [{"role": "user", "content": "no answer"}]})  # ingest rejects it
    first = P.take_hashed("dolly15k", rows, 30, P.Taker())
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    second = P.take_hashed("dolly15k", shuffled, 30, P.Taker())
    assert [r["sample_id"] for r in first] == [r["sample_id"] for r in second]
    assert len({r["sample_id"] for r in first}) == 30
    by_id = {r["id"]: r for r in rows}
    assert all(P.is_held_out(by_id[r["source_id"]]) for r in first)
    assert all(r["gt"] == 1.0 and r["gt_class"] == P.CURATED for r in first)
    more = P.take_hashed("dolly15k", rows, 40, P.Taker())
    assert [r["sample_id"] for r in more[:30]] == [r["sample_id"] for r in first]  # a bigger count extends a smaller
    with pytest.raises(SystemExit):
        P.take_hashed("dolly15k", rows, 10_000, P.Taker())


def test_alpaca_eval_spread_covers_the_win_probability_range():
    rows = [{"id": f"ae2-model{j}-{0:03d}", "source": "ae", "messages": [
        {"role": "user", "content": "the prompt"}, {"role": "assistant", "content": f"answer {j}"}],
        "meta": {"instruction_index": 0, "win_prob_vs_reference": j / 19}} for j in range(20)]
    taken = P.take_spread("alpaca_eval2_gpt4t_judged", rows, 5, P.Taker())
    probabilities = sorted(r["win_prob"] for r in taken)
    assert probabilities[0] == 0.0 and probabilities[-1] == 1.0 and len(set(probabilities)) == 5
    assert json.loads(taken[0]["meta"])["instruction_index"] == 0
