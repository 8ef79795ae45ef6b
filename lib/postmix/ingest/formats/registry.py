"""The one registry of record formats and key-based detection. Adding a format = one module + one line here."""

from __future__ import annotations

from postmix.errors import InputError
from postmix.ingest.formats import alpaca, chat, dolly, pairs, sharegpt
from postmix.ingest.formats.base import RecordFormat

FORMATS: dict[str, RecordFormat] = {
    fmt.name: fmt for fmt in (chat.FORMAT, sharegpt.FORMAT, alpaca.FORMAT, dolly.FORMAT, pairs.FORMAT)
}

AMBIGUOUS = "<ambiguous>"


def get_format(name: str) -> RecordFormat:
    """The format registered under name; an unknown name is an InputError listing the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"unknown format {name!r}; known formats: {', '.join(sorted(FORMATS))}") from None


def best_format(keys) -> str | None:
    """The name of the format scoring highest on these top-level keys, AMBIGUOUS on a tie, None when none applies."""
    keys = frozenset(keys)
    scores = sorted(((fmt.detect(keys), name) for name, fmt in FORMATS.items()), reverse=True)
    (top, name), (second, _) = scores[0], scores[1]
    if top == 0:
        return None
    return AMBIGUOUS if top == second else name


def matching_formats(keys) -> list[str]:
    """Every format whose detection rule applies to these keys (for error messages)."""
    keys = frozenset(keys)
    return sorted(name for name, fmt in FORMATS.items() if fmt.detect(keys) > 0)
