"""Conversations as the annotators see them: message normalisation and the turn-combination rules.

Turn-combination rules (one per labeller; docs/ANNOTATE.md repeats them):
- task: the FIRST user turn. The task of a conversation is what the user first asked for (Magpie tags the first
  query the same way); follow-ups are usually clarifications of it.
- quality: the LAST user turn followed by the LAST assistant turn. The judged thing is the final reply, read against
  the request it answers (in hh_rlhf pairs, exactly the part in which chosen and rejected differ).
- language: every turn, user and assistant, in order, joined by newlines (capped at max_chars).
- heuristics: prompt_chars / response_chars sum over all user / assistant turns; n_turns counts user turns;
  code_blocks, has_math, refusal, repetition, empty/truncated look at the assistant turns as stated in heuristics.py.
System turns are ignored by every labeller (they set up, they are not the task or the answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Tuple

_PUNCT = re.compile(r"([^\w\s])")
_SPACE = re.compile(r"\s+")
RESPONSE_MARKER = "__response__"


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


def normalise_messages(messages: Any) -> Tuple[Turn, ...]:
    """Turns from a list / numpy array of {role, content} mappings (as JSON or Arrow give them); None -> ()."""
    if messages is None:
        return ()
    return tuple(Turn(str(m["role"]), "" if m["content"] is None else str(m["content"])) for m in messages)


def contents(turns: Iterable[Turn], role: str) -> list[str]:
    return [t.content for t in turns if t.role == role]


def first_user_text(turns: Tuple[Turn, ...]) -> str:
    users = contents(turns, "user")
    return users[0] if users else ""


def last_exchange(turns: Tuple[Turn, ...]) -> Tuple[str, str]:
    """(last user turn, last assistant turn); a missing side is ''."""
    users, assistants = contents(turns, "user"), contents(turns, "assistant")
    return (users[-1] if users else "", assistants[-1] if assistants else "")


def all_text(turns: Tuple[Turn, ...]) -> str:
    return "\n".join(t.content for t in turns if t.role in ("user", "assistant"))


def fasttext_text(text: str, max_chars: int) -> str:
    """One fastText input line: cut to max_chars, lower-cased, punctuation split off words, whitespace collapsed."""
    cut = text[:max_chars].lower()
    return _SPACE.sub(" ", _PUNCT.sub(r" \1 ", cut)).strip()


def task_input(turns: Tuple[Turn, ...], max_chars: int) -> str:
    return fasttext_text(first_user_text(turns), max_chars)


def quality_input(turns: Tuple[Turn, ...], max_chars: int) -> str:
    """Prompt tokens, a marker, then response tokens; the prompt gets a quarter of the budget (the reply is judged)."""
    prompt, response = last_exchange(turns)
    return f"{fasttext_text(prompt, max_chars // 4)} {RESPONSE_MARKER} {fasttext_text(response, max_chars)}".strip()


def language_input(turns: Tuple[Turn, ...], max_chars: int) -> str:
    """lid.176 wants natural text on one line: no lower-casing or punctuation splitting, newlines to spaces."""
    return _SPACE.sub(" ", all_text(turns)[:max_chars]).strip()
