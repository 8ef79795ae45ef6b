"""The MIG information objective, computed exactly over sparse rows (docs/SELECTION.md, "The objective").

P = column-normalize(I + alpha * offdiag(W)); Xp = diag(s) L P; F(S) = sum_k phi(sum_{i in S} Xp_ik).
The objective follows apricot's shape: `init` (coverage at zero), vectorised `gains(candidates)`, `update(pick)`.
Gains are computed over each candidate row's non-zeros only, so cost and memory grow with non-zeros, never with
pool x labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from postmix.select.kernels import GAIN_RULES, PHI_EXP, PHI_POWER, add_row, phi_values, row_gains
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph, SelectionPool

POWER_EPSILON = 1e-6


@dataclass(frozen=True)
class PowerPhi:
    """phi(x) = (x + 1e-6)^beta: concave and increasing for 0 < beta <= 1."""

    beta: float = 0.8

    @property
    def kernel_args(self) -> tuple[int, float, float]:
        """(phi code, parameter, epsilon) for postmix.select.kernels."""
        return PHI_POWER, self.beta, POWER_EPSILON

    def value(self, x: np.ndarray) -> np.ndarray:
        return np.power(x + POWER_EPSILON, self.beta)

    def derivative(self, x: np.ndarray) -> np.ndarray:
        return self.beta * np.power(x + POWER_EPSILON, self.beta - 1.0)


@dataclass(frozen=True)
class ExpPhi:
    """phi(x) = 1 - exp(-a x): concave, increasing and saturating at 1 per label."""

    a: float = 1.0

    @property
    def kernel_args(self) -> tuple[int, float, float]:
        return PHI_EXP, self.a, 0.0

    def value(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-self.a * x)

    def derivative(self, x: np.ndarray) -> np.ndarray:
        return self.a * np.exp(-self.a * x)


def phi_from_params(params: SelectParams):
    return PowerPhi(params.beta) if params.phi == "power" else ExpPhi(params.exp_a)


def propagation_matrix(graph: LabelGraph, alpha: float) -> sp.csr_matrix:
    """Column-normalised I + alpha * offdiag(W): each label spreads a unit of information over its neighbours."""
    weights = graph.weights
    identity = sp.identity(weights.shape[0], format="csr", dtype=np.float64)
    off_diagonal = weights - sp.diags(weights.diagonal(), format="csr")
    unnormalised = (identity + alpha * off_diagonal).tocsc()
    column_sums = np.asarray(unnormalised.sum(axis=0)).ravel()
    normalised = unnormalised @ sp.diags(1.0 / column_sums)
    csr = sp.csr_matrix(normalised)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def information_rows(pool: SelectionPool, propagation: sp.csr_matrix) -> sp.csr_matrix:
    """Xp = diag(quality) L P, one sparse information row per sample."""
    if pool.n_labels != propagation.shape[0]:
        raise ValueError(f"pool has {pool.n_labels} labels, label graph has {propagation.shape[0]}")
    weighted = sp.diags(pool.quality) @ pool.labels
    rows = sp.csr_matrix(weighted @ propagation)
    rows.sum_duplicates()
    rows.eliminate_zeros()
    rows.sort_indices()
    return rows


def build_objective(pool: SelectionPool, graph: LabelGraph, params: SelectParams) -> "InformationObjective":
    return InformationObjective(information_rows(pool, propagation_matrix(graph, params.alpha)),
                                phi_from_params(params))


class InformationObjective:
    """F over a fixed information matrix, with the coverage of the current selection as its only state."""

    def __init__(self, rows: sp.csr_matrix, phi) -> None:
        self.rows = rows
        self.phi = phi
        # the CSR arrays as the compiled kernels take them (postmix.select.kernels)
        self.csr = (rows.indptr, rows.indices, rows.data)
        self.init()

    def init(self) -> None:
        """Back to the empty selection."""
        self.coverage = np.zeros(self.rows.shape[1], dtype=np.float64)
        # phi of the current coverage, kept per label so a gain costs one phi call per non-zero, not two
        self.phi_coverage = phi_values(self.coverage, self.phi.kernel_args)

    def value(self, coverage: np.ndarray | None = None) -> float:
        """F at the given coverage (default: the current one)."""
        coverage = self.coverage if coverage is None else coverage
        return float(np.sum(self.phi.value(coverage)))

    def gains(self, candidates: np.ndarray, rule: str = "exact") -> np.ndarray:
        """Exact marginal gains F(S + i) - F(S) for each candidate row, over its non-zeros only; with
        rule="linearised", the first-order scores sum_k Xp_ik phi'(c_k) instead (method mig-gradient)."""
        candidates = np.ascontiguousarray(candidates, dtype=np.int64)
        return row_gains(self.csr, self.coverage, self.phi_coverage, self.phi.kernel_args, GAIN_RULES[rule],
                         candidates)

    def label_gains(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-label gain of one row at the current coverage: (label indices, gains); the explanation of a pick."""
        positions = np.arange(self.rows.indptr[row], self.rows.indptr[row + 1])
        return self.rows.indices[positions], self._label_gains(positions)

    def update(self, row: int) -> None:
        """Add one row to the selection."""
        add_row(self.csr, self.coverage, self.phi_coverage, self.phi.kernel_args, int(row))

    def value_of(self, rows: np.ndarray) -> float:
        """F of an arbitrary set of rows, independent of the current state."""
        coverage = np.zeros(self.rows.shape[1], dtype=np.float64)
        for row in np.asarray(rows, dtype=np.int64):
            start, end = self.rows.indptr[row], self.rows.indptr[row + 1]
            coverage[self.rows.indices[start:end]] += self.rows.data[start:end]
        return self.value(coverage)

    def _label_gains(self, positions: np.ndarray) -> np.ndarray:
        labels = self.rows.indices[positions]
        return self.phi.value(self.coverage[labels] + self.rows.data[positions]) - self.phi_coverage[labels]
