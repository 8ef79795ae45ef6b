"""Exact greedy maximisation of the information objective under the selection constraints.

`naive_greedy` re-evaluates every eligible candidate at every step (the reference, used by tests).
`lazy_greedy` is CELF: stale gains are upper bounds by submodularity, so only rows whose bound could still
win are re-evaluated. Priorities tie on sample_id rank, so both return the same picks with the same gains.

With a token budget, `better_of_cost_aware` runs greedy on gain/cost and greedy on gain (taking only rows that
still fit) and keeps the better: the cost-effective/unit-cost better-of of Leskovec et al. (CELF, KDD 2007),
which is at least (1 - 1/e)/2 of the optimum under a knapsack budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from postmix.select.constraints import ConstraintState
from postmix.select.measure import progress_bar
from postmix.select.objective import InformationObjective

_FIRST_PROBE = 1
_MAX_BATCH = 4096


@dataclass(frozen=True)
class GreedyRun:
    """The picks of one greedy run, in order, and the final objective."""

    picks: np.ndarray
    objective: float
    variant: str


def naive_greedy(objective: InformationObjective, state: ConstraintState, id_ranks: np.ndarray,
                 cost_scaled: bool = False) -> np.ndarray:
    """Evaluate every eligible candidate at every step; pick the best, smaller sample_id on ties."""
    objective.init()
    everyone = np.arange(len(id_ranks))
    picks = []
    while True:
        candidates = everyone[state.eligible(everyone)]
        if len(candidates) == 0:
            break
        keys = _priorities(objective.gains(candidates), state.costs[candidates], cost_scaled)
        best = candidates[np.lexsort((id_ranks[candidates], -keys))[0]]
        objective.update(int(best))
        state.record(int(best))
        picks.append(int(best))
    return np.asarray(picks, dtype=np.int64)


def lazy_greedy(objective: InformationObjective, state: ConstraintState, id_ranks: np.ndarray,
                cost_scaled: bool = False, progress: bool = False) -> np.ndarray:
    """CELF over a vector of bounds: each step re-evaluates only the rows whose stale bound could still win.

    `bound[i]` is row i's last computed priority: by submodularity an upper bound of its current one. A step
    evaluates the row with the highest bound, then every stale row whose bound is >= the best fresh priority
    (in vectorised batches, highest bounds first), and picks the best fresh row, smaller sample_id on ties.
    This is the classic heap-based CELF with the heap replaced by numpy scans: the same evaluations are skipped,
    but a step costs a few O(n) vector passes instead of hundreds of Python heap operations (measured ~3x
    faster than a heapq version on 100K rows x 2K labels, budget 1K)."""
    objective.init()
    everyone = np.arange(len(id_ranks))
    alive = state.fits(everyone)
    bound = np.full(len(id_ranks), -np.inf)
    bound[alive] = _priorities(objective.gains(everyone[alive]), state.costs[alive], cost_scaled)
    # number of picks when the bound was computed; -1 so that step 0 checks the floor reservation like any step
    evaluated_at = np.full(len(id_ranks), -1, dtype=np.int64)
    cheapest = float(state.costs[alive].min()) if alive.any() else 0.0
    picks: list[int] = []
    with progress_bar(state.remaining, progress, "lazy greedy") as bar:
        while alive.any() and state.remaining >= cheapest:
            best_row = _best_fresh_row(objective, state, id_ranks, alive, bound, evaluated_at, len(picks),
                                       cost_scaled)
            if best_row < 0:
                break
            objective.update(best_row)
            state.record(best_row)
            alive[best_row] = False
            bound[best_row] = -np.inf
            picks.append(best_row)
            bar.update(float(state.costs[best_row]))
    return np.asarray(picks, dtype=np.int64)


def _best_fresh_row(objective: InformationObjective, state: ConstraintState, id_ranks: np.ndarray,
                    alive: np.ndarray, bound: np.ndarray, evaluated_at: np.ndarray, current: int,
                    cost_scaled: bool) -> int:
    """Re-evaluate what could win this step; return the winning row (-1 when nothing eligible is left).

    First the highest bound(s) are evaluated to get a fresh best; then, in one scan, every stale row whose bound is
    >= that best (a row below it cannot win or tie). Rows that no longer fit (budget, caps) are dropped for good
    (bound -inf); rows the floor reservation blocks are hidden for this step only (restored before returning)."""
    step = _Step(objective, state, alive, bound, evaluated_at, current, cost_scaled)
    probe = _FIRST_PROBE
    while step.best == -np.inf:
        top = _highest(bound, probe)
        if len(top) == 0:
            break
        step.evaluate(top)
        probe *= 2
    while step.best > -np.inf:
        stale = np.flatnonzero(bound >= step.best)
        stale = stale[evaluated_at[stale] != current]
        if len(stale) == 0:
            break
        truncated = len(stale) > _MAX_BATCH
        if truncated:
            stale = stale[np.argpartition(-bound[stale], _MAX_BATCH)[:_MAX_BATCH]]
        step.evaluate(stale)
        if not truncated:
            break  # every stale row left has a bound below the old best, hence below the new one
    return step.finish(id_ranks)


def _highest(bound: np.ndarray, count: int) -> np.ndarray:
    """Rows of the `count` highest finite bounds (the argmax alone when count is 1)."""
    if count == 1:
        top = np.array([int(np.argmax(bound))])
    elif count < len(bound):
        top = np.argpartition(-bound, count - 1)[:count]
    else:
        top = np.arange(len(bound))
    return top[bound[top] > -np.inf]


class _Step:
    """The bookkeeping of one lazy-greedy step: fresh rows, the best fresh priority, rows hidden for the step."""

    def __init__(self, objective, state, alive, bound, evaluated_at, current, cost_scaled) -> None:
        self.objective, self.state, self.alive, self.bound = objective, state, alive, bound
        self.evaluated_at, self.current, self.cost_scaled = evaluated_at, current, cost_scaled
        self.best = -np.inf
        self.fresh: list[np.ndarray] = []
        self.hidden: list[tuple[np.ndarray, np.ndarray]] = []

    def evaluate(self, rows: np.ndarray) -> None:
        fits = self.state.fits(rows)
        self.alive[rows[~fits]] = False
        self.bound[rows[~fits]] = -np.inf
        rows = rows[fits]
        reserved = self.state.keeps_floor_reserve(rows)
        if not reserved.all():
            self.hidden.append((rows[~reserved], self.bound[rows[~reserved]].copy()))
            self.bound[rows[~reserved]] = -np.inf
            rows = rows[reserved]
        if len(rows):
            self.bound[rows] = _priorities(self.objective.gains(rows), self.state.costs[rows], self.cost_scaled)
            self.evaluated_at[rows] = self.current
            self.fresh.append(rows)
            self.best = max(self.best, float(self.bound[rows].max()))

    def finish(self, id_ranks: np.ndarray) -> int:
        winner = -1
        if self.best > -np.inf:
            fresh = np.concatenate(self.fresh)
            tied = fresh[self.bound[fresh] == self.best]
            winner = int(tied[np.argmin(id_ranks[tied])])
        for rows, bounds in self.hidden:
            self.bound[rows] = bounds
        return winner


def _priorities(gains: np.ndarray, costs: np.ndarray, cost_scaled: bool) -> np.ndarray:
    return gains / costs if cost_scaled else gains


def better_of_cost_aware(objective: InformationObjective, start_state, id_ranks: np.ndarray,
                         progress: bool = False) -> GreedyRun:
    """Token budgets: greedy on gain per token and greedy on gain alone; the higher objective wins (ties: the
    cost-scaled run). `start_state` is a factory, each run needs its own constraint state."""
    runs = []
    for variant, cost_scaled in (("cost-scaled", True), ("unit-cost", False)):
        picks = lazy_greedy(objective, start_state(), id_ranks, cost_scaled=cost_scaled, progress=progress)
        runs.append(GreedyRun(picks, objective.value_of(picks), variant))
    return runs[1] if runs[1].objective > runs[0].objective else runs[0]


def run_greedy(objective: InformationObjective, start_state, id_ranks: np.ndarray, in_tokens: bool,
               progress: bool = False) -> GreedyRun:
    """Lazy greedy, with the cost-aware better-of when the budget is in tokens."""
    if in_tokens:
        return better_of_cost_aware(objective, start_state, id_ranks, progress)
    picks = lazy_greedy(objective, start_state(), id_ranks, progress=progress)
    return GreedyRun(picks, objective.value_of(picks), "unit-cost")
