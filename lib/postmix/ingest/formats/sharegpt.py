"""ShareGPT format: `conversations` is a list of {from, value} turns (from: human/gpt/system and aliases)."""

from __future__ import annotations

from postmix.ingest.formats.base import (Conversion, RecordFormat, build_meta, message_list, require, source_id_of,
                                  system_message)

USED = frozenset({"conversations", "system"})


def detect(keys: frozenset) -> int:
    return 10 if "conversations" in keys else 0


def to_conversation(record: dict) -> Conversion:
    messages = message_list(require(record, "conversations"), "conversations", "from", "value")
    # Some ShareGPT exports carry the system prompt as a top-level field instead of a first turn.
    if not (messages and messages[0]["role"] == "system"):
        messages = system_message(record) + messages
    return messages, build_meta(record, USED), source_id_of(record)


FORMAT = RecordFormat("sharegpt", "conversations: [{from, value}, ...]", detect, to_conversation)
