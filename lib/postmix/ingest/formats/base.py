"""What every record format shares: the RecordFormat interface, role aliases, id-like fields and meta building."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from postmix.ingest import reasons as R
from postmix.ingest.normalize import as_text, json_plain_value, shown, type_name
from postmix.ingest.reasons import RowRejected

Messages = list[dict]
Conversion = tuple[Messages, dict, Optional[str]]

# Role names seen in public datasets and the canonical role they mean (ShareGPT uses from=human/gpt).
ROLE_ALIASES: dict[str, str] = {
    "user": "user", "human": "user", "prompter": "user",
    "assistant": "assistant", "gpt": "assistant", "chatgpt": "assistant", "bard": "assistant", "bing": "assistant",
    "model": "assistant", "bot": "assistant",
    "system": "system",
}
# Top-level fields that hold the record's own id (first present, non-null one wins); they are not copied to meta.
ID_FIELDS: tuple[str, ...] = ("id", "_id", "uuid", "conversation_id", "example_id", "question_id", "idx")
# A record's own `meta` object is lifted into our meta (its keys become meta keys; a top-level field of the same
# name wins), so meta.category means the same whether it came from a column or from a nested meta object.
META_FIELD = "meta"


@dataclass(frozen=True)
class RecordFormat:
    """One record format: a detection score over top-level keys and a converter to canonical messages.

    detect(keys) returns 0 when the format does not apply, else a score; the highest score wins and a tie between
    two formats is ambiguous. to_conversation(record) returns (messages, meta, source_id) or raises RowRejected.
    """

    name: str
    description: str
    detect: Callable[[frozenset], int]
    to_conversation: Callable[[dict], Conversion]


def canonical_role(raw_role: Any, index: int) -> str:
    """Map a role or alias (case-insensitive) to user/assistant/system; anything else is unknown_role."""
    if not isinstance(raw_role, str):
        raise RowRejected(R.WRONG_TYPE, f"message #{index} role must be a string, got {type_name(raw_role)}")
    role = ROLE_ALIASES.get(raw_role.strip().lower())
    if role is None:
        raise RowRejected(R.UNKNOWN_ROLE, f"message #{index} has role {shown(raw_role)}")
    return role


def require(record: dict, field: str) -> Any:
    """The value of a required field; absent or null is missing_field."""
    value = record.get(field)
    if value is None:
        raise RowRejected(R.MISSING_FIELD, f"required field {field!r} is absent or null")
    return value


def optional_text(record: dict, field: str) -> str:
    """An optional text field: '' when absent or null, else it must be text."""
    value = record.get(field)
    return "" if value is None else as_text(value, field)


def as_list(value: Any, field: str) -> list:
    """A field that must be an array (lists, tuples and numpy arrays from Arrow count); a NaN inside stays a NaN,
    so a NaN content is a wrong type, not a missing field."""
    value = json_plain_value(value, keep_nonfinite=True)
    if not isinstance(value, list):
        raise RowRejected(R.WRONG_TYPE, f"{field} must be an array, got {type_name(value)}")
    return value


def id_field_of(record: dict) -> Optional[str]:
    """The first id-like field (see ID_FIELDS) holding an id: not null and not NaN/Infinity (no id at all)."""
    return next((f for f in ID_FIELDS if json_plain_value(record.get(f)) is not None), None)


def source_id_of(record: dict) -> Optional[str]:
    """The record's own id from the first id-like field present (see ID_FIELDS), as text."""
    field = id_field_of(record)
    if field is None:
        return None
    value = json_plain_value(record[field])
    return value if isinstance(value, str) else str(value)


def build_meta(record: dict, used: frozenset) -> dict:
    """Every field the format did not use (and that is not the id), with a nested `meta` object lifted."""
    id_field = id_field_of(record)
    meta: dict = {}
    nested = record.get(META_FIELD)
    if isinstance(nested, dict) and META_FIELD not in used:
        meta.update(json_plain_value(nested))
    for key, value in record.items():
        if key in used or key == id_field or (key == META_FIELD and isinstance(nested, dict)):
            continue
        meta[key] = _meta_value(value)
    return meta


def _meta_value(value: Any) -> Any:
    value = json_plain_value(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def joined_prompt(first: str, second: str) -> str:
    """instruction + input/context, separated by a blank line (the Alpaca/Dolly convention); second may be empty."""
    return f"{first}\n\n{second}" if second.strip() else first


def message_list(value: Any, field: str, role_key: str, content_key: str) -> Messages:
    """A list of turn objects -> canonical messages; turns may use role/content or ShareGPT from/value keys."""
    turns = as_list(value, field)
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RowRejected(R.WRONG_TYPE, f"{field}[{index}] must be an object, got {type_name(turn)}")
        rkey = role_key if role_key in turn else ("from" if "from" in turn else "role")
        ckey = content_key if content_key in turn else ("value" if "value" in turn else "content")
        if turn.get(rkey) is None:
            raise RowRejected(R.MISSING_FIELD, f"{field}[{index}] has no {role_key!r}")
        if turn.get(ckey) is None:
            raise RowRejected(R.MISSING_FIELD, f"{field}[{index}] has no {content_key!r}")
        role = canonical_role(turn[rkey], index)
        content = turn[ckey]
        if isinstance(content, bytes):
            content = as_text(content, f"{field}[{index}].{ckey}")
        messages.append({"role": role, "content": content})
    return messages


def system_message(record: dict, field: str = "system") -> Messages:
    """An optional leading system prompt from a top-level field (empty or absent -> none)."""
    text = optional_text(record, field)
    return [{"role": "system", "content": text}] if text.strip() else []
