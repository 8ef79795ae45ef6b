"""Dolly format: instruction + context -> response (databricks-dolly-15k); `category` and the rest go to meta."""

from __future__ import annotations

from postmix.ingest.formats.base import (Conversion, RecordFormat, build_meta, joined_prompt, optional_text, require,
                                  source_id_of)
from postmix.ingest.normalize import as_text

USED = frozenset({"instruction", "context", "response"})


def detect(keys: frozenset) -> int:
    return 9 if {"instruction", "context", "response"} <= keys else 0


def to_conversation(record: dict) -> Conversion:
    instruction = as_text(require(record, "instruction"), "instruction")
    response = as_text(require(record, "response"), "response")
    messages = [
        {"role": "user", "content": joined_prompt(instruction, optional_text(record, "context"))},
        {"role": "assistant", "content": response},
    ]
    return messages, build_meta(record, USED), source_id_of(record)


FORMAT = RecordFormat("dolly", "instruction, context, response", detect, to_conversation)
