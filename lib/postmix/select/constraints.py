"""Selection constraints: quota parsing, resolution against the budget, feasibility checks and the running state.

Quota syntax (CLI `--quota`, config `select.quotas`): `<column>:<value><=<amount>` (cap) or `>=` (floor).
An amount with a decimal point is a share of the budget (`source:gpteacher<=0.2`); an integer is absolute
(`source:dolly<=500`). Amounts are in the budget's unit: samples for `budget`, tokens for `budget_tokens`.
Caps round down and floors round up to whole units.

Every impossible combination is refused with a ConstraintError before any selection work starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from postmix.errors import ConstraintError
from postmix.select import kernels
from postmix.select.params import SelectParams
from postmix.select.pool import SelectionPool

from postmix.select.quota import CAP, FLOOR, Quota, parse_quota  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class ResolvedQuotas:
    """Caps and floors as absolute limits in the budget unit; plain tuples so they pickle to Spark executors."""

    budget: float
    in_tokens: bool
    caps: tuple[tuple[str, str, float], ...] = ()
    floors: tuple[tuple[str, str, float], ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(sorted({column for column, _, _ in self.caps + self.floors}))


def resolve_quotas(quotas: tuple[Quota, ...], params: SelectParams) -> ResolvedQuotas:
    budget = params.budget_amount
    caps, floors, seen = [], [], set()
    for quota in quotas:
        key = (quota.column, quota.value, quota.op)
        if key in seen:
            raise ConstraintError(f"quota {quota.text}: {quota.column}:{quota.value} has two {quota.op} quotas")
        seen.add(key)
        exact = quota.amount * budget if quota.kind == "share" else quota.amount
        if quota.op == CAP:
            caps.append((quota.column, quota.value, float(math.floor(exact + 1e-9))))
        else:
            floors.append((quota.column, quota.value, float(math.ceil(exact - 1e-9))))
    return ResolvedQuotas(budget, params.budget_in_tokens, tuple(caps), tuple(floors))


NO_NEAR_DUPLICATE_COLUMN = ("select.exclude_near_duplicates is on (the default) but the pool has no near_duplicate "
                            "column: run the semantic stage or set exclude_near_duplicates: false")


def candidate_mask(pool: SelectionPool, params: SelectParams) -> np.ndarray:
    """Rows that may be selected at all: quality floor and near-duplicate exclusion (the Spark path's
    postmix.spark.randgreedi.eligible_rows is the same rule as a column expression)."""
    mask = pool.quality >= params.min_quality
    if params.exclude_near_duplicates:
        if pool.near_duplicate is None:
            raise ConstraintError(NO_NEAR_DUPLICATE_COLUMN)
        mask &= ~pool.near_duplicate
    return mask


@dataclass(frozen=True)
class Eligibility:
    """How many pool rows survive each filter in turn (the Spark path counts them with one aggregation)."""

    pool_rows: int
    quality_rows: int  # quality >= min_quality
    eligible_rows: int  # ... and not an excluded near-duplicate
    best_quality: float


def eligibility(pool: SelectionPool, params: SelectParams, mask: np.ndarray) -> Eligibility:
    quality = pool.quality >= params.min_quality
    return Eligibility(len(pool), int(quality.sum()), int(mask.sum()),
                       float(pool.quality.max()) if len(pool) else 0.0)


def check_eligible(counts: Eligibility, params: SelectParams) -> None:
    """Refuse a pool that the filters empty, naming the filter that removed the last rows."""
    if counts.pool_rows and counts.quality_rows == 0:
        raise ConstraintError(f"select.min_quality {params.min_quality:g} leaves no candidate: none of the "
                              f"{counts.pool_rows:,} pool rows has quality >= {params.min_quality:g} (best "
                              f"{counts.best_quality:.4g}); lower --min-quality")
    if counts.quality_rows and counts.eligible_rows == 0:
        raise ConstraintError(f"select.exclude_near_duplicates leaves no candidate: all {counts.quality_rows:,} "
                              f"rows with quality >= {params.min_quality:g} are excluded near-duplicates")


def unit_costs(pool: SelectionPool, in_tokens: bool) -> np.ndarray:
    """What one row consumes of the budget: its tokens, or 1 sample."""
    return pool.costs if in_tokens else np.ones(len(pool), dtype=np.float64)


def group_supply(pool: SelectionPool, column: str, value: str, mask: np.ndarray, in_tokens: bool) -> float:
    members = (pool.groups[column] == value) & mask
    return float(unit_costs(pool, in_tokens)[members].sum())


@dataclass(frozen=True)
class GroupSupply:
    """What the eligible pool holds, per quota group: enough to check feasibility without the pool itself (the
    Spark path computes it with one aggregation)."""

    known_values: dict  # column -> set of values present in the pool (before filters)
    units: dict  # (column, value) -> eligible members in the budget unit (count or tokens)
    largest_cost: dict  # (column, value) -> largest eligible member's tokens


def pool_supply(pool: SelectionPool, quotas: tuple[Quota, ...], in_tokens: bool, mask: np.ndarray) -> GroupSupply:
    known = {column: set(np.unique(values).tolist()) for column, values in pool.groups.items()
             if column in {q.column for q in quotas}}
    units, largest = {}, {}
    for quota in quotas:
        if quota.column not in pool.groups:
            continue
        members = (pool.groups[quota.column] == quota.value) & mask
        units[(quota.column, quota.value)] = float(unit_costs(pool, in_tokens)[members].sum())
        largest[(quota.column, quota.value)] = float(pool.costs[members].max()) if members.any() else 0.0
    return GroupSupply(known, units, largest)


def check_feasibility(pool: SelectionPool, quotas: tuple[Quota, ...], resolved: ResolvedQuotas,
                      mask: np.ndarray) -> None:
    """Refuse impossible constraints before any work, naming the quota at fault."""
    check_supply(quotas, resolved, pool_supply(pool, quotas, resolved.in_tokens, mask), set(pool.groups))


def check_supply(quotas: tuple[Quota, ...], resolved: ResolvedQuotas, supply: GroupSupply,
                 columns: set) -> None:
    unit = "tokens" if resolved.in_tokens else "samples"
    texts = {(q.column, q.value, q.op): q.text for q in quotas}  # messages quote the quota as the user wrote it
    for quota in quotas:
        _check_known_group(quota, supply, columns)
    caps = {(column, value): limit for column, value, limit in resolved.caps}
    for column, value, limit in resolved.floors:
        if (column, value) in caps and caps[(column, value)] < limit:
            raise ConstraintError(f"quotas on {column}:{value}: cap {caps[(column, value)]:g} is below floor "
                                  f"{limit:g} {unit}")
        if supply.units[(column, value)] < limit:
            raise ConstraintError(f"quota {texts[(column, value, FLOOR)]}: floor of {limit:g} {unit} but only "
                                  f"{supply.units[(column, value)]:g} {unit} of that group pass the quality floor "
                                  "and duplicate filters")
    for column in sorted({column for column, _, _ in resolved.floors}):
        total = sum(limit for c, _, limit in resolved.floors if c == column)
        if total > resolved.budget:
            raise ConstraintError(f"floors on column {column!r} add up to {total:g} {unit}, more than the budget "
                                  f"of {resolved.budget:g}")
        if resolved.in_tokens:
            headroom = sum(supply.largest_cost[(c, value)] for c, value, limit in resolved.floors
                           if c == column and limit > 0)
            if total + headroom > resolved.budget:
                raise ConstraintError(f"token floors on column {column!r} add up to {total:g} tokens; with one "
                                      f"largest row of headroom per floored group ({headroom:g} tokens) that is "
                                      f"more than the budget of {resolved.budget:g}")


def _check_known_group(quota: Quota, supply: GroupSupply, columns: set) -> None:
    if quota.column not in columns:
        known = ", ".join(sorted(columns)) or "none"
        raise ConstraintError(f"quota {quota.text}: no group column {quota.column!r} in the pool (columns: {known})")
    values = supply.known_values[quota.column]
    if quota.value not in values:
        known = sorted(values)
        shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        raise ConstraintError(f"quota {quota.text}: no sample has {quota.column} = {quota.value!r} "
                              f"(values: {shown})")


def clamp_floors(resolved: ResolvedQuotas, pool: SelectionPool, mask: np.ndarray) -> ResolvedQuotas:
    """Floors cut to what this (partial) pool can supply: a RandGreeDi partition may hold few members of a group."""
    floors = tuple((column, value, min(limit, group_supply(pool, column, value, mask, resolved.in_tokens)))
                   for column, value, limit in resolved.floors if column in pool.groups)
    return replace(resolved, floors=floors)


def quota_violations(pool: SelectionPool, picks: np.ndarray, resolved: ResolvedQuotas) -> list[str]:
    """Human-readable list of quotas the selection breaks (empty when it honours them all)."""
    costs = unit_costs(pool, resolved.in_tokens)[picks]
    problems = []
    if costs.sum() > resolved.budget:
        problems.append(f"budget: used {costs.sum():g} of {resolved.budget:g}")
    for column, value, limit in resolved.caps:
        used = costs[pool.groups[column][picks] == value].sum()
        if used > limit:
            problems.append(f"{column}:{value}<= {limit:g}: used {used:g}")
    for column, value, limit in resolved.floors:
        used = costs[pool.groups[column][picks] == value].sum()
        if used < limit:
            problems.append(f"{column}:{value}>= {limit:g}: got {used:g}")
    return problems


@dataclass
class ConstraintState:
    """What the selection may still take: budget left, room under each cap, deficit under each floor.

    `fits` (budget, caps, quality floor, duplicates, not yet taken) only ever shrinks, so a row that does not fit
    can be dropped for good. The floor reservation keeps, per column, enough budget for every unmet floor after
    the candidate is taken. With a sample budget that is the sum of deficits and only ever tightens; with a token
    budget each unmet group also keeps headroom for its largest eligible row (rows are lumpy: without it the last
    tokens of a floor might fit no row), and that headroom is released when the floor is met, so a row blocked
    by the reservation may become eligible again: lazy greedy only skips it for the current step.

    The state is a set of arrays (`limits`) so that the compiled lazy greedy checks and updates it in its own
    loop; the rules themselves are postmix.select.kernels' per-row functions, which the methods here call too.
    Per constrained column (one row each): `codes` (group code per pool row), `cap_left`, `deficit` and
    `headroom` per group (padded with no cap, no floor up to the largest group count).
    """

    costs: np.ndarray
    allowed: np.ndarray
    budget_left: np.ndarray  # one element, so that compiled code can update it in place
    codes: np.ndarray
    cap_left: np.ndarray
    deficit: np.ndarray
    headroom: np.ndarray
    has_caps: np.ndarray
    has_floors: np.ndarray

    @classmethod
    def start(cls, pool: SelectionPool, resolved: ResolvedQuotas, mask: np.ndarray) -> "ConstraintState":
        costs = unit_costs(pool, resolved.in_tokens).astype(np.float64)
        columns = [np.unique(pool.groups[column], return_inverse=True) for column in resolved.columns]
        width = max([len(names) for names, _ in columns], default=1)
        shape = (len(columns), width)
        state = cls(costs, mask.astype(bool, copy=True), np.array([float(resolved.budget)]),
                    np.zeros((len(columns), len(pool)), dtype=np.int64), np.full(shape, np.inf), np.zeros(shape),
                    np.zeros(shape), np.zeros(len(columns), dtype=bool), np.zeros(len(columns), dtype=bool))
        for index, (column, (names, codes)) in enumerate(zip(resolved.columns, columns)):
            state.codes[index] = codes
            position = {name: i for i, name in enumerate(names.tolist())}
            for c, value, limit in resolved.caps:
                if c == column and value in position:
                    state.cap_left[index, position[value]] = limit
            for c, value, limit in resolved.floors:
                if c == column and value in position and limit > 0:
                    state.deficit[index, position[value]] = limit
                    members = (pool.groups[column] == value) & mask
                    if resolved.in_tokens and members.any():
                        state.headroom[index, position[value]] = float(costs[members].max())
            state.has_caps[index] = bool(np.isfinite(state.cap_left[index]).any())
            state.has_floors[index] = bool(state.deficit[index].any())
        return state

    @property
    def limits(self) -> tuple:
        """The arrays in the order postmix.select.kernels expects."""
        return (self.costs, self.allowed, self.budget_left, self.codes, self.cap_left, self.deficit,
                self.headroom, self.has_caps, self.has_floors)

    @property
    def remaining(self) -> float:
        return float(self.budget_left[0])

    def fits(self, candidates: np.ndarray) -> np.ndarray:
        """Not taken, allowed, within the budget and under every cap (False stays False)."""
        return kernels.rows_passing(self.limits, _as_rows(candidates), kernels.RULE_FITS)

    def keeps_floor_reserve(self, candidates: np.ndarray) -> np.ndarray:
        """After taking the candidate, the budget left still covers every column's unmet floors."""
        return kernels.rows_passing(self.limits, _as_rows(candidates), kernels.RULE_FLOOR_RESERVE)

    def eligible(self, candidates: np.ndarray) -> np.ndarray:
        """Which candidates can be added now without breaking budget, caps or the floor reservation."""
        candidates = _as_rows(candidates)
        ok = self.fits(candidates)
        ok[ok] = self.keeps_floor_reserve(candidates[ok])
        return ok

    def record(self, row: int) -> None:
        kernels.record_row(self.limits, int(row))


def _as_rows(candidates) -> np.ndarray:
    return np.ascontiguousarray(candidates, dtype=np.int64)
