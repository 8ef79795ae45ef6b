"""Baseline selectors behind the same interface as the exact greedy.

Each returns picks (row indices in pick order); `select()` turns them into a SelectionResult whose gains and
objective values come from the exact objective, so every method is scored the same way.
All baselines honour the quality floor, near-duplicate exclusion, the budget (samples or tokens: rows that no
longer fit are skipped) and per-group caps and floors through the same ConstraintState as the greedy: a row is
taken only when it is eligible, in the baseline's own order of preference. Nothing else about their order changes.
(`mig-gradient`, the MIG paper's sampler, is the lazy greedy under the linearised rule: postmix.select.greedy; its
dense form is postmix.select.gradient.)
"""

from __future__ import annotations

import numpy as np

from postmix.errors import InputError
from postmix.select.constraints import ConstraintState
from postmix.select.measure import progress_bar

_CHUNK = 256


def take_in_order(order: np.ndarray, state: ConstraintState) -> np.ndarray:
    """Walk a fixed preference order and take each row that is still eligible (chunked vector checks)."""
    picks = []
    position = 0
    while position < len(order) and state.remaining > 0:
        chunk = order[position:position + _CHUNK]
        eligible = np.flatnonzero(state.eligible(chunk))
        if len(eligible) == 0:
            position += len(chunk)
            continue
        row = int(chunk[eligible[0]])
        state.record(row)
        picks.append(row)
        position += int(eligible[0]) + 1
    return np.asarray(picks, dtype=np.int64)


def random_order(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n_rows)


def quality_order(quality: np.ndarray, id_ranks: np.ndarray) -> np.ndarray:
    """Highest quality first, smaller sample_id on ties."""
    return np.lexsort((id_ranks, -quality))


def longest_order(response_chars: np.ndarray | None, id_ranks: np.ndarray) -> np.ndarray:
    """"Long Is More for Alignment" (Zhao et al. 2024): longest response (assistant characters) first, smaller
    sample_id on ties."""
    if response_chars is None:
        raise InputError("select method 'longest' needs the response length of every pool row (the pool's "
                         "response_chars; the select stage fills it from samples.n_chars_assistant)")
    return np.lexsort((id_ranks, -response_chars))


def deita_select(embeddings: np.ndarray, quality: np.ndarray, id_ranks: np.ndarray, state: ConstraintState,
                 threshold: float) -> np.ndarray:
    """DEITA's score-first, diversity-aware selection: in order of score (here: quality), take a row only if its
    cosine similarity to every row already taken is below `threshold` (embeddings are L2-normalised)."""
    embeddings = _require_embeddings(embeddings, "deita")
    order = quality_order(quality, id_ranks)
    taken = np.empty((0, embeddings.shape[1]), dtype=np.float32)
    picks = []
    for start in range(0, len(order), _CHUNK):
        if state.remaining <= 0:
            break
        chunk = order[start:start + _CHUNK]
        # similarity to rows taken before this chunk in one product; rows taken inside the chunk checked one by one
        prior_max = (embeddings[chunk] @ taken.T).max(axis=1) if len(taken) else np.full(len(chunk), -np.inf)
        taken_here: list[int] = []
        for row, prior in zip(chunk.tolist(), prior_max.tolist()):
            if prior >= threshold or not state.eligible(np.array([row]))[0]:
                continue
            if taken_here and float((embeddings[taken_here] @ embeddings[row]).max()) >= threshold:
                continue
            state.record(row)
            picks.append(row)
            taken_here.append(row)
        if taken_here:
            taken = np.vstack([taken, embeddings[taken_here]])
    return np.asarray(picks, dtype=np.int64)


def kcenter_select(embeddings: np.ndarray, quality: np.ndarray, id_ranks: np.ndarray,
                   state: ConstraintState, progress: bool = False) -> np.ndarray:
    """k-center greedy (farthest-first traversal) on cosine distance. Start: the eligible row of highest quality
    (smaller sample_id on ties); then repeatedly the eligible row farthest from everything taken (ties: smaller
    sample_id)."""
    embeddings = _require_embeddings(embeddings, "kcenter")
    everyone = np.arange(len(quality))
    distance = np.full(len(quality), np.inf)
    picks = []
    with progress_bar(state.remaining, progress, "kcenter") as bar:
        while True:
            eligible = everyone[state.eligible(everyone)]
            if len(eligible) == 0:
                break
            if picks:
                farthest = distance[eligible].max()
                tied = eligible[distance[eligible] == farthest]
                row = int(tied[np.argmin(id_ranks[tied])])
            else:
                row = int(eligible[np.lexsort((id_ranks[eligible], -quality[eligible]))[0]])
            state.record(row)
            picks.append(row)
            distance = np.minimum(distance, 1.0 - embeddings @ embeddings[row])
            bar.update(float(state.costs[row]))
    return np.asarray(picks, dtype=np.int64)


def _require_embeddings(embeddings, method: str) -> np.ndarray:
    if embeddings is None:
        raise InputError(f"select method {method!r} needs embeddings in the pool (none were given)")
    return embeddings
