"""Canonical conversations -> the record shapes trainers read (docs/REPORT.md, "Export", is the mapping table).

messages  (TRL SFTTrainer / Hugging Face chat templates):
    {"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}: the conversation as is, system
    turn included as the first message.
sharegpt  (LLaMA-Factory `formatting: sharegpt`, default tags):
    {"conversations": [{"from": "human"|"gpt", "value": ...}, ...], "system": "<system prompt or empty>"}
alpaca    (LLaMA-Factory `formatting: alpaca`):
    {"instruction": last user turn, "input": "", "output": last assistant turn, "system": "<system or empty>",
     "history": [[user, assistant], ...] every earlier exchange, oldest first}
"""

from __future__ import annotations

from typing import Any, Callable

from postmix.errors import InputError

SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
SHAREGPT_ROLES = {USER: "human", ASSISTANT: "gpt"}
STYLE_FIELDS: dict[str, tuple[str, ...]] = {
    "messages": ("messages",),
    "sharegpt": ("conversations", "system"),
    "alpaca": ("instruction", "input", "output", "system", "history"),
}


def canonical_messages(messages: Any, sample_id: str) -> list[dict[str, str]]:
    """The conversation as a list of {role, content}, checked: an optional system turn first, then user/assistant
    exchanges, ending with the assistant (what the samples table guarantees; anything else is a broken input)."""
    if messages is None or isinstance(messages, (str, bytes)):
        raise InputError(f"export: sample {sample_id}: messages must be a list of {{role, content}}")
    turns = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    body = turns[1:] if turns and turns[0]["role"] == SYSTEM else turns
    expected = [USER if i % 2 == 0 else ASSISTANT for i in range(len(body))]
    if not body or [t["role"] for t in body] != expected or len(body) % 2:
        roles = ", ".join(t["role"] for t in turns) or "none"
        raise InputError(f"export: sample {sample_id}: roles ({roles}) are not [system], then user/assistant "
                         "exchanges ending with the assistant")
    return turns


def _split_system(turns: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    if turns[0]["role"] == SYSTEM:
        return turns[0]["content"], turns[1:]
    return "", turns


def to_messages(turns: list[dict[str, str]]) -> dict[str, Any]:
    return {"messages": turns}


def to_sharegpt(turns: list[dict[str, str]]) -> dict[str, Any]:
    system, body = _split_system(turns)
    return {"conversations": [{"from": SHAREGPT_ROLES[t["role"]], "value": t["content"]} for t in body],
            "system": system}


def to_alpaca(turns: list[dict[str, str]]) -> dict[str, Any]:
    system, body = _split_system(turns)
    exchanges = [[body[i]["content"], body[i + 1]["content"]] for i in range(0, len(body), 2)]
    last_user, last_answer = exchanges[-1]
    return {"instruction": last_user, "input": "", "output": last_answer, "system": system,
            "history": exchanges[:-1]}


STYLE_MAPPERS: dict[str, Callable[[list[dict[str, str]]], dict[str, Any]]] = {
    "messages": to_messages, "sharegpt": to_sharegpt, "alpaca": to_alpaca,
}
