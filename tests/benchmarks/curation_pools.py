"""The curation benchmark's pools and reference prompts, built deterministically from ../shared/data.

Only rows the default quality scorer never learned from enter a pool (`postmix.annotate.quality_split.is_held_out`:
AlpacaEval by prompt, T0 by template, dolly by row; the other datasets are never trained on). Within a dataset,
rows are taken in the order of a keyed hash of their id (blake2b(SEED, id)), so a pool is the same on every machine
and a bigger count of one dataset extends a smaller one (the two default pools share most of their rows, and so most
of their embeddings). Every row goes through the product's own ingest parsing (`postmix.ingest.parse.parse_records`,
chat format, default IngestParams): rows ingest would reject are skipped, and a conversation already in the pool
(same `sample_id`, which ingest would collapse) is never taken twice.

AlpacaEval: the pool's AlpacaEval rows are spread evenly over the held-out prompts, each prompt's share split
between the ae1 and ae2 files, and inside each file the answers are picked at evenly spaced ranks of the judged
win probability (so every prompt brings weak and strong answers, and the pool's judged quality is not the file's
skew). Rows without a judgement are left out (no ground truth).

Reference prompts: AlpacaEval instructions that are not pool prompts (the scorer's training prompts, whose answers
never enter a pool), each once, in hash order; used only to measure how well a selection covers unseen user needs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from pathlib import Path
from typing import Iterable, Optional

from postmix.annotate.quality_split import (ALPACA_EVAL_DATASETS, HUMAN_DATASET, TEMPLATED_DATASET, dataset_of,
                                            is_held_out)
from postmix.ingest.normalize import normalize_for_id
from postmix.ingest.params import IngestParams
from postmix.ingest.parse import SAMPLE, parse_records

SEED = "postmix-curation-v1"
ALPACA_EVAL = "alpaca_eval"  # a pool count for the two AlpacaEval files together
HH = "hh_rlhf_harmless_test"
GPTEACHER = "gpteacher"
CODE_ALPACA = "code_alpaca_2k"
DATASETS = (HUMAN_DATASET, TEMPLATED_DATASET, *ALPACA_EVAL_DATASETS, HH, GPTEACHER, CODE_ALPACA)

POOLS: dict[str, dict[str, int]] = {
    "balanced": {HUMAN_DATASET: 1500, TEMPLATED_DATASET: 1500, GPTEACHER: 1000, CODE_ALPACA: 500,
                 ALPACA_EVAL: 2000, HH: 500},
    "junk-heavy": {TEMPLATED_DATASET: 3000, ALPACA_EVAL: 2500, HUMAN_DATASET: 600, GPTEACHER: 500, CODE_ALPACA: 200,
                   HH: 300},
}
REFERENCE_PROMPTS = 400

# Ground-truth classes (docs/CURATION.md): "low" = low-quality source, "curated" = hand-curated source.
LOW, CURATED, OTHER = "low", "curated", "other"


def row_hash(row_id: str, seed: str = SEED) -> int:
    """A keyed 64-bit hash of a row id: the order rows are taken in (independent of file order)."""
    return int.from_bytes(hashlib.blake2b(row_id.encode("utf-8"), digest_size=8, key=seed.encode("utf-8")).digest(),
                          "big")


def load_dataset(data_dir: Path, name: str) -> list[dict]:
    path = Path(data_dir) / name / f"{name}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def win_probability(row: dict) -> Optional[float]:
    value = (row.get("meta") or {}).get("win_prob_vs_reference")
    return None if value is None or not math.isfinite(float(value)) else float(value)


def ground_truth(dataset: str, row: dict) -> tuple[Optional[float], str]:
    """(ground-truth quality or None, class). AlpacaEval: the judged win probability (< 0.5 = low); dolly 1.0
    (hand-written by humans, curated); hh: 1.0 for the human's preferred reply (curated), 0.0 for the rejected one
    (low); T0: 0.0 (templated prompts with short answers: low); gpteacher and code_alpaca: none."""
    if dataset in ALPACA_EVAL_DATASETS:
        value = win_probability(row)
        return value, (LOW if value is not None and value < 0.5 else OTHER)
    if dataset == HUMAN_DATASET:
        return 1.0, CURATED
    if dataset == HH:
        preferred = bool((row.get("meta") or {}).get("preferred"))
        return (1.0, CURATED) if preferred else (0.0, LOW)
    if dataset == TEMPLATED_DATASET:
        return 0.0, LOW
    return None, OTHER


class Taker:
    """Parses candidate rows with the product's ingest code and keeps those ingest accepts, once per sample_id."""

    def __init__(self, params: IngestParams | None = None):
        self.params = params or IngestParams()
        self.seen: set[str] = set()

    def parse(self, dataset: str, row: dict) -> Optional[dict]:
        parsed = next(parse_records([row], dataset, "chat", f"{dataset}:", self.params))
        if parsed["kind"] != SAMPLE or parsed["sample_id"] in self.seen:
            return None
        return parsed

    def take(self, dataset: str, row: dict) -> Optional[dict]:
        parsed = self.parse(dataset, row)
        if parsed is None:
            return None
        self.seen.add(parsed["sample_id"])
        gt, kind = ground_truth(dataset, row)
        return {"sample_id": parsed["sample_id"], "source": dataset, "source_id": parsed["source_id"],
                "messages": parsed["messages"], "meta": parsed["meta"],
                "n_chars_user": int(parsed["n_chars_user"]), "n_chars_assistant": int(parsed["n_chars_assistant"]),
                "gt": gt, "gt_class": kind, "win_prob": win_probability(row) if dataset in ALPACA_EVAL_DATASETS
                else None}


def take_hashed(dataset: str, rows: Iterable[dict], count: int, taker: Taker) -> list[dict]:
    """The first `count` held-out rows in hash order that ingest accepts (and that are new to the pool)."""
    candidates = sorted((r for r in rows if is_held_out(r)), key=lambda r: (row_hash(r["id"]), r["id"]))
    taken = []
    for row in candidates:
        if len(taken) == count:
            break
        sample = taker.take(dataset, row)
        if sample is not None:
            taken.append(sample)
    if len(taken) < count:
        raise SystemExit(f"curation pools: {dataset} has only {len(taken)} usable held-out rows, {count} asked")
    return taken


def spread_positions(n: int, q: int) -> list[int]:
    """q evenly spaced ranks out of n (first and last included), distinct, ascending; all n when q >= n."""
    if q >= n:
        return list(range(n))
    if q == 1:
        return [n // 2]
    return sorted({round(i * (n - 1) / (q - 1)) for i in range(q)})


def nearest_free(position: int, n: int, used: set[int]) -> Iterable[int]:
    """Ranks by distance from `position` (up first on ties), skipping used ones."""
    for step in range(n):
        for candidate in ((position + step, position - step) if step else (position,)):
            if 0 <= candidate < n and candidate not in used:
                yield candidate


def take_spread(dataset: str, rows: list[dict], q: int, taker: Taker) -> list[dict]:
    """q answers at evenly spaced ranks of judged win probability (ties by hash); a rank whose row ingest rejects or
    already holds moves to the nearest free rank."""
    ordered = sorted(rows, key=lambda r: (win_probability(r), row_hash(r["id"]), r["id"]))
    used: set[int] = set()
    taken = []
    for target in spread_positions(len(ordered), q):
        for position in nearest_free(target, len(ordered), used):
            used.add(position)
            sample = taker.take(dataset, ordered[position])
            if sample is not None:
                taken.append(sample)
                break
    return taken


def alpaca_eval_rows(data: dict[str, list[dict]]) -> dict[int, dict[str, list[dict]]]:
    """Judged rows by instruction index, then file."""
    by_prompt: dict[int, dict[str, list[dict]]] = {}
    for dataset in ALPACA_EVAL_DATASETS:
        for row in data[dataset]:
            if win_probability(row) is not None:
                by_prompt.setdefault(int(row["meta"]["instruction_index"]), {d: [] for d in ALPACA_EVAL_DATASETS})
                by_prompt[int(row["meta"]["instruction_index"])][dataset].append(row)
    return by_prompt


def held_out_prompts(by_prompt: dict[int, dict[str, list[dict]]]) -> list[int]:
    """Instruction indices whose prompt the quality scorer never saw (the split is per prompt: any row decides)."""
    held = []
    for index, files in sorted(by_prompt.items()):
        rows = [r for d in ALPACA_EVAL_DATASETS for r in files[d]]
        verdicts = {is_held_out(r) for r in rows}
        assert len(verdicts) == 1, f"instruction {index}: its rows disagree on the held-out split"
        if verdicts.pop():
            held.append(index)
    return held


def take_alpaca_eval(by_prompt: dict[int, dict[str, list[dict]]], prompts: list[int], count: int,
                     taker: Taker) -> list[dict]:
    """`count` judged answers spread over the held-out prompts (equal shares, the remainder to the prompts first in
    hash order), each share split between ae1 and ae2 (the odd answer alternating by hash)."""
    order = sorted(prompts, key=lambda p: (row_hash(f"prompt-{p}"), p))
    base, extra = divmod(count, len(order))
    taken = []
    for rank, prompt in enumerate(order):
        share = base + (1 if rank < extra else 0)
        first, second = ALPACA_EVAL_DATASETS if rank % 2 == 0 else ALPACA_EVAL_DATASETS[::-1]
        half = (share + 1) // 2
        got = take_spread(first, by_prompt[prompt][first], half, taker)
        got += take_spread(second, by_prompt[prompt][second], share - len(got), taker)
        if len(got) < share:  # the second file had too few: top up from the first
            got += take_spread(first, [r for r in by_prompt[prompt][first]], share - len(got), taker)
        taken.extend(got)
    if len(taken) < count:
        raise SystemExit(f"curation pools: only {len(taken)} AlpacaEval answers over {len(order)} held-out prompts, "
                         f"{count} asked")
    return taken


def compose_pool(spec: dict[str, int], data: dict[str, list[dict]]) -> list[dict]:
    """One pool: rows of each dataset in spec (AlpacaEval through take_alpaca_eval), in sample_id order."""
    taker = Taker()
    rows: list[dict] = []
    for dataset, count in spec.items():
        if dataset == ALPACA_EVAL:
            by_prompt = alpaca_eval_rows(data)
            rows += take_alpaca_eval(by_prompt, held_out_prompts(by_prompt), count, taker)
        else:
            rows += take_hashed(dataset, data[dataset], count, taker)
    assert len({r["sample_id"] for r in rows}) == len(rows) == sum(spec.values())
    return sorted(rows, key=lambda r: r["sample_id"])


def user_text_key(messages) -> str:
    """A prompt as ingest's id sees it (NFC, whitespace collapsed), over every user turn."""
    return "\n".join(normalize_for_id(m["content"]) for m in messages if m["role"] == "user")


def reference_prompts(data: dict[str, list[dict]], pools: dict[str, list[dict]], count: int) -> list[dict]:
    """AlpacaEval instructions that are not held out (so never pool prompts), each once, in hash order, leaving out
    any whose text equals a pool row's user turns."""
    by_prompt = alpaca_eval_rows(data)
    held = set(held_out_prompts(by_prompt))
    in_pools = {user_text_key(r["messages"]) for rows in pools.values() for r in rows}
    candidates = sorted((p for p in by_prompt if p not in held), key=lambda p: (row_hash(f"reference-{p}"), p))
    chosen = []
    for prompt in candidates:
        if len(chosen) == count:
            break
        files = by_prompt[prompt]
        row = (files[ALPACA_EVAL_DATASETS[1]] or files[ALPACA_EVAL_DATASETS[0]])[0]
        text = next(m["content"] for m in row["messages"] if m["role"] == "user")
        if user_text_key([{"role": "user", "content": text}]) in in_pools:
            continue
        chosen.append({"reference_id": f"alpaca_eval-instruction-{prompt}", "instruction_index": prompt,
                       "messages": [{"role": "user", "content": text}]})
    if len(chosen) < count:
        raise SystemExit(f"curation pools: only {len(chosen)} reference prompts available, {count} asked")
    return chosen


def compose_all(data_dir: Path, reference_count: int = REFERENCE_PROMPTS) -> dict:
    """Every pool in POOLS and the reference prompts; checks that no AlpacaEval pool prompt is a training prompt."""
    data = {name: load_dataset(data_dir, name) for name in DATASETS}
    for name, rows in data.items():
        assert all(dataset_of(r) in (name, "other") for r in rows[:100]), f"{name}: unexpected id prefixes"
    pools = {name: compose_pool(spec, data) for name, spec in POOLS.items()}
    reference = reference_prompts(data, pools, reference_count)
    reference_indices = {r["instruction_index"] for r in reference}
    for rows in pools.values():
        pool_prompts = {json.loads(r["meta"])["instruction_index"] for r in rows if r["source"] in ALPACA_EVAL_DATASETS}
        assert not pool_prompts & reference_indices, "a reference prompt is also a pool prompt"
    return {"pools": pools, "reference": reference}
