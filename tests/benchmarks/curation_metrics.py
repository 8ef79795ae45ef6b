"""The curation benchmark's measures of one selection, and the verdict of issue 11's "Done when" (pure functions).

Vectors are L2-normalised float32 rows, so an inner product is a cosine. Everything is exact (no approximate
search): a selection is at most a few thousand rows.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np

from postmix.mixture.distribution import entropy_bits as product_entropy_bits
from postmix.mixture.distribution import kl_bits as product_kl_bits
from postmix.mixture.distribution import shares
from postmix.mixture.duplicates import near_duplicate_rate as product_near_duplicate_rate
from postmix.mixture.duplicates import nearest_other_similarity

BLOCK_ROWS = 2048

# The four measures of the verdict and which direction is better.
VERDICT_MEASURES = (("gt_quality", "higher"), ("reference_coverage", "higher"), ("near_duplicate_rate", "lower"),
                    ("task_entropy", "higher"))


def mean_defined(values: Sequence[Optional[float]]) -> Optional[float]:
    """Mean over the values that are defined (not None, not NaN); None when there are none."""
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(kept)) if kept else None


def best_cosines(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each query row, the highest cosine to any key row (blocked; -1 when there are no keys)."""
    if len(keys) == 0:
        return np.full(len(queries), -1.0)
    best = np.empty(len(queries), dtype=np.float64)
    for start in range(0, len(queries), BLOCK_ROWS):
        best[start:start + BLOCK_ROWS] = (queries[start:start + BLOCK_ROWS] @ keys.T).max(axis=1)
    return best


def reference_coverage(reference_vectors: np.ndarray, pick_vectors: np.ndarray) -> float:
    """Mean over reference prompts of the best cosine between the prompt's vector and any pick's vector."""
    return float(np.mean(best_cosines(reference_vectors, pick_vectors)))


def nearest_other(vectors: np.ndarray) -> np.ndarray:
    """For each row, the highest cosine to any *other* row of the same set: the report's own measure
    (postmix.mixture.duplicates), so the benchmark and the mixture metrics cannot define it differently."""
    return nearest_other_similarity(_unit32(vectors), threads=1)


def near_duplicate_rate(vectors: np.ndarray, threshold: float) -> float:
    """Share of rows that have another row of the set at cosine >= threshold (0 for an empty set), as the mixture
    metrics compute it."""
    return product_near_duplicate_rate(_unit32(vectors), np.arange(len(vectors)), threshold, threads=1)


def entropy_bits(values: Sequence[str]) -> float:
    """Shannon entropy (bits) of the values' empirical distribution (postmix.mixture.distribution)."""
    labels = np.asarray(values).astype(str)
    return product_entropy_bits(shares(labels, np.unique(labels)))


def kl_bits(values: Sequence[str], reference: Sequence[str]) -> float:
    """KL(values || reference) in bits over the reference's categories (values must be a subset of them)."""
    labels, pool = np.asarray(values).astype(str), np.asarray(reference).astype(str)
    categories = np.unique(pool)
    unknown = set(labels.tolist()) - set(categories.tolist())
    if unknown:
        raise ValueError(f"categories not in the reference distribution: {sorted(unknown)}")
    return product_kl_bits(shares(labels, categories), shares(pool, categories))


def _unit32(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32)


def selection_measures(picks: np.ndarray, *, gt: np.ndarray, gt_class: np.ndarray, win_prob: np.ndarray,
                       tasks: np.ndarray, vectors: np.ndarray, reference_vectors: np.ndarray,
                       dedup_threshold: float) -> dict:
    """Every measure of one selection (rows `picks` of the pool arrays; NaN in gt / win_prob = no ground truth)."""
    picks = np.asarray(picks, dtype=np.int64)
    picked_gt = gt[picks]
    picked_wp = win_prob[picks]
    has_gt = ~np.isnan(picked_gt)
    has_wp = ~np.isnan(picked_wp)
    n = len(picks)
    return {
        "picks": n,
        "gt_quality": float(picked_gt[has_gt].mean()) if has_gt.any() else None,
        "gt_rows": int(has_gt.sum()),
        "alpaca_eval_win_prob": float(picked_wp[has_wp].mean()) if has_wp.any() else None,
        "alpaca_eval_rows": int(has_wp.sum()),
        "reference_coverage": reference_coverage(reference_vectors, vectors[picks]),
        "near_duplicate_rate": near_duplicate_rate(vectors[picks], dedup_threshold),
        "task_entropy": entropy_bits(tasks[picks].tolist()),
        "task_kl": kl_bits(tasks[picks].tolist(), tasks.tolist()),
        "low_quality_share": float(np.mean(gt_class[picks] == "low")) if n else 0.0,
        "hand_curated_share": float(np.mean(gt_class[picks] == "curated")) if n else 0.0,
    }


def mean_and_std(rows: Sequence[Mapping], keys: Sequence[str]) -> tuple[dict, dict]:
    """Per key: mean and sample standard deviation (ddof 1; 0 for one row) over rows, skipping undefined values."""
    means, stds = {}, {}
    for key in keys:
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        means[key] = float(np.mean(values)) if values else None
        stds[key] = float(np.std(values, ddof=1)) if len(values) > 1 else (0.0 if values else None)
    return means, stds


def better(a: Optional[float], b: Optional[float], direction: str) -> bool:
    """Strictly better (a tie is not better); an undefined value is never better and never beaten."""
    if a is None or b is None:
        return False
    return a > b if direction == "higher" else a < b


def verdict(candidate: Mapping, random_mean: Mapping, others: Mapping[str, Mapping]) -> dict:
    """Issue 11's check for one (pool, budget): does `candidate` (the default mig) beat random's mean on every
    verdict measure, and does any other method beat it on all of them at once? PASS needs both."""
    failing = [m for m, d in VERDICT_MEASURES if not better(candidate.get(m), random_mean.get(m), d)]
    dominated_by = [name for name, row in others.items()
                    if all(better(row.get(m), candidate.get(m), d) for m, d in VERDICT_MEASURES)]
    return {"pass": not failing and not dominated_by, "not_better_than_random": failing,
            "better_on_all_four": dominated_by}
