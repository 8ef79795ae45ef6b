"""Parameters of the select stage (mapped from the `select:` config section by the generic loader)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from postmix.errors import ConfigError
from postmix.select.quota import Quota, parse_quotas

METHODS = ("mig", "random", "quality", "longest", "deita", "kcenter", "mig-gradient")
PHIS = ("power", "exp")
DISTRIBUTED_MODES = ("auto", "on", "off")
BUDGET_MISSING = "select needs a budget: --budget N, --budget-tokens N or select.budget in the config"

# The single-node path holds, per candidate row, its propagated information row (about 4 labels x graph degree
# ~10 = ~40 non-zeros x 12 bytes as float64 + int32 index), the id string, group values and a heap entry: about
# 1 KB per row. 5M rows is therefore ~5 GB, what a common 8 GB driver can hold with headroom; beyond that the
# pool goes to RandGreeDi over Spark partitions.
DEFAULT_DISTRIBUTED_MIN_ROWS = 5_000_000

# Weight of a sample's task label next to its semantic labels (whose weights sum to 1 per sample). The 12 task labels
# are few and fill fast, so at weight 1 their diminishing returns barely steer the picks; at 4 the curation benchmark
# gains task entropy at every budget on both pools without losing quality or coverage (docs/SELECTION.md).
DEFAULT_TASK_LABEL_WEIGHT = 4.0
# phi(x) = x^beta: 0.8 (the paper's value) is so mildly concave that the exact greedy is close to quality top-k; 0.5
# spreads the picks over the labels enough to beat random's coverage on the demo and on both benchmark pools.
DEFAULT_BETA = 0.5


@dataclass(frozen=True)
class SelectParams:
    """How to pick the subset: method, budget, constraints, objective shape, distribution and reporting."""

    method: str = "mig"
    budget: Optional[int] = None
    budget_tokens: Optional[int] = None
    quotas: tuple[str, ...] = ()
    min_quality: float = 0.0
    exclude_near_duplicates: bool = True
    task_label_weight: float = DEFAULT_TASK_LABEL_WEIGHT
    beta: float = DEFAULT_BETA
    phi: str = "power"
    exp_a: float = 1.0
    alpha: float = 1.0
    distributed: str = "auto"
    distributed_min_rows: int = DEFAULT_DISTRIBUTED_MIN_ROWS
    partitions: Optional[int] = None
    seed: int = 0
    deita_threshold: float = 0.9
    top_labels: int = 3
    progress: bool = True

    def __post_init__(self) -> None:
        _require(self.method in METHODS, f"select.method must be one of {', '.join(METHODS)}, got {self.method!r}")
        _require((self.budget is None) != (self.budget_tokens is None),
                 "select: set exactly one of budget (samples) and budget_tokens")
        _require(self.budget is None or self.budget > 0, f"select.budget must be > 0, got {self.budget}")
        _require(self.budget_tokens is None or self.budget_tokens > 0,
                 f"select.budget_tokens must be > 0, got {self.budget_tokens}")
        _require(0.0 <= self.min_quality <= 1.0, f"select.min_quality must be in [0, 1], got {self.min_quality}")
        _require(0.0 < self.beta <= 1.0, f"select.beta must be in (0, 1] (phi must be concave), got {self.beta}")
        _require(self.phi in PHIS, f"select.phi must be one of {', '.join(PHIS)}, got {self.phi!r}")
        _require(math.isfinite(self.task_label_weight) and self.task_label_weight >= 0,
                 f"select.task_label_weight must be a finite number >= 0, got {self.task_label_weight}")
        _require(self.exp_a > 0, f"select.exp_a must be > 0, got {self.exp_a}")
        _require(self.alpha >= 0, f"select.alpha must be >= 0, got {self.alpha}")
        _require(self.distributed in DISTRIBUTED_MODES,
                 f"select.distributed must be one of {', '.join(DISTRIBUTED_MODES)}, got {self.distributed!r}")
        _require(self.distributed_min_rows > 0, "select.distributed_min_rows must be > 0")
        _require(self.partitions is None or self.partitions >= 1, "select.partitions must be >= 1")
        _require(0.0 < self.deita_threshold <= 1.0, "select.deita_threshold must be in (0, 1]")
        _require(self.top_labels >= 1, "select.top_labels must be >= 1")
        # Parsed once, here: a bad quota is refused before any stage runs, and every user reads `parsed_quotas`.
        # Kept outside the dataclass fields, so the text stays what fingerprints, records and reports show.
        object.__setattr__(self, "_parsed_quotas", parse_quotas(self.quotas))

    @property
    def parsed_quotas(self) -> tuple[Quota, ...]:
        return self._parsed_quotas

    @property
    def budget_in_tokens(self) -> bool:
        return self.budget_tokens is not None

    @property
    def budget_amount(self) -> float:
        """The budget in its own unit: samples or tokens."""
        return float(self.budget_tokens if self.budget_in_tokens else self.budget)


def require_select_params(params: Optional[SelectParams], stage: str = "select") -> SelectParams:
    """The select section, which select and every stage measuring its result need (it holds the budget)."""
    if params is None:
        raise ConfigError(BUDGET_MISSING if stage == "select" else f"{stage}: {BUDGET_MISSING}")
    return params


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
