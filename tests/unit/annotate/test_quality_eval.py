"""Pairwise accuracy against human preferences, and how hh_rlhf pairs are read."""

import gzip
import json

import numpy as np
import pytest

from postmix.annotate.metrics import pairwise_accuracy
from postmix.annotate.quality_eval import HH_DATASET, hh_pairs


def test_pairwise_accuracy_counts_ties_as_half():
    result = pairwise_accuracy(np.array([0.9, 0.2, 0.5, 0.7]), np.array([0.1, 0.8, 0.5, 0.6]))
    assert result == {"pairs": 4, "accuracy": pytest.approx((2 + 0.5) / 4), "ties": 1}


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
