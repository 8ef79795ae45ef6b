"""Compiled inner loops of the selection: marginal gains, the constraint checks and the lazy-greedy (CELF) loop.

Lazy greedy re-evaluates hundreds of rows per pick. In numpy each evaluation batch is eight passes over
temporaries and each step a few O(n) scans, so at small budgets per-call overhead dominated (1.2 s for 1K picks
from 100K rows, against 40 s for the MIG gradient sampler). Compiled, a step is a heap pop/re-evaluate loop over
the CSR non-zeros of exactly the rows classic CELF must look at, and the constraint checks are per-row functions
that the vectorised `ConstraintState` methods call too, so there is one implementation of each rule.

numba caches the machine code on disk (`cache=True`): only the first process on a machine pays the compilation.

The lazy loop ranks rows by one of two rules (`rule`, see `GAIN_RULES`): the exact marginal gain
F(S + i) - F(S) (method mig) or the MIG paper's linearised score sum_k Xp_ik phi'(c_k) (method mig-gradient). Both
can only fall as the coverage c grows (phi is concave, so phi' is non-increasing), so for both a stale value is an
upper bound and lazy evaluation returns the picks of the exhaustive search.

Data passed in:
- `rows`: the information matrix as CSR arrays (indptr, indices, data);
- `phi`: (kind, parameter, epsilon), see `PHI_POWER`/`PHI_EXP`; the formulas are postmix.select.objective's
  PowerPhi and ExpPhi (tests pin them against each other);
- `limits`: the constraint state as arrays (see postmix.select.constraints.ConstraintState.limits): costs,
  allowed, budget_left (one-element array, mutated), per constrained column: group codes, cap_left, deficit,
  headroom (mutated), has_caps, has_floors.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

PHI_POWER = 0
PHI_EXP = 1

GAIN_EXACT = 0
GAIN_LINEARISED = 1
GAIN_RULES = {"exact": GAIN_EXACT, "linearised": GAIN_LINEARISED}


def _compiled(**options):
    """njit with numba's on-disk cache; where numba finds no writable place for it (a read-only install with a
    read-only home), compiled in memory in each process instead of failing at import."""
    def decorate(function):
        try:
            return njit(cache=True, **options)(function)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return njit(cache=False, **options)(function)
    return decorate


# --- the objective -------------------------------------------------------------------------------------------

@_compiled(inline="always")
def _phi(x, kind, parameter, epsilon):
    if kind == PHI_POWER:
        return (x + epsilon) ** parameter
    return -math.expm1(-parameter * x)


@_compiled(inline="always")
def _phi_slope(x, kind, parameter, epsilon):
    """phi'(x): the formulas of PowerPhi.derivative and ExpPhi.derivative."""
    if kind == PHI_POWER:
        return parameter * (x + epsilon) ** (parameter - 1.0)
    return parameter * math.exp(-parameter * x)


@_compiled(inline="always")
def _row_gain(rows, coverage, phi_coverage, phi, row):
    indptr, indices, data = rows
    kind, parameter, epsilon = phi
    total = 0.0
    for nonzero in range(indptr[row], indptr[row + 1]):
        label = indices[nonzero]
        total += _phi(coverage[label] + data[nonzero], kind, parameter, epsilon) - phi_coverage[label]
    return total


@_compiled(inline="always")
def _row_score(rows, coverage, phi, row):
    """The linearised gain sum_k Xp_ik phi'(c_k), over the row's non-zeros in CSR (label) order."""
    indptr, indices, data = rows
    kind, parameter, epsilon = phi
    total = 0.0
    for nonzero in range(indptr[row], indptr[row + 1]):
        total += data[nonzero] * _phi_slope(coverage[indices[nonzero]], kind, parameter, epsilon)
    return total


@_compiled(inline="always")
def _row_value(rows, coverage, phi_coverage, phi, rule, row):
    """What the greedy ranks a row by under `rule` (GAIN_EXACT or GAIN_LINEARISED)."""
    if rule == GAIN_EXACT:
        return _row_gain(rows, coverage, phi_coverage, phi, row)
    return _row_score(rows, coverage, phi, row)


@_compiled(nogil=True)
def row_gains(rows, coverage, phi_coverage, phi, rule, candidates):
    """Each candidate's value under `rule`: F(S + i) - F(S) (GAIN_EXACT) or the linearised score
    (GAIN_LINEARISED), summed over the row's non-zeros in CSR order."""
    gains = np.empty(len(candidates), dtype=np.float64)
    for position in range(len(candidates)):
        gains[position] = _row_value(rows, coverage, phi_coverage, phi, rule, candidates[position])
    return gains


@_compiled(nogil=True)
def phi_values(coverage, phi):
    """phi of every label's coverage, with the kernels' scalar formula. numpy's vectorised power/exp may take
    SIMD code paths (AVX-512 on some CPUs) that differ from the scalar libm by an ulp, so the kept phi of the
    coverage starts from here too and every gain is computed against one formula."""
    kind, parameter, epsilon = phi
    out = np.empty(len(coverage), dtype=np.float64)
    for label in range(len(coverage)):
        out[label] = _phi(coverage[label], kind, parameter, epsilon)
    return out


@_compiled(nogil=True)
def phi_slopes(coverage, phi):
    """phi' of every label's coverage, with the scalar formula the linearised rule uses (the dense reference
    sampler takes its gradient from here, so its scores are the kernel's bit for bit)."""
    kind, parameter, epsilon = phi
    out = np.empty(len(coverage), dtype=np.float64)
    for label in range(len(coverage)):
        out[label] = _phi_slope(coverage[label], kind, parameter, epsilon)
    return out


@_compiled(nogil=True)
def add_row(rows, coverage, phi_coverage, phi, row):
    """Coverage += the row's information; phi of the coverage kept per label."""
    indptr, indices, data = rows
    kind, parameter, epsilon = phi
    for nonzero in range(indptr[row], indptr[row + 1]):
        label = indices[nonzero]
        coverage[label] += data[nonzero]
        phi_coverage[label] = _phi(coverage[label], kind, parameter, epsilon)


# --- the constraints -----------------------------------------------------------------------------------------

@_compiled(inline="always")
def _fits(limits, row):
    """Not taken, allowed, within the budget and under every cap."""
    costs, allowed, budget_left, codes, cap_left, _deficit, _headroom, has_caps, _has_floors = limits
    cost = costs[row]
    if not allowed[row] or cost > budget_left[0]:
        return False
    for column in range(codes.shape[0]):
        if has_caps[column] and cap_left[column, codes[column, row]] < cost:
            return False
    return True


@_compiled(inline="always")
def _reserve(deficit, headroom):
    """Budget to keep for a group: its deficit plus, when unmet, one row's worth of headroom (tokens)."""
    return deficit + headroom if deficit > 0 else 0.0


@_compiled(inline="always")
def _keeps_floor_reserve(limits, row):
    """After taking the row, the budget left still covers every column's unmet floors."""
    costs, _allowed, budget_left, codes, _cap_left, deficit, headroom, _has_caps, has_floors = limits
    cost = costs[row]
    for column in range(codes.shape[0]):
        if not has_floors[column]:
            continue
        code = codes[column, row]
        total = 0.0
        for group in range(deficit.shape[1]):
            total += _reserve(deficit[column, group], headroom[column, group])
        own_after = _reserve(max(deficit[column, code] - cost, 0.0), headroom[column, code])
        if budget_left[0] - cost < total - _reserve(deficit[column, code], headroom[column, code]) + own_after:
            return False
    return True


RULE_FITS = 0
RULE_FLOOR_RESERVE = 1


@_compiled(nogil=True)
def rows_passing(limits, candidates, rule):
    """Which candidates pass one rule: RULE_FITS (`_fits`) or RULE_FLOOR_RESERVE (`_keeps_floor_reserve`)."""
    out = np.empty(len(candidates), dtype=np.bool_)
    for position in range(len(candidates)):
        row = candidates[position]
        out[position] = _fits(limits, row) if rule == RULE_FITS else _keeps_floor_reserve(limits, row)
    return out


@_compiled(nogil=True)
def record_row(limits, row):
    """Take the row: budget, caps and floor deficits move by its cost."""
    costs, allowed, budget_left, codes, cap_left, deficit, _headroom, _has_caps, _has_floors = limits
    cost = costs[row]
    allowed[row] = False
    budget_left[0] -= cost
    for column in range(codes.shape[0]):
        code = codes[column, row]
        cap_left[column, code] -= cost
        deficit[column, code] = max(0.0, deficit[column, code] - cost)


# --- lazy greedy (CELF) over a binary heap of rows ---------------------------------------------------------
# The heap holds row numbers; a row comes before another when its bound is higher, or equal with a smaller
# sample_id rank, so the heap order is the greedy's tie-break.

@_compiled(inline="always")
def _before(bound, ranks, a, b):
    return bound[a] > bound[b] or (bound[a] == bound[b] and ranks[a] < ranks[b])


@_compiled()
def _sift_down(heap, size, position, bound, ranks):
    row = heap[position]
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and _before(bound, ranks, heap[child + 1], heap[child]):
            child += 1
        if not _before(bound, ranks, heap[child], row):
            break
        heap[position] = heap[child]
        position = child
    heap[position] = row


@_compiled()
def _sift_up(heap, position, bound, ranks):
    row = heap[position]
    while position > 0:
        parent = (position - 1) // 2
        if not _before(bound, ranks, row, heap[parent]):
            break
        heap[position] = heap[parent]
        position = parent
    heap[position] = row


@_compiled()
def heapify(heap, size, bound, ranks):
    for position in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, position, bound, ranks)


@_compiled(inline="always")
def _pop_top(heap, size, bound, ranks):
    """Remove the top row and restore the heap order; returns the new size."""
    size -= 1
    heap[0] = heap[size]
    _sift_down(heap, size, 0, bound, ranks)
    return size


@_compiled(nogil=True)
def celf_picks(rows, coverage, phi_coverage, phi, rule, limits, ranks, heap, heap_size, bound, evaluated_at,
               cost_scaled, cheapest, picks, picked, max_new):
    """Up to `max_new` greedy picks, appended to `picks` after the `picked` already there; returns the new count.
    Rows are ranked by their value under `rule` (GAIN_EXACT or GAIN_LINEARISED), per unit of cost when
    `cost_scaled`.

    Each step pops rows in heap order: a row that no longer fits is dropped for good; a row the floor
    reservation blocks is set aside for this step (put back after the pick); a row whose bound was computed at
    this step is the winner (its priority is exact and every other bound, an upper bound because both rules'
    values only fall as coverage grows, is lower or equal with a larger sample_id); any other row is re-evaluated
    in place and sifted down.
    `heap_size` is a one-element array, updated; `bound`/`evaluated_at` are per-row, updated."""
    costs, budget_left = limits[0], limits[2]
    size = heap_size[0]
    aside = np.empty(16, dtype=np.int64)
    target = min(picked + max_new, len(picks))
    while picked < target and size > 0 and budget_left[0] >= cheapest:
        set_aside = 0
        winner = -1
        while size > 0:
            row = heap[0]
            if not _fits(limits, row):
                size = _pop_top(heap, size, bound, ranks)
            elif not _keeps_floor_reserve(limits, row):
                size = _pop_top(heap, size, bound, ranks)
                if set_aside == len(aside):
                    aside = np.concatenate((aside, np.empty(len(aside), dtype=np.int64)))
                aside[set_aside] = row
                set_aside += 1
            elif evaluated_at[row] == picked:
                winner = row
                size = _pop_top(heap, size, bound, ranks)
                break
            else:
                gain = _row_value(rows, coverage, phi_coverage, phi, rule, row)
                bound[row] = gain / costs[row] if cost_scaled else gain
                evaluated_at[row] = picked
                _sift_down(heap, size, 0, bound, ranks)
        for position in range(set_aside):
            heap[size] = aside[position]
            size += 1
            _sift_up(heap, size - 1, bound, ranks)
        if winner < 0:
            break
        add_row(rows, coverage, phi_coverage, phi, winner)
        record_row(limits, winner)
        picks[picked] = winner
        picked += 1
    heap_size[0] = size
    return picked
