"""The quality benchmark's table: a measure with nothing to count prints n/a instead of stopping the report (the
figures themselves come from `make bench-quality`)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_quality as Q  # noqa: E402


def _report(auc: float, pairwise: float) -> dict:
    return {"roc_auc": auc, "pairwise": {"accuracy": pairwise}, "spearman": 0.3, "r2_on_log_length": 0.5,
            "partial_corr_given_length": 0.1}


def _row(length_matched) -> dict:
    return {"ae1": _report(0.8, 0.85), "ae2": _report(0.8, 0.88), "dolly_vs_t0_auc": 0.95,
            "dolly_vs_t0_auc_length_matched": length_matched, "hh_pairwise": {"accuracy": 0.5}}


def test_a_length_matched_auc_without_pairs_prints_n_a():
    results = {"length": _row(0.553), "fastText": _row(0.2), "ranker": _row(None)}
    ceiling = {"ae1": _report(0.8, 0.86), "ae2": _report(0.86, 0.92)}
    speed = {"rows": {"annotate_frame": "1 wall / 1 CPU"}}
    table = Q.markdown(results, speed, {"dolly15k": 1}, ceiling)
    ranker_line = next(line for line in table.splitlines() if line.startswith("| ranker |"))
    assert "| 0.950 | n/a | 0.500 |" in ranker_line
    assert "| 0.950 | 0.553 | 0.500 |" in next(line for line in table.splitlines() if line.startswith("| length |"))
