"""Alpaca format: instruction (+ optional input) -> output, with optional `history` [[user, assistant], ...] pairs
before it (which make the record multi-turn) and an optional `system` prompt."""

from __future__ import annotations

from postmix.ingest.formats.base import (Conversion, RecordFormat, as_list, build_meta, joined_prompt, optional_text,
                                  require, source_id_of, system_message)
from postmix.ingest import reasons as R
from postmix.ingest.normalize import as_text, type_name
from postmix.ingest.reasons import RowRejected

USED = frozenset({"instruction", "input", "output", "history", "system"})


def detect(keys: frozenset) -> int:
    return 8 if {"instruction", "output"} <= keys else 0


def to_conversation(record: dict) -> Conversion:
    instruction = as_text(require(record, "instruction"), "instruction")
    output = require(record, "output")
    messages = system_message(record) + _history(record.get("history"))
    messages.append({"role": "user", "content": joined_prompt(instruction, optional_text(record, "input"))})
    messages.append({"role": "assistant", "content": as_text(output, "output")})
    return messages, build_meta(record, USED), source_id_of(record)


def _history(value) -> list[dict]:
    if value is None:
        return []
    messages = []
    for index, pair in enumerate(as_list(value, "history")):
        if not isinstance(pair, list) or len(pair) != 2:
            raise RowRejected(R.WRONG_TYPE,
                              f"history[{index}] must be a [user, assistant] pair, got {type_name(pair)}")
        messages.append({"role": "user", "content": as_text(pair[0], f"history[{index}][0]")})
        messages.append({"role": "assistant", "content": as_text(pair[1], f"history[{index}][1]")})
    return messages


FORMAT = RecordFormat("alpaca", "instruction, input?, output, history?: [[user, assistant], ...]", detect,
                      to_conversation)
