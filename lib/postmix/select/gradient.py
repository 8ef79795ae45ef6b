"""The MIG paper's gradient sampler done densely: the benchmark's baseline and the exact reference of the lazy
`mig-gradient`.

Each step: g = phi'(coverage) as a dense K vector, a score for every row (Xp @ g; per unit of cost when
`cost_scaled`), the best eligible row is taken (ties: the smaller sample_id, since dense rows are held in sample_id
order and argmax takes the first), coverage += its row. O(steps x n x K) time and n x K memory, which the lazy
linearised greedy (`method: mig-gradient`: postmix.select.greedy with rule="linearised") avoids.

Two ways to score, one loop:
- `paper_scores`: a float32 matrix-vector product, as the MIG reference code does (the benchmark's baseline);
- `exact_scores`: float64, summed label by label in label order with the compiled kernels' own phi'
  (`kernels.phi_slopes`). The kernel sums a row's non-zeros in that same order, and adding the zero entries
  changes no bit, so the scores are the kernel's bit for bit: tests pin the lazy picks to these, ties included.
"""

from __future__ import annotations

import numpy as np

from postmix.select import kernels
from postmix.select.constraints import ConstraintState
from postmix.select.measure import progress_bar
from postmix.select.objective import InformationObjective


def dense_information(objective: InformationObjective, id_ranks: np.ndarray,
                      dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Xp as a dense matrix with rows in sample_id order (dense row j is pool row order[j]), so that argmax ties
    go to the smaller sample_id."""
    order = np.argsort(id_ranks)
    return order, objective.rows[order].astype(dtype).toarray()


def paper_scores(dense: np.ndarray, objective: InformationObjective, coverage: np.ndarray) -> np.ndarray:
    """Xp @ phi'(coverage) in float32, one BLAS matrix-vector product (the MIG reference code's step)."""
    gradient = objective.phi.derivative(coverage.astype(np.float64)).astype(np.float32)
    return dense @ gradient


def exact_scores(dense: np.ndarray, objective: InformationObjective, coverage: np.ndarray) -> np.ndarray:
    """Xp @ phi'(coverage) in float64, accumulated label by label (the kernel's summation order, see above)."""
    gradient = kernels.phi_slopes(np.ascontiguousarray(coverage, dtype=np.float64), objective.phi.kernel_args)
    scores = np.zeros(dense.shape[0], dtype=np.float64)
    for label in range(dense.shape[1]):
        scores += dense[:, label] * gradient[label]
    return scores


def gradient_steps(objective: InformationObjective, order: np.ndarray, dense: np.ndarray, state: ConstraintState,
                   scores=paper_scores, cost_scaled: bool = False, progress: bool = False,
                   max_steps: int | None = None) -> np.ndarray:
    """Pool rows in pick order. `max_steps` stops early (the benchmark extrapolates from it); coverage is kept in
    the dense matrix's precision."""
    coverage = np.zeros(dense.shape[1], dtype=dense.dtype)
    costs = state.costs[order]
    picks = []
    with progress_bar(state.remaining, progress, "dense gradient sampler") as bar:
        while max_steps is None or len(picks) < max_steps:
            eligible = state.eligible(order)
            if not eligible.any():
                break
            values = scores(dense, objective, coverage)
            values = values / costs if cost_scaled else values
            values[~eligible] = -np.inf
            best = int(np.argmax(values))
            row = int(order[best])
            coverage += dense[best]
            state.record(row)
            picks.append(row)
            bar.update(float(state.costs[row]))
    return np.asarray(picks, dtype=np.int64)


def dense_gradient_select(objective: InformationObjective, id_ranks: np.ndarray, state: ConstraintState,
                          exact: bool = True, cost_scaled: bool = False, progress: bool = False,
                          max_steps: int | None = None) -> np.ndarray:
    """The whole dense sampler: exact float64 scores (the reference) or the paper's float32 ones."""
    order, dense = dense_information(objective, id_ranks, np.float64 if exact else np.float32)
    return gradient_steps(objective, order, dense, state, exact_scores if exact else paper_scores, cost_scaled,
                          progress, max_steps)
