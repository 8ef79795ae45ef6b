"""Cheap signals over text: pure functions, no models. Each says in its docstring exactly what it measures."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*```", re.MULTILINE)
_LATEX = re.compile(r"\\(frac|sqrt|int|sum|prod|lim|cdot|times|alpha|beta|theta|pi|le|ge|neq)\b|\$[^$\n]+\$|\\\(|\\\[")
_ARITHMETIC = re.compile(r"\d\s*[-+*/×÷^]\s*\(?\d|\b[a-z]\s*\^\s*\d|\d\s*=\s*-?\d|\b(equation|integral|derivative)\b",
                         re.IGNORECASE)
# Openings of refusals by chat models (checked in the first 300 characters of the reply, case-insensitive).
_REFUSAL = re.compile(
    r"\b(i('| a)?m sorry,? but|i (cannot|can't|can not|won't|will not) (help|assist|provide|do|comply|answer|create|"
    r"write|fulfill|generate|support|engage)|i('m| am) (not able|unable) to (help|assist|provide|answer|do)|"
    r"as an ai( language model)?,? i (cannot|can't|don't|do not)|i must (decline|refuse)|"
    r"it (is|would be) (not appropriate|inappropriate|unethical) (for me )?to)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
TRUNCATION_MIN_CHARS = 200


def code_blocks(text: str) -> int:
    """Fenced (```) code blocks; an unclosed fence still opens a block."""
    fences = len(_FENCE.findall(text))
    return fences // 2 + fences % 2


def has_math(text: str) -> bool:
    """LaTeX math, an arithmetic expression (digit operator digit, x^2, 3 = 3) or an equation/integral/derivative."""
    return bool(_LATEX.search(text) or _ARITHMETIC.search(text))


def is_refusal(reply: str) -> bool:
    """The reply opens (first 300 characters) with a refusal phrase ("I'm sorry, but", "I cannot help", ...)."""
    return bool(_REFUSAL.search(reply[:300]))


def repetition(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier one: 0 for all-distinct text, near 1 for a loop. < n words -> 0."""
    words = _WORD.findall(text.lower())
    grams = list(zip(*(words[i:] for i in range(n))))  # C-level zip: same n-grams as slicing, ~3x faster
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def is_empty(text: str) -> bool:
    """Nothing but whitespace."""
    return not text.strip()


def is_truncated(reply: str) -> bool:
    """An unclosed code fence, or a reply of >= 200 characters that stops mid-sentence (ends in a lower-case letter,
    a comma, colon, semicolon, hyphen or opening bracket). Short replies ("Tope") are answers, not truncations."""
    stripped = reply.rstrip()
    if not stripped:
        return False
    if len(_FENCE.findall(stripped)) % 2 == 1:
        return True
    return len(stripped) >= TRUNCATION_MIN_CHARS and (stripped[-1].islower() or stripped[-1] in ",:;-([{")
