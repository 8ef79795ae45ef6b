"""Write the demo sources: ~3,000 conversations over 11 task types, in five formats and containers, with exact
duplicates (within and across sources) and ~3% broken rows that exercise the reject reasons.

Deterministic: one numpy Generator seeded by `seed` drives every choice; gzip has no timestamp; the same seed gives
byte-identical files.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from postmix.demo.pick import pick
from postmix.demo.tasks_code import coding
from postmix.demo.tasks_math import math
from postmix.demo.tasks_text import (advice, brainstorming, classification, creative_writing, data_analysis, editing,
                                     information_seeking, planning, role_play)
from postmix.ingest.params import SourceSpec

TASKS = {
    "coding": coding, "math": math, "creative_writing": creative_writing, "editing": editing,
    "brainstorming": brainstorming, "role_play": role_play, "advice": advice,
    "information_seeking": information_seeking, "classification": classification, "planning": planning,
    "data_analysis": data_analysis,
}
# Dolly's own category vocabulary for the task types we generate.
DOLLY_CATEGORY = {
    "coding": "general_qa", "math": "general_qa", "creative_writing": "creative_writing", "editing": "summarization",
    "brainstorming": "brainstorming", "role_play": "creative_writing", "advice": "general_qa",
    "information_seeking": "open_qa", "classification": "classification", "planning": "brainstorming",
    "data_analysis": "information_extraction",
}
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are a concise, friendly assistant.",
                  "Answer accurately and show your reasoning when it helps."]
COUNTS = {"chat": 900, "sharegpt": 600, "alpaca": 600, "dolly": 500, "pairs": 400}
FILES = {"chat": "chat.jsonl", "sharegpt": "sharegpt.json", "alpaca": "alpaca.jsonl.gz", "dolly": "dolly.parquet",
         "pairs": "pairs.jsonl"}


def write_demo_sources(out_dir, seed: int = 0, scale: float = 1.0) -> list[SourceSpec]:
    """Write the five demo files into out_dir and return their source specs (formats left to detection).

    `scale` shrinks or grows every source (1.0: about 3,200 rows); the broken rows and duplicates stay in.
    """
    if not 0.1 <= scale <= 10:
        raise ValueError(f"demo scale must be within [0.1, 10], got {scale}")
    counts = {name: max(100, int(round(n * scale))) for name, n in COUNTS.items()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    chat = [_conversation(rng, allow_system=True) for _ in range(counts["chat"])]
    shared = [c for c in chat if c[1][0]["role"] != "system"]  # re-emitted in other formats: cross-source duplicates
    chat += [chat[int(i)] for i in rng.integers(0, len(chat), size=30)]  # duplicates within the source
    _write_chat(out / FILES["chat"], chat, rng)
    _write_sharegpt(out / FILES["sharegpt"], [_conversation(rng, allow_system=True) for _ in range(counts["sharegpt"])], rng)
    alpaca = [_conversation(rng, allow_system=False) for _ in range(counts["alpaca"])] + shared[:40]
    _write_alpaca(out / FILES["alpaca"], alpaca, rng)
    single = [c for c in shared if len(c[1]) == 2]
    dolly = [_single_turn(rng) for _ in range(counts["dolly"])] + single[40:60]
    _write_dolly(out / FILES["dolly"], dolly, rng)
    pairs = [_single_turn(rng) for _ in range(counts["pairs"])] + single[60:80]
    _write_pairs(out / FILES["pairs"], pairs, rng)
    return [SourceSpec(f"demo_{name}", str(out / FILES[name])) for name in FILES]


def _conversation(rng, allow_system: bool) -> tuple[str, list[dict]]:
    task = pick(rng, sorted(TASKS))
    messages = TASKS[task](rng)
    has_system = messages[0]["role"] == "system"
    if allow_system and not has_system and rng.random() < 0.15:
        messages = [{"role": "system", "content": pick(rng, SYSTEM_PROMPTS)}] + messages
    if not allow_system and has_system:
        messages = messages[1:]
    return task, messages


def _single_turn(rng) -> tuple[str, list[dict]]:
    task, messages = _conversation(rng, allow_system=False)
    return task, messages[:2]


def _inject(rows: list, broken: list, rng) -> list:
    """Insert the broken rows at seeded positions."""
    rows = list(rows)
    for row in broken:
        rows.insert(int(rng.integers(0, len(rows) + 1)), row)
    return rows


def _jsonl(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- chat messages, JSONL
def _write_chat(path: Path, conversations, rng) -> None:
    lines = [_jsonl({"id": f"chat-{i:05d}", "messages": m, "meta": {"task": t}}) for i, (t, m) in enumerate(conversations)]
    ok = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]
    broken = [
        b'{"id": "chat-bad-json", "messages": [{"role": "user", "content": "unterminated',
        b'{"id": "chat-bad-utf8", "messages": [{"role": "user", "content": "caf\xe9 au lait?"}, '
        b'{"role": "assistant", "content": "Oui."}]}',
        _jsonl(["not", "an", "object"]),
        _jsonl({"id": "chat-empty-turn", "messages": [{"role": "user", "content": "   "}, ok[1]]}),
        _jsonl({"id": "chat-unknown-role", "messages": [{"role": "narrator", "content": "Once upon a time"}, ok[1]]}),
        _jsonl({"id": "chat-no-answer", "messages": [ok[0], ok[1], {"role": "user", "content": "Are you there?"}]}),
        _jsonl({"id": "chat-turn-order", "messages": [ok[0], {"role": "user", "content": "Hello again"}, ok[1]]}),
        _jsonl({"id": "chat-nul", "messages": [{"role": "user", "content": "bad\x00byte"}, ok[1]]}),
        _jsonl({"id": "chat-wrong-type", "messages": [{"role": "user", "content": 42}, ok[1]]}),
        _jsonl({"id": "chat-missing", "messages": None}),
        _jsonl({"id": "chat-empty", "messages": []}),
        _jsonl({"id": "chat-too-long", "messages": [{"role": "user", "content": "word " * 40_001}, ok[1]]}),
        b'{"id": "chat-deep", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        _jsonl({"id": "chat-format", "prompt_text": "What?", "reply": "That."}),
    ]
    broken = broken * 2  # each defect twice, at different positions
    path.write_bytes(b"\n".join(_inject(lines, broken, rng)) + b"\n")


# ---------------------------------------------------------------- ShareGPT, JSON array
def _write_sharegpt(path: Path, conversations, rng) -> None:
    names = {"user": "human", "assistant": "gpt", "system": "system"}
    items = [{"id": f"sharegpt-{i:05d}", "conversations": [{"from": names[m["role"]], "value": m["content"]} for m in msgs],
              "task": t} for i, (t, msgs) in enumerate(conversations)]
    turn = {"from": "gpt", "value": "Sure."}
    broken = [
        "just a string",
        {"id": "sg-unknown-role", "conversations": [{"from": "moderator", "value": "Rules first."}, turn]},
        {"id": "sg-empty", "conversations": [{"from": "human", "value": ""}, turn]},
        {"id": "sg-wrong-type", "conversations": "human: hi / gpt: hello"},
        {"id": "sg-order", "conversations": [turn, {"from": "human", "value": "Hi"}, turn]},
        {"id": "sg-no-answer", "conversations": [{"from": "human", "value": "Anyone?"}]},
    ] * 3
    path.write_text(json.dumps(_inject(items, broken, rng), ensure_ascii=False, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- Alpaca with history, gzip JSONL
def _alpaca_record(index: int, task: str, messages: list[dict]) -> dict:
    *earlier, last_user, answer = messages
    instruction, _, given_input = last_user["content"].partition("\n\n")
    history = [[earlier[i]["content"], earlier[i + 1]["content"]] for i in range(0, len(earlier), 2)]
    record = {"id": f"alpaca-{index:05d}", "instruction": instruction, "input": given_input, "output": answer["content"],
              "task": task}
    if history:
        record["history"] = history
    return record


def _write_alpaca(path: Path, conversations, rng) -> None:
    lines = [_jsonl(_alpaca_record(i, t, m)) for i, (t, m) in enumerate(conversations)]
    broken = [
        _jsonl({"id": "al-missing", "instruction": "Name a colour.", "input": "", "output": None}),
        _jsonl({"id": "al-history", "instruction": "And then?", "input": "", "output": "Then it ends.",
                "history": ["not a pair"]}),
        _jsonl({"id": "al-empty", "instruction": "Say something.", "input": "", "output": "\n\t "}),
        b'{"id": "al-bad", "instruction": "Count to three", "output": 1 2 3}',
        _jsonl({"id": "al-type", "instruction": ["a", "list"], "input": "", "output": "A list."}),
    ] * 3
    payload = b"\n".join(_inject(lines, broken, rng)) + b"\n"
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(payload)


# ---------------------------------------------------------------- Dolly, Parquet with a category column
def _write_dolly(path: Path, conversations, rng) -> None:
    rows = []
    for task, messages in conversations:
        instruction, _, context = messages[0]["content"].partition("\n\n")
        rows.append({"instruction": instruction, "context": context, "response": messages[1]["content"],
                     "category": DOLLY_CATEGORY[task]})
    broken = [{"instruction": "What is the capital of Peru?", "context": "", "response": None, "category": "open_qa"},
              {"instruction": "Summarize the text.", "context": "Short text.", "response": "   ", "category": "summarization"},
              {"instruction": None, "context": "", "response": "Nothing was asked.", "category": "open_qa"}] * 3
    table = pa.Table.from_pylist(_inject(rows, broken, rng), schema=pa.schema(
        [("instruction", pa.string()), ("context", pa.string()), ("response", pa.string()), ("category", pa.string())]))
    pq.write_table(table, path, row_group_size=200, compression="snappy")


# ---------------------------------------------------------------- prompt/response pairs, JSONL with CRLF and a BOM
def _write_pairs(path: Path, conversations, rng) -> None:
    lines = [_jsonl({"prompt": m[0]["content"], "response": m[1]["content"], "score": int(rng.integers(1, 6)),
                     "task": t}) for t, m in conversations]
    broken = [
        _jsonl({"prompt": "What is 2 + 2?", "response": 4, "score": 1}),
        _jsonl({"prompt": "Is this answered?", "score": 2}),
        _jsonl({"prompt": "", "response": "An answer to nothing.", "score": 1}),
        b"",  # a blank line: not a record
        b'{"prompt": "Latin-1 here: \xe0 bient\xf4t", "response": "ok", "score": 3}',
    ] * 3
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(_inject(lines, broken, rng)) + b"\r\n")
