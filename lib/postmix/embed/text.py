"""Text recipes: which part of a conversation is embedded, and the token-level truncation rule.

Recipes (messages -> text):
- "user_turns" (default): the content of every user turn, in order, joined by a blank line. The user turns carry
  the intent (what the sample teaches the model to answer); assistant turns are left out so that two samples asking
  the same thing land together however they are answered. System turns are left out: they are mostly boilerplate
  shared by whole sources and would pull unrelated samples together.
- "conversation": every turn, system included, as "role: content" blocks joined by a blank line, in order.

Truncation: the text is cut at the end of its last token that fits the model's limit (max_seq_length minus the
special tokens), counted by the model's own tokenizer. Cutting at a token boundary leaves the kept tokens unchanged,
so the vector equals the model's encoding of the full text; the cut text only makes the length sort exact and
avoids tokenizing long tails twice. Each row records the recipe id (recipe, version, token limit) and whether it
was cut.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from postmix.errors import ConfigError, ModelError

RECIPE_VERSION = "v1"
TURN_SEPARATOR = "\n\n"


def _field(message: Any, key: str) -> Any:
    """A message field whether Arrow handed the message over as a dict or as a row-like object."""
    if isinstance(message, Mapping):
        return message.get(key)
    return getattr(message, key, None)


def _content(message: Any) -> str:
    content = _field(message, "content")
    return content if isinstance(content, str) else ""


def user_turns_text(messages: Iterable[Any]) -> str:
    """The user turns' contents in order, joined by a blank line; system and assistant turns are left out."""
    parts = [_content(m).strip() for m in messages if _field(m, "role") == "user"]
    return TURN_SEPARATOR.join(p for p in parts if p)


def conversation_text(messages: Iterable[Any]) -> str:
    """Every turn, system included, as "role: content", in order, joined by a blank line."""
    parts = []
    for message in messages:
        content = _content(message).strip()
        if content:
            parts.append(f"{_field(message, 'role')}: {content}")
    return TURN_SEPARATOR.join(parts)


RECIPES: dict[str, Callable[[Iterable[Any]], str]] = {
    "user_turns": user_turns_text,
    "conversation": conversation_text,
}


def recipe_function(recipe: str) -> Callable[[Iterable[Any]], str]:
    """The messages -> text function of a recipe name; ConfigError names the known ones."""
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ConfigError(f"embed.recipe: unknown recipe {recipe!r}; known: {sorted(RECIPES)}") from None


def text_keys(messages_column: Iterable[Any], recipe: str) -> list[Optional[str]]:
    """Per conversation, the sha256 of its recipe text: samples with the same key get the same vector, so the text
    is encoded once (AlpacaEval holds 805 instructions answered by dozens of systems). None where there is no text
    to embed: such rows get a null vector and flags of their own, never another row's."""
    make_text = recipe_function(recipe)
    keys: list[Optional[str]] = []
    for messages in messages_column:
        text = make_text(messages) if messages is not None and len(messages) else ""
        keys.append(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() if text.strip() else None)
    return keys


def recipe_id(recipe: str, max_seq_length: int) -> str:
    """The string stored per row: recipe name, recipe version and token limit, e.g. "user_turns/v1/max256"."""
    recipe_function(recipe)
    return f"{recipe}/{RECIPE_VERSION}/max{max_seq_length}"


@dataclass(frozen=True)
class TruncatedTexts:
    """Texts cut to the token limit, with their token counts (special tokens included) and whether each was cut."""

    texts: list[str]
    n_tokens: list[int]
    truncated: list[bool]


def rust_tokenizer(hf_tokenizer: Any) -> Any:
    """A private copy of a Hugging Face fast tokenizer's Rust tokenizer (tokenizers.Tokenizer), without padding or
    truncation: its users set those per call, so they must not share it."""
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelError(f"embed.model: {type(hf_tokenizer).__name__} is not a fast (Rust) tokenizer, which postmix "
                         f"needs to count and cut tokens")
    return copy_tokenizer(backend)


def copy_tokenizer(tokenizer: Any) -> Any:
    """A copy of a tokenizers.Tokenizer without padding or truncation."""
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


def truncate_to_tokens(texts: Sequence[str], tokenizer: Any, max_seq_length: int) -> TruncatedTexts:
    """Cut each text after its last token that fits max_seq_length (special tokens counted), by the model's own Rust
    tokenizer (a tokenizers.Tokenizer; it is left without truncation or padding).

    The tokenizer is asked for one token more than fits: if that extra token exists, the text was too long.
    """
    n_special = tokenizer.num_special_tokens_to_add(False)
    budget = max_seq_length - n_special
    if budget < 1:
        raise ConfigError(f"embed.max_seq_length: {max_seq_length} leaves no room beside {n_special} special tokens")
    tokenizer.no_padding()
    tokenizer.enable_truncation(budget + 1)
    try:
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    finally:
        tokenizer.no_truncation()
    cut_texts, n_tokens, truncated = [], [], []
    for text, encoding in zip(texts, encodings):
        ids, offsets = encoding.ids, encoding.offsets
        was_cut = len(ids) > budget
        kept = min(len(ids), budget)
        cut_texts.append(text[: offsets[kept - 1][1]] if was_cut else text)
        n_tokens.append(kept + n_special)
        truncated.append(was_cut)
    return TruncatedTexts(cut_texts, n_tokens, truncated)
