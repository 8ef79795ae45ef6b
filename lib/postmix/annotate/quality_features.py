"""Hand-made features of (request, reply) pairs for the LightGBM quality ranker, computed for a whole batch at once.

Why vectorised: the annotate stage must keep >= 1,000 rows/s on 2 cores. Character classes (digits, capitals,
non-ASCII, newlines, words, sentence ends) are counted by numpy over one UTF-8 buffer of the whole batch; line
marks (lists, headers, fences, tables) by regexes with a literal "\\n" prefix over whole strings (C scans); phrases
by `str.count` on the lower-cased text. Nothing walks characters in Python. Pattern counts read the first
SCAN_CHARS characters (lengths use the full text), so one huge reply cannot stall a batch.

`FEATURES` is the column order the model is trained and scored with; its card lists it. quality_rank.py adds the
fastText feature (raw P(good) of the fastText quality model), which needs a loaded model.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from postmix.annotate.heuristics import _REFUSAL

SCAN_CHARS = 4000
# Line-anchored structure marks; texts get a leading "\n" so every line start is "\n" (a fast literal prefix).
_LINE_MARKS = {
    "bullets": re.compile(r"\n[ \t]*[-*\u2022+][ \t]+\S"),
    "numbered": re.compile(r"\n[ \t]*\d{1,3}[.)][ \t]+\S"),
    "headers": re.compile(r"\n[ \t]*#{1,6}[ \t]+\S"),
    "tables": re.compile(r"\n[ \t]*\|[^\n]*\|"),
    "code_fences": re.compile(r"\n[ \t]*```"),
}
_BOLD = re.compile(r"\*\*[^*\n]{1,80}\*\*")
_URL = re.compile(r"https?://")
_APOLOGY = ("sorry", "apolog", "unfortunately", "as an ai", "language model", "i cannot", "i can't",
            "i'm unable", "i am unable", "i'm not able")
_HEDGE = ("however", "although", "note that", "it depends", "important to", "keep in mind", "in general")
_CLOSER = ("in summary", "in conclusion", "overall", "to summarize", "to summarise", "i hope this helps",
           "let me know")
_OPENER = re.compile(r"\s*(sure|certainly|of course|absolutely|great question|here (is|are)|yes|no)\b", re.I)
_OPEN_END = ",:;-([{"
_PROMPT_WORD = re.compile(r"[a-z0-9]{4,}")

FEATURES = (
    "resp_chars_log", "resp_words_log", "resp_lines_log", "prompt_chars_log", "prompt_words_log",
    "len_ratio_log", "resp_mean_word_len", "resp_mean_sentence_words", "resp_newline_share",
    "bullets", "numbered", "headers", "bold", "tables", "code_fences", "prompt_code_fences", "prompt_numbered",
    "refusal", "apology", "hedges", "opener", "closer", "urls", "digit_share", "upper_share", "non_ascii_share",
    "question_marks", "exclamations", "repeated_lines", "repeated_sentences", "truncated", "unclosed_fence",
    "prompt_overlap", "prompt_question", "empty",
)


def _texts(values: Sequence[str]) -> list[str]:
    return ["" if v is None else str(v) for v in values]


def char_stats(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-text counts of character classes from one numpy pass over the batch's UTF-8 bytes."""
    if not len(texts):
        return {k: np.zeros(0) for k in ("words", "newlines", "digits", "upper", "non_ascii", "question",
                                         "exclaim", "sentence_ends")}
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    sizes = np.array([len(e) + 1 for e in encoded], dtype=np.int64)  # +1: a NUL separator after each text
    b = np.frombuffer(b"\x00".join(encoded) + b"\x00", dtype=np.uint8)
    # Why bincount over the row of each hit: one cumsum per class over the whole buffer cost ~0.1 ms/row.
    row_of = np.repeat(np.arange(len(encoded), dtype=np.int32), sizes)
    space = (b == 32) | (b == 10) | (b == 9) | (b == 13) | (b == 0)
    prev_space = np.concatenate([[True], space[:-1]])
    next_space = np.concatenate([space[1:], [True]])
    masks = {
        "words": ~space & prev_space, "newlines": b == 10, "digits": (b >= 48) & (b <= 57),
        "upper": (b >= 65) & (b <= 90), "non_ascii": b >= 0xC0, "question": b == 63, "exclaim": b == 33,
        "sentence_ends": ((b == 46) | (b == 33) | (b == 63)) & next_space,
    }
    out = {name: np.bincount(row_of[mask], minlength=len(encoded)).astype(np.float64) for name, mask in masks.items()}
    return out


def _marks(texts: list[str], pattern: re.Pattern) -> np.ndarray:
    return np.fromiter((len(pattern.findall("\n" + t)) for t in texts), dtype=np.float64, count=len(texts))


def _phrases(lowered: list[str], phrases: tuple[str, ...]) -> np.ndarray:
    return np.fromiter((sum(t.count(p) for p in phrases) for t in lowered), dtype=np.float64, count=len(lowered))


def _repeated_share(texts: list[str], sep: str) -> np.ndarray:
    """1 - distinct/total over the non-blank pieces between `sep` (0 with fewer than 2): a loop scores high."""
    out = np.zeros(len(texts))
    for i, t in enumerate(texts):
        pieces = [p for p in map(str.strip, t.split(sep)) if p]
        if len(pieces) > 1:
            out[i] = 1.0 - len(set(pieces)) / len(pieces)
    return out


def _overlap(prompts_lower: list[str], responses_lower: list[str]) -> np.ndarray:
    """Share of the request's distinct words (>= 4 letters) that the reply contains (a substring test per word)."""
    out = np.zeros(len(prompts_lower))
    for i, (p, r) in enumerate(zip(prompts_lower, responses_lower)):
        words = set(_PROMPT_WORD.findall(p[:1000]))
        if words:
            out[i] = sum(w in r for w in words) / len(words)
    return out


def _truncated(responses: list[str]) -> np.ndarray:
    """>= 200 characters ending mid-sentence: a lower-case letter, comma, colon, ... as last visible character."""
    def one(t: str) -> float:
        s = t.rstrip()
        return float(len(s) >= 200 and (s[-1].islower() or s[-1] in _OPEN_END))
    return np.fromiter((one(t) for t in responses), dtype=np.float64, count=len(responses))


def compute_features(prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
    """rows x len(FEATURES) float64 matrix for the last request / last reply of each conversation."""
    p_full, r_full = _texts(prompts), _texts(responses)
    p, r = [t[:SCAN_CHARS] for t in p_full], [t[:SCAN_CHARS] for t in r_full]
    p_low, r_low = [t.lower() for t in p], [t.lower() for t in r]
    r_chars = np.array([len(t) for t in r_full], dtype=np.float64)
    p_chars = np.array([len(t) for t in p_full], dtype=np.float64)
    rs, ps = char_stats(r), char_stats(p)
    scan = np.maximum(np.array([len(t) for t in r], dtype=np.float64), 1.0)
    marks = {name: _marks(r, pattern) for name, pattern in _LINE_MARKS.items()}
    cols = {
        "resp_chars_log": np.log1p(r_chars), "resp_words_log": np.log1p(rs["words"]),
        "resp_lines_log": np.log1p(rs["newlines"]), "prompt_chars_log": np.log1p(p_chars),
        "prompt_words_log": np.log1p(ps["words"]), "len_ratio_log": np.log1p(r_chars) - np.log1p(p_chars),
        "resp_mean_word_len": scan / np.maximum(rs["words"], 1.0),
        "resp_mean_sentence_words": rs["words"] / np.maximum(rs["sentence_ends"], 1.0),
        "resp_newline_share": rs["newlines"] / scan, **marks,
        "bold": np.fromiter((len(_BOLD.findall(t)) for t in r), dtype=np.float64, count=len(r)),
        "prompt_code_fences": _marks(p, _LINE_MARKS["code_fences"]),
        "prompt_numbered": _marks(p, _LINE_MARKS["numbered"]),
        "refusal": np.fromiter((bool(_REFUSAL.search(t[:300])) for t in r), dtype=np.float64, count=len(r)),
        "apology": _phrases(r_low, _APOLOGY), "hedges": _phrases(r_low, _HEDGE),
        "opener": np.fromiter((bool(_OPENER.match(t[:40])) for t in r), dtype=np.float64, count=len(r)),
        "closer": _phrases([t[-300:] for t in r_low], _CLOSER),
        "urls": np.fromiter((len(_URL.findall(t)) for t in r), dtype=np.float64, count=len(r)),
        "digit_share": rs["digits"] / scan, "upper_share": rs["upper"] / scan, "non_ascii_share": rs["non_ascii"] / scan,
        "question_marks": rs["question"], "exclamations": rs["exclaim"],
        "repeated_lines": _repeated_share(r, "\n"), "repeated_sentences": _repeated_share(r, ". "),
        "truncated": _truncated(r_full), "unclosed_fence": marks["code_fences"] % 2,
        "prompt_overlap": _overlap(p_low, r_low),
        "prompt_question": np.fromiter((t.rstrip().endswith("?") for t in p), dtype=np.float64, count=len(p)),
        "empty": np.fromiter((not t.strip() for t in r_full), dtype=np.float64, count=len(r_full)),
    }
    return np.column_stack([cols[name] for name in FEATURES]).astype(np.float64)
