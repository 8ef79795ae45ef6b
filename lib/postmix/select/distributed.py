"""The engine-free parts of RandGreeDi (Mirzasoleiman et al. 2013; Barbosa et al. 2015) for pools beyond one node.

1. Rows go to partitions by a stable hash of (seed, sample_id): the split never depends on row order or engine.
2. Each partition runs lazy greedy on its own rows (`local_greedy`) with the full budget, the caps, the quality
   floor and near-duplicate exclusion, and its floors cut to what the partition holds (so that the union of local
   picks always holds enough members of every floor group: sum_p min(f, a_p) >= min(f, sum_p a_p)).
3. The union of all local picks is small (<= budget x partitions rows); greedy runs again on it with every
   constraint, floors included (`merge`).
4. The answer is the better of the merged solution and the best local solution that honours every constraint
   (`better_of`). With random partitions this is (1 - 1/e)/2-optimal in expectation for a cardinality budget and
   close to the centralised greedy in practice; the benchmark measures the ratio.
Guarantees under constraints: caps, the budget, the quality floor and near-duplicate exclusion hold in every local
and in the final solution; floors hold in the final solution (or a ConstraintError says which could not be met).

Steps 3 and 4 are one function, `finish_randgreedi`, for both engines: `randgreedi` runs step 2 in this process,
the Spark adapter (postmix.spark.randgreedi) in the executors, and both hand the local picks to it, so the two give
the same picks, the same summary and the same ConstraintError.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from postmix.errors import ConstraintError
from postmix.select.constraints import (ConstraintState, ResolvedQuotas, candidate_mask, clamp_floors,
                                        quota_violations)
from postmix.select.greedy import run_greedy
from postmix.select.objective import InformationObjective, build_objective
from postmix.select.params import SelectParams
from postmix.select.pool import LabelGraph, SelectionPool
from postmix.select.result import selection_summary

# Partitions are sized so a local greedy holds comfortably in an executor's memory (~1 KB per row, see params).
ROWS_PER_PARTITION = 1_000_000


def use_distributed(n_rows: int, params: SelectParams) -> bool:
    """Whether to select with RandGreeDi: forced by params.distributed, else by pool size."""
    if params.distributed == "auto":
        return n_rows >= params.distributed_min_rows
    return params.distributed == "on"


def partition_count(n_rows: int, params: SelectParams) -> int:
    return params.partitions or max(2, math.ceil(n_rows / ROWS_PER_PARTITION))


def partition_of(sample_id: str, n_partitions: int, seed: int) -> int:
    """Stable partition of one sample: blake2b of seed and sample_id, so it is the same on every machine."""
    digest = hashlib.blake2b(f"{seed}\x1f{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n_partitions


def partition_ids(sample_ids: np.ndarray, n_partitions: int, seed: int) -> np.ndarray:
    return np.fromiter((partition_of(str(sid), n_partitions, seed) for sid in sample_ids), dtype=np.int64,
                       count=len(sample_ids))


def local_greedy(partition_pool: SelectionPool, graph: LabelGraph, params: SelectParams,
                 resolved: ResolvedQuotas) -> np.ndarray:
    """Lazy greedy inside one partition: full budget and caps, floors cut to the partition's supply."""
    mask = candidate_mask(partition_pool, params)
    local_quotas = clamp_floors(resolved, partition_pool, mask)
    return _greedy(partition_pool, build_objective(partition_pool, graph, params), params, local_quotas, mask)


def merge(union_pool: SelectionPool, objective: InformationObjective, params: SelectParams,
          resolved: ResolvedQuotas) -> np.ndarray:
    """Greedy again over the union of local picks, with every constraint."""
    return _greedy(union_pool, objective, params, resolved, candidate_mask(union_pool, params))


@dataclass(frozen=True)
class Candidate:
    """A full solution over the union pool: its name (merged / local partition p) and its rows."""

    name: str
    rows: np.ndarray


def better_of(union_pool: SelectionPool, objective: InformationObjective, candidates: list[Candidate],
              resolved: ResolvedQuotas) -> Candidate:
    """The candidate with the highest objective among those that honour every constraint (ties: listed first)."""
    valid = [c for c in candidates if not quota_violations(union_pool, c.rows, resolved)]
    if not valid:
        problems = quota_violations(union_pool, candidates[0].rows, resolved)
        raise ConstraintError("distributed selection could not meet the constraints: " + "; ".join(problems))
    values = [objective.value_of(c.rows) for c in valid]
    return valid[int(np.argmax(values))]


@dataclass(frozen=True)
class RandGreeDiOutcome:
    """A finished RandGreeDi: the winning rows of the union pool in pick order, the union pool's objective (to
    explain the picks with) and the summary recorded with the result."""

    rows: np.ndarray
    objective: InformationObjective
    summary: dict


def finish_randgreedi(union_pool: SelectionPool, graph: LabelGraph, params: SelectParams, resolved: ResolvedQuotas,
                      local_picks: Mapping[int, np.ndarray], n_partitions: int, engine: str) -> RandGreeDiOutcome:
    """Steps 3 and 4 for every engine. `local_picks`: partition -> its picks as rows of `union_pool`, in pick
    order. A partition that picked nothing is no candidate (the merged solution is never worse than an empty one).
    Raises ConstraintError when no solution meets every quota (an unmet floor)."""
    objective = build_objective(union_pool, graph, params)
    candidates = [Candidate("merged", merge(union_pool, objective, params, resolved))]
    candidates += [Candidate(f"partition {part}", np.asarray(rows, dtype=np.int64))
                   for part, rows in sorted(local_picks.items()) if len(rows)]
    winner = better_of(union_pool, objective, candidates, resolved)
    summary = {**selection_summary(params), "gain_rule": "exact", "distributed": True, "engine": engine,
               "partitions": n_partitions, "union_rows": len(union_pool), "winner": winner.name}
    return RandGreeDiOutcome(winner.rows, objective, summary)


def randgreedi(pool: SelectionPool, graph: LabelGraph, params: SelectParams,
               resolved: ResolvedQuotas) -> tuple[np.ndarray, dict]:
    """RandGreeDi in one process: (picks as rows of `pool`, the summary of finish_randgreedi)."""
    n_partitions = partition_count(len(pool), params)
    parts = partition_ids(pool.sample_ids, n_partitions, params.seed)
    local_solutions = {}
    for part in range(n_partitions):
        rows = np.flatnonzero(parts == part)
        local_solutions[part] = rows[local_greedy(pool.subset(rows), graph, params, resolved)]
    union_rows = np.unique(np.concatenate(list(local_solutions.values())))
    position = {int(row): i for i, row in enumerate(union_rows)}
    local_picks = {part: np.array([position[int(r)] for r in rows], dtype=np.int64)
                   for part, rows in local_solutions.items()}
    outcome = finish_randgreedi(pool.subset(union_rows), graph, params, resolved, local_picks, n_partitions,
                                engine="in-process")
    return union_rows[outcome.rows], outcome.summary


def _greedy(pool: SelectionPool, objective: InformationObjective, params: SelectParams, resolved: ResolvedQuotas,
            mask: np.ndarray) -> np.ndarray:
    run = run_greedy(objective, lambda: ConstraintState.start(pool, resolved, mask), pool.id_ranks(),
                     resolved.in_tokens, progress=False)
    return run.picks
