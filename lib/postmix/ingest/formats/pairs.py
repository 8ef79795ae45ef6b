"""Prompt/response pairs under one of several field-name conventions (PAIR_FIELDS), one user turn and one answer,
with an optional `system` prompt."""

from __future__ import annotations

from postmix.ingest.formats.base import Conversion, RecordFormat, build_meta, require, source_id_of, system_message
from postmix.ingest import reasons as R
from postmix.ingest.normalize import as_text
from postmix.ingest.reasons import RowRejected

# (prompt field, answer field), in priority order: when a record holds two pairs the first listed is used.
PAIR_FIELDS: tuple[tuple[str, str], ...] = (
    ("prompt", "response"),
    ("prompt", "completion"),
    ("prompt", "answer"),
    ("prompt", "output"),
    ("question", "answer"),
    ("question", "response"),
    ("query", "response"),
    ("query", "answer"),
    ("instruction", "response"),
    ("input", "output"),
    ("input", "target"),
    ("inputs", "targets"),
)


def detect(keys: frozenset) -> int:
    return 5 if _pair_in(keys) else 0


def _pair_in(keys) -> tuple[str, str] | None:
    return next((pair for pair in PAIR_FIELDS if pair[0] in keys and pair[1] in keys), None)


def to_conversation(record: dict) -> Conversion:
    pair = _pair_in(record.keys())
    if pair is None:
        raise RowRejected(R.FORMAT_MISMATCH, f"no prompt/answer field pair among {sorted(record)[:20]}")
    prompt_field, answer_field = pair
    messages = system_message(record) + [
        {"role": "user", "content": as_text(require(record, prompt_field), prompt_field)},
        {"role": "assistant", "content": as_text(require(record, answer_field), answer_field)},
    ]
    return messages, build_meta(record, frozenset({prompt_field, answer_field, "system"})), source_id_of(record)


FORMAT = RecordFormat("pairs", "one of: " + ", ".join(f"{p}/{a}" for p, a in PAIR_FIELDS), detect, to_conversation)
