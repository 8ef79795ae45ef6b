"""Chat format: `messages` is a list of {role, content} turns (OpenAI / HF chat style); system turns are kept."""

from __future__ import annotations

from postmix.ingest.formats.base import Conversion, RecordFormat, build_meta, message_list, require, source_id_of

USED = frozenset({"messages"})


def detect(keys: frozenset) -> int:
    return 10 if "messages" in keys else 0


def to_conversation(record: dict) -> Conversion:
    messages = message_list(require(record, "messages"), "messages", "role", "content")
    return messages, build_meta(record, USED), source_id_of(record)


FORMAT = RecordFormat("chat", "messages: [{role, content}, ...]", detect, to_conversation)
