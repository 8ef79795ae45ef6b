"""Labelled JSONL for `postmix train`: reading, label parsing, model inputs, the deterministic hash split.

Format, one JSON object per line:
  {"messages": [{"role": "user", "content": "..."}, ...]}  or  {"text": "..."}   (messages preferred)
  "label":        task: any non-empty string (e.g. "Coding & Debugging");
                  quality: "good" / "bad", true / false, 1 / 0, or a float score (>= TrainParams.quality_threshold is good)
  "group":        optional split key: rows with the same group land in the same split part (e.g. a prompt id, so
                  that no prompt is in both train and test); default: the model input text itself
  "supervision":  optional provenance tag (e.g. "human", "rule"); the model card reports metrics per tag
  "query", "source": LightGBM ranker only (quality_rank.py): the ranking list id (default: group), and the source
                  name that with the last user turn forms the row's request group (quality_group.py; default "")
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional
from urllib.parse import quote, unquote

from postmix.annotate.conversation import fasttext_text, normalise_messages, quality_input, task_input
from postmix.errors import InputError

KINDS = ("task", "quality")
_GOOD_WORDS = {"good": True, "bad": False, "true": True, "false": False}


@dataclass(frozen=True)
class Example:
    text: str  # the fastText input line
    label: str  # decoded label ("Coding & Debugging", "good")
    split_key: str
    supervision: str


def read_jsonl(path: Path) -> Iterator[dict]:
    """Rows of a JSONL file (.gz read transparently); a bad line is an InputError naming file and line."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield _parse_line(line, path, number)
    except OSError as err:
        raise InputError(f"cannot read labelled data {path}: {err}") from err


def _parse_line(line: str, path: Path, number: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{number}: not JSON: {err}") from err
    if not isinstance(row, dict):
        raise InputError(f"{path}:{number}: expected a JSON object")
    row["_where"] = f"{path}:{number}"
    return row


def to_examples(rows: Iterable[dict], kind: str, quality_threshold: float, max_chars: int) -> Iterator[Example]:
    """Model inputs with their labels; rows whose input is empty are dropped (they teach nothing)."""
    for index, row in enumerate(rows):
        where = row.get("_where", f"row {index}")
        text = model_input(row, kind, max_chars, where)
        if not text or text == "__response__":
            continue
        label = parse_label(row.get("label"), kind, quality_threshold, where)
        group = row.get("group")
        yield Example(text, label, text if group is None else str(group), str(row.get("supervision", "unspecified")))


def model_input(row: dict, kind: str, max_chars: int, where: str) -> str:
    if "messages" in row:
        turns = normalise_messages(row["messages"])
        return task_input(turns, max_chars) if kind == "task" else quality_input(turns, max_chars)
    if "text" in row:
        return fasttext_text(str(row["text"]), max_chars)
    raise InputError(f"{where}: a labelled row needs 'messages' or 'text'")


def parse_label(value, kind: str, quality_threshold: float, where: str) -> str:
    if kind == "task":
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: task label must be a non-empty string, got {value!r}")
        return value.strip()
    return "good" if _is_good(value, quality_threshold, where) else "bad"


def _is_good(value, threshold: float, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _GOOD_WORDS:
        return _GOOD_WORDS[value.strip().lower()]
    if isinstance(value, (int, float)) and math.isfinite(value):
        return value >= threshold
    raise InputError(f"{where}: quality label must be good/bad, true/false, 1/0 or a score, got {value!r}")


def split_fraction(key: str, salt: str) -> float:
    """A number in [0, 1) fixed by sha256(salt NUL key): the split is reproducible from the data alone."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def split_part(key: str, salt: str, test_fraction: float, calibration_fraction: float) -> str:
    """'test' below test_fraction, 'calibration' in the next calibration_fraction, else 'train'."""
    u = split_fraction(key, salt)
    if u < test_fraction:
        return "test"
    return "calibration" if u < test_fraction + calibration_fraction else "train"


def encode_label(label: str) -> str:
    """fastText label token: percent-encoded so spaces and '&' survive ("Coding%20%26%20Debugging")."""
    return "__label__" + quote(label, safe="")


def decode_label(token: str) -> str:
    return unquote(token.removeprefix("__label__"))


def file_sha256(path: Path) -> Optional[str]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
