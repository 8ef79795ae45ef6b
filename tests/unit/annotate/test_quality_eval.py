"""Pairwise accuracy against human preferences, AUC over length-matched pairs, and how hh_rlhf pairs are read."""

import gzip
import json

import numpy as np
import pytest

from postmix.annotate.metrics import length_bin, matched_auc, pairwise_accuracy
from postmix.annotate.quality_eval import HH_DATASET, hh_pairs


def test_pairwise_accuracy_counts_ties_as_half():
    result = pairwise_accuracy(np.array([0.9, 0.2, 0.5, 0.7]), np.array([0.1, 0.8, 0.5, 0.6]))
    assert result == {"pairs": 4, "accuracy": pytest.approx((2 + 0.5) / 4), "ties": 1}


def test_matched_auc_counts_only_pairs_with_equal_keys():
    # Across keys the positives win 3 of 4 pairs; within key 2, the only key both sides have, they win 1 of 1.
    assert matched_auc(np.array([10.0, 20.0]), np.array([1.0, 15.0]), np.array([1, 2]), np.array([0, 2])) == 1.0
    assert matched_auc(np.array([5.0]), np.array([5.0]), np.array([3]), np.array([3])) == 0.5  # a tie counts half
    assert matched_auc(np.array([5.0]), np.array([1.0]), np.array([3]), np.array([4])) is None


def test_matched_auc_equals_the_pair_count_it_defines():
    rng = np.random.default_rng(7)
    pos, neg = rng.integers(0, 5, 60).astype(float), rng.integers(0, 5, 50).astype(float)  # many ties
    pos_keys, neg_keys = rng.integers(0, 4, 60), rng.integers(0, 4, 50)
    same = pos_keys[:, None] == neg_keys[None, :]
    diff = pos[:, None] - neg[None, :]
    expected = ((diff > 0) & same).sum() + 0.5 * ((diff == 0) & same).sum()
    assert matched_auc(pos, neg, pos_keys, neg_keys) == pytest.approx(expected / same.sum(), abs=1e-6)


def test_length_bins_are_a_factor_of_two_wide():
    assert length_bin(np.array([0, 1, 2, 3, 4, 7, 8, 1000])).tolist() == [0, 1, 1, 2, 2, 3, 3, 9]


def test_hh_pairs_keep_complete_pairs_in_file_order(tmp_path):
    def row(pair, preferred, text):
        return {"id": f"{pair}-{preferred}", "messages": [{"role": "user", "content": "q"},
                                                          {"role": "assistant", "content": text}],
                "meta": {"pair_id": pair, "preferred": preferred}}

    rows = [row("b", True, "b good"), row("a", False, "a bad"), row("b", False, "b bad"),
            row("c", True, "c only"), row("a", True, "a good")]
    folder = tmp_path / HH_DATASET
    folder.mkdir()
    with gzip.open(folder / f"{HH_DATASET}.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in rows))
    chosen, rejected = hh_pairs(tmp_path)
    assert [m[-1]["content"] for m in chosen] == ["b good", "a good"]  # pair c has no rejected side: dropped
    assert [m[-1]["content"] for m in rejected] == ["b bad", "a bad"]
