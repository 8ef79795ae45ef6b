"""Selection: pick the subset of a pool that maximises the MIG information objective under constraints.

One entry point, `select(pool, graph, params)`, dispatching on params.method (mig | random | quality | longest |
deita | kcenter | mig-gradient). The Spark RandGreeDi path (postmix.spark.randgreedi) is called by the select job.
"""

from __future__ import annotations

import numpy as np

from postmix.errors import ConstraintError
from postmix.select.baselines import (deita_select, kcenter_select, longest_order, quality_order, random_order,
                                      take_in_order)
from postmix.select.constraints import (ConstraintState, ResolvedQuotas, candidate_mask, check_eligible,
                                        check_feasibility, eligibility, quota_violations, resolve_quotas)
from postmix.select.distributed import randgreedi, use_distributed
from postmix.select.greedy import run_greedy
from postmix.select.measure import measured
from postmix.select.objective import InformationObjective, build_objective
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph, SelectionPool
from postmix.select.result import SelectionResult, explain_picks, selection_summary, with_measurement

__all__ = ["LabelGraph", "SelectParams", "SelectionPool", "SelectionResult", "prepare_constraints", "select"]


def prepare_constraints(pool: SelectionPool, params: SelectParams) -> tuple[ResolvedQuotas, np.ndarray]:
    """Parse, resolve and check the quotas and build the candidate mask; raises before any selection work."""
    quotas = params.parsed_quotas
    resolved = resolve_quotas(quotas, params)
    mask = candidate_mask(pool, params)
    check_eligible(eligibility(pool, params, mask), params)
    check_feasibility(pool, quotas, resolved, mask)
    return resolved, mask


def select(pool: SelectionPool, graph: LabelGraph, params: SelectParams) -> SelectionResult:
    """Select from an in-memory pool. With method "mig", params.distributed "on" (or "auto" above
    distributed_min_rows) runs RandGreeDi in this process over the same partitions the Spark path uses."""
    resolved, mask = prepare_constraints(pool, params)
    with measured("select", method=params.method, rows=len(pool), labels=pool.n_labels) as measurement:
        objective = build_objective(pool, graph, params)
        picks, summary = _dispatch(pool, objective, graph, params, resolved, mask)
        _check_floors_met(pool, picks, resolved, params.method)
        result = explain_picks(pool, objective, picks, params.method, summary, params.top_labels)
    return with_measurement(result, measurement)


def _dispatch(pool: SelectionPool, objective: InformationObjective, graph: LabelGraph, params: SelectParams,
              resolved: ResolvedQuotas, mask: np.ndarray) -> tuple[np.ndarray, dict]:
    summary = selection_summary(params)
    id_ranks = pool.id_ranks()

    def start_state() -> ConstraintState:
        return ConstraintState.start(pool, resolved, mask)

    if params.method == "mig":
        if use_distributed(len(pool), params):
            return randgreedi(pool, graph, params, resolved)
        run = run_greedy(objective, start_state, id_ranks, resolved.in_tokens, params.progress)
        return run.picks, {**summary, "gain_rule": "exact", "distributed": False, "variant": run.variant}
    if params.method == "mig-gradient":
        # the MIG paper's rule (first-order score) through the same lazy greedy; always single node
        run = run_greedy(objective, start_state, id_ranks, resolved.in_tokens, params.progress, rule="linearised")
        return run.picks, {**summary, "gain_rule": "linearised", "distributed": False, "variant": run.variant}
    if params.method == "random":
        return take_in_order(random_order(len(pool), np.random.default_rng(params.seed)), start_state()), summary
    if params.method == "quality":
        return take_in_order(quality_order(pool.quality, id_ranks), start_state()), summary
    if params.method == "longest":
        return take_in_order(longest_order(pool.response_chars, id_ranks), start_state()), summary
    if params.method == "deita":
        picks = deita_select(pool.embeddings, pool.quality, id_ranks, start_state(), params.deita_threshold)
        return picks, {**summary, "deita_threshold": params.deita_threshold}
    return kcenter_select(pool.embeddings, pool.quality, id_ranks, start_state(), params.progress), summary


def _check_floors_met(pool: SelectionPool, picks: np.ndarray, resolved: ResolvedQuotas, method: str) -> None:
    problems = quota_violations(pool, picks, resolved)
    if problems:
        raise ConstraintError(f"select ({method}): the selection could not meet the quotas: " + "; ".join(problems))

