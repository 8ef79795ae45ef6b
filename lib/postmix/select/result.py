"""SelectionResult: the picks in order, each with the explanation of why it was picked."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from postmix.select.objective import InformationObjective
from postmix.select.params import SelectParams
from postmix.select.pool import SelectionPool


def selection_summary(params: SelectParams) -> dict:
    """The parameters every selection records with its result, whichever method or engine ran it."""
    return {"method": params.method, "budget": params.budget, "budget_tokens": params.budget_tokens,
            "quotas": list(params.quotas), "min_quality": params.min_quality,
            "exclude_near_duplicates": params.exclude_near_duplicates, "phi": params.phi, "beta": params.beta,
            "exp_a": params.exp_a, "alpha": params.alpha, "seed": params.seed}


@dataclass(frozen=True)
class SelectionResult:
    """Arrays in pick order. `gain` is the exact marginal gain at pick time and `objective_after` the objective
    once the row is added, both by the exact objective whatever the method, so methods compare directly."""

    index: np.ndarray
    sample_id: np.ndarray
    rank: np.ndarray
    gain: np.ndarray
    objective_after: np.ndarray
    cost: np.ndarray
    groups: dict[str, np.ndarray]
    top_labels: tuple[tuple[str, ...], ...]
    top_label_gains: tuple[tuple[float, ...], ...]
    method: str
    params: dict = field(default_factory=dict)
    empty_objective: float = 0.0
    wall_time_s: float = 0.0
    peak_memory_bytes: int = 0

    def __len__(self) -> int:
        return len(self.index)

    @property
    def objective(self) -> float:
        """F of the whole selection (F of the empty set when nothing was picked)."""
        return float(self.objective_after[-1]) if len(self.index) else self.empty_objective

    def to_records(self) -> list[dict]:
        """One dict per selected row, in pick order (the selections table's rows)."""
        records = []
        for i in range(len(self.index)):
            record = {"sample_id": str(self.sample_id[i]), "rank": int(self.rank[i]), "gain": float(self.gain[i]),
                      "objective_after": float(self.objective_after[i]), "cost": float(self.cost[i]),
                      "top_labels": list(self.top_labels[i]), "top_label_gains": list(self.top_label_gains[i])}
            record.update({column: str(values[i]) for column, values in self.groups.items()})
            records.append(record)
        return records


def explain_picks(pool: SelectionPool, objective: InformationObjective, picks, method: str, params: dict,
                  top_labels: int) -> SelectionResult:
    """Replay the picks on a fresh objective: gain, objective after and the labels each pick fed most."""
    picks = np.asarray(picks, dtype=np.int64)
    objective.init()
    empty = objective.value()
    gains = np.empty(len(picks))
    after = np.empty(len(picks))
    names, shares = [], []
    for position, row in enumerate(picks):
        gains[position] = objective.gains(np.array([row]))[0]
        label_ids, label_gains = objective.label_gains(int(row))
        order = np.lexsort((label_ids, -label_gains))[:top_labels]
        names.append(tuple(pool.label_names[label] for label in label_ids[order]))
        shares.append(tuple(float(g) for g in label_gains[order]))
        objective.update(int(row))
        after[position] = objective.value()
    return SelectionResult(
        index=picks, sample_id=pool.sample_ids[picks], rank=np.arange(1, len(picks) + 1), gain=gains,
        objective_after=after, cost=pool.costs[picks],
        groups={column: values[picks] for column, values in pool.groups.items()},
        top_labels=tuple(names), top_label_gains=tuple(shares), method=method, params=params,
        empty_objective=empty)


def with_measurement(result: SelectionResult, measurement) -> SelectionResult:
    """The result with the wall time and peak memory of its `measured` block."""
    from dataclasses import replace

    params = {**result.params, "peak_memory_kind": measurement.peak_rss_kind}
    return replace(result, params=params, wall_time_s=measurement.wall_time_s,
                   peak_memory_bytes=measurement.peak_rss_bytes)
