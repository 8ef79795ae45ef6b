"""Task distribution of a selection against its pool: entropies in bits and the KL divergence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DistributionComparison:
    """selection_entropy = H(p_sel), pool_entropy = H(p_pool) (bits); ratio = H(p_sel) / H(p_pool) (1.0 when the
    pool has a single category); kl = KL(p_sel || p_pool) in bits (0 when the selection keeps the pool's shares)."""

    selection_entropy: float
    pool_entropy: float
    ratio: float
    kl: float


def shares(values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Share of each category (in the order given) among `values`; zeros when `values` is empty."""
    position = {category: i for i, category in enumerate(categories.tolist())}
    counts = np.bincount([position[v] for v in values.tolist()], minlength=len(categories)).astype(np.float64)
    total = counts.sum()
    return counts / total if total else counts


def entropy_bits(p: np.ndarray) -> float:
    """Shannon entropy in bits; 0 log 0 = 0."""
    nonzero = p[p > 0]
    return float(-(nonzero * np.log2(nonzero)).sum()) + 0.0


def kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in bits. Finite here because a selection only holds categories its pool holds (q > 0 where p > 0)."""
    nonzero = p > 0
    return float((p[nonzero] * np.log2(p[nonzero] / q[nonzero])).sum()) + 0.0


def compare_distribution(pool_values: np.ndarray, selected_values: np.ndarray) -> DistributionComparison:
    pool_values = np.asarray(pool_values).astype(str)
    selected_values = np.asarray(selected_values).astype(str)
    categories = np.unique(pool_values)
    p_pool = shares(pool_values, categories)
    p_selection = shares(selected_values, categories)
    pool_entropy = entropy_bits(p_pool)
    selection_entropy = entropy_bits(p_selection)
    ratio = selection_entropy / pool_entropy if pool_entropy > 0 else 1.0
    kl = kl_bits(p_selection, p_pool) if len(selected_values) else 0.0
    return DistributionComparison(selection_entropy, pool_entropy, ratio, kl)
