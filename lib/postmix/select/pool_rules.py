"""What one selection pool row holds, as rules that do not depend on the engine building the rows (the Spark
select stage's `pool_rows`, the curation benchmark's pandas mirror).

- quality: the annotation's score clipped to [MIN_QUALITY_SCORE, 1], because the objective needs it in (0, 1]
  (a score of exactly 0 would make the row worthless rather than invalid; clipping keeps it selectable last);
- cost: 1 per sample, or tokens = max(1, ceil((n_chars_user + n_chars_assistant) / TOKEN_CHARS)) with
  `budget_tokens` (the selections table stores the cost in the budget's unit);
- groups: "source", "task" and every quota column the rows hold (values as text, null as NULL_GROUP); a quota on
  any other column is refused by the selection with a ConstraintError naming the columns it has;
- embeddings only for the methods that need them.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from postmix.select.frames import FRAME_COLUMNS
from postmix.select.params import SelectParams

TOKEN_CHARS = 4  # characters per token: the usual rule of thumb for English text with BPE tokenizers
MIN_QUALITY_SCORE = 1e-6  # quality floor of the objective, which needs quality in (0, 1]
EMBEDDING_METHODS = ("deita", "kcenter")
BASE_GROUPS = ("source", "task")
NULL_GROUP = "null"  # the group value of a row whose group column is null


def needs_embeddings(params: SelectParams) -> bool:
    return params.method in EMBEDDING_METHODS


def clipped_quality(quality) -> np.ndarray:
    """Annotation scores as the objective takes them: in [MIN_QUALITY_SCORE, 1]."""
    return np.clip(np.asarray(quality, dtype=np.float64), MIN_QUALITY_SCORE, 1.0)


def token_cost(n_chars_user, n_chars_assistant) -> np.ndarray:
    """Approximate tokens of a sample, at least 1."""
    chars = np.asarray(n_chars_user, dtype=np.float64) + np.asarray(n_chars_assistant, dtype=np.float64)
    return np.maximum(np.ceil(chars / TOKEN_CHARS), 1.0)


def sample_cost(params: SelectParams, n_chars_user, n_chars_assistant) -> np.ndarray:
    """Each row's cost in the budget's unit: tokens with budget_tokens, else 1 per sample."""
    if params.budget_in_tokens:
        return token_cost(n_chars_user, n_chars_assistant)
    return np.ones(len(np.asarray(n_chars_user)), dtype=np.float64)


def group_columns(params: SelectParams, known_columns: Iterable[str]) -> tuple[str, ...]:
    """source, task, and every quota column among `known_columns` (others are left to the selection, which refuses
    them naming the columns it has)."""
    known = set(known_columns)
    extra = [q.column for q in params.parsed_quotas
             if q.column in known and q.column not in BASE_GROUPS and q.column not in FRAME_COLUMNS]
    return BASE_GROUPS + tuple(dict.fromkeys(extra))
