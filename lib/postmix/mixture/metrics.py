"""Mixture metrics of a selection and of a random selection of the same budget (docs/REPORT.md defines them).

Inputs are engine-free: the selection pool and label graph postmix.select works on (with embeddings), the task of
each pool row, and the selection as pool row indices. The mixture stage reads the tables into these, calls
`compare_with_random` and stores `metrics_frame(...)` rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd

from postmix.errors import InputError
from postmix.mixture.coverage import coverage_sample, label_coverage, label_presence, semantic_coverage
from postmix.mixture.distribution import compare_distribution
from postmix.mixture.duplicates import near_duplicate_rate
from postmix.mixture.params import MixtureParams
from postmix.mixture.similarity import normalised
from postmix.select import select
from postmix.select.objective import InformationObjective, build_objective
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph, SelectionPool


@dataclass(frozen=True)
class MetricsInputs:
    """What every metric is measured against.

    pool: every candidate row the selection chose from, with `embeddings` (n x d; normalised again here).
    graph: the label graph the selection used; select_params: its objective shape (alpha, phi, beta) and budget.
    tasks: the task label of each pool row (aligned with pool rows).
    """

    pool: SelectionPool
    graph: LabelGraph
    select_params: SelectParams
    tasks: np.ndarray

    def __post_init__(self) -> None:
        if self.pool.embeddings is None:
            raise InputError("mixture metrics: the pool has no embeddings (semantic coverage and near-duplicates "
                             "need them)")
        tasks = np.asarray(self.tasks).astype(str)
        if tasks.shape != (len(self.pool),):
            raise InputError(f"mixture metrics: {len(tasks)} task labels for {len(self.pool)} pool rows")
        object.__setattr__(self, "tasks", tasks)


@dataclass(frozen=True)
class MixtureMetrics:
    """One selection's metrics; field order is the order of the report's table."""

    n_samples: int
    total_cost: float
    objective: float
    label_coverage: float
    label_presence: float
    task_entropy_bits: float
    pool_task_entropy_bits: float
    task_entropy_ratio: float
    task_kl_bits: float
    mean_quality: float
    semantic_coverage: float
    near_duplicate_rate: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


# (description, unit) of each metric, in field order: the report and the metrics table show them
METRIC_INFO: dict[str, tuple[str, str]] = {
    "n_samples": ("rows selected", "rows"),
    "total_cost": ("sum of the rows' costs (the budget's unit)", "cost"),
    "objective": ("MIG objective F(S) with the run's label graph and phi", "F"),
    "label_coverage": ("share of the pool's informed labels with propagated information > 0", "share"),
    "label_presence": ("share of the pool's labels present in a selected row (before propagation)", "share"),
    "task_entropy_bits": ("entropy of the selection's task distribution", "bits"),
    "pool_task_entropy_bits": ("entropy of the pool's task distribution", "bits"),
    "task_entropy_ratio": ("selection task entropy / pool task entropy", "ratio"),
    "task_kl_bits": ("KL(selection tasks || pool tasks)", "bits"),
    "mean_quality": ("mean quality score of the selected rows", "score"),
    "semantic_coverage": ("mean over a pool sample of the highest cosine to a selected row", "cosine"),
    "near_duplicate_rate": ("share of selected rows with another selected row at cosine >= threshold", "share"),
}
assert tuple(METRIC_INFO) == tuple(f.name for f in fields(MixtureMetrics))

HIGHER, LOWER, NEUTRAL = "higher", "lower", "neutral"
# which value is better, per metric: the selection-vs-random verdict of the report and the console reads it here.
# Neutral: counts and costs (set by the budget) and the pool's own entropy (the same for both selections).
METRIC_BETTER: dict[str, str] = {
    "n_samples": NEUTRAL,
    "total_cost": NEUTRAL,
    "objective": HIGHER,
    "label_coverage": HIGHER,
    "label_presence": HIGHER,
    "task_entropy_bits": HIGHER,
    "pool_task_entropy_bits": NEUTRAL,
    "task_entropy_ratio": HIGHER,
    "task_kl_bits": LOWER,
    "mean_quality": HIGHER,
    "semantic_coverage": HIGHER,
    "near_duplicate_rate": LOWER,
}
assert tuple(METRIC_BETTER) == tuple(METRIC_INFO)


class MetricsContext:
    """What all selections of one pool share: the objective's information matrix, unit vectors, coverage sample."""

    def __init__(self, inputs: MetricsInputs, params: MixtureParams) -> None:
        self.inputs = inputs
        self.params = params
        self.objective: InformationObjective = build_objective(inputs.pool, inputs.graph, inputs.select_params)
        self.unit_vectors = normalised(inputs.pool.embeddings, "mixture metrics")
        sample_rng = np.random.default_rng([params.seed, 1])
        self.coverage_rows = coverage_sample(len(inputs.pool), params.coverage_sample_rows, sample_rng)

    def measure(self, selected: np.ndarray) -> MixtureMetrics:
        selected = _checked_rows(selected, len(self.inputs.pool))
        pool = self.inputs.pool
        tasks = compare_distribution(self.inputs.tasks, self.inputs.tasks[selected])
        return MixtureMetrics(
            n_samples=int(len(selected)),
            total_cost=float(pool.costs[selected].sum()),
            objective=self.objective.value_of(selected),
            label_coverage=label_coverage(self.objective, selected),
            label_presence=label_presence(pool.labels, selected),
            task_entropy_bits=tasks.selection_entropy,
            pool_task_entropy_bits=tasks.pool_entropy,
            task_entropy_ratio=tasks.ratio,
            task_kl_bits=tasks.kl,
            mean_quality=float(pool.quality[selected].mean()) if len(selected) else 0.0,
            semantic_coverage=semantic_coverage(self.unit_vectors, self.coverage_rows, selected, self.params.threads),
            near_duplicate_rate=near_duplicate_rate(self.unit_vectors, selected, self.params.near_duplicate_threshold,
                                                    self.params.threads),
        )


def random_baseline_rows(pool: SelectionPool, graph: LabelGraph, select_params: SelectParams, seed: int) -> np.ndarray:
    """A uniformly random selection with the same budget (samples or tokens) and no other constraint: rows in a
    seeded random order, each taken while it still fits the budget (postmix.select's "random" method)."""
    params = replace(select_params, method="random", quotas=(), min_quality=0.0, exclude_near_duplicates=False,
                     seed=seed, distributed="off", progress=False)
    return np.asarray(select(pool, graph, params).index, dtype=np.int64)


@dataclass(frozen=True)
class MetricsComparison:
    """The selection's metrics next to a random selection of the same budget."""

    selection: MixtureMetrics
    random: MixtureMetrics
    random_rows: np.ndarray


def compare_with_random(inputs: MetricsInputs, selected: np.ndarray, params: MixtureParams) -> MetricsComparison:
    context = MetricsContext(inputs, params)
    random_rows = random_baseline_rows(inputs.pool, inputs.graph, inputs.select_params, params.seed)
    return MetricsComparison(context.measure(selected), context.measure(random_rows), random_rows)


METRICS_FRAME_COLUMNS = ("metric", "selection", "random", "unit", "description")


def metrics_frame(comparison: MetricsComparison) -> pd.DataFrame:
    """Long form, one row per metric: metric, selection, random, unit, description (the mixture_metrics rows and the
    report's input)."""
    selection, baseline = comparison.selection.to_dict(), comparison.random.to_dict()
    return pd.DataFrame({
        "metric": list(METRIC_INFO),
        "selection": [float(selection[name]) for name in METRIC_INFO],
        "random": [float(baseline[name]) for name in METRIC_INFO],
        "unit": [unit for _, unit in METRIC_INFO.values()],
        "description": [description for description, _ in METRIC_INFO.values()],
    }, columns=list(METRICS_FRAME_COLUMNS))


def in_metric_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Metrics rows in METRIC_INFO order, any other metric after them by name: a table read back from Delta comes
    in no fixed order, and the report's table and verdict must not depend on it."""
    position = {name: i for i, name in enumerate(METRIC_INFO)}
    keys = frame["metric"].map(lambda name: (position.get(name, len(position)), name))
    return frame.iloc[sorted(range(len(frame)), key=lambda i: keys.iloc[i])].reset_index(drop=True)


def rows_of(pool: SelectionPool, sample_ids) -> np.ndarray:
    """Pool row indices of the given sample_ids, in the given order; InputError naming an id the pool lacks."""
    position = {sample_id: row for row, sample_id in enumerate(pool.sample_ids.tolist())}
    rows = []
    for sample_id in np.asarray(sample_ids).astype(str).tolist():
        if sample_id not in position:
            raise InputError(f"mixture metrics: selected sample_id {sample_id!r} is not in the pool")
        rows.append(position[sample_id])
    return np.asarray(rows, dtype=np.int64)


def _checked_rows(selected, n_rows: int) -> np.ndarray:
    rows = np.asarray(selected, dtype=np.int64)
    if rows.ndim != 1 or (len(rows) and (rows.min() < 0 or rows.max() >= n_rows)):
        raise InputError(f"mixture metrics: selected rows must be pool row indices in [0, {n_rows})")
    if len(np.unique(rows)) != len(rows):
        raise InputError("mixture metrics: a selected row appears twice")
    return rows
