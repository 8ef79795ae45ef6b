"""Annotate benchmark: rows/s of the batch function vs the same fastText models in one plain Python loop, plus the
default models' quality figures. `make bench` runs it; the lead's Spark timing calls `benchmark_frame` and
`batch_function_rows_per_second` with the same rows so all three numbers come from one run.

    PYTHONPATH=lib python tests/benchmarks/bench_annotate.py [--data-dir ../shared/data] [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import pandas as pd

from postmix.annotate.annotator import annotate_frame, load_annotators
from postmix.annotate.conversation import language_input, last_exchange, normalise_messages, quality_input, task_input
from postmix.annotate.models import DEFAULT_TASK_MODEL, FASTTEXT_QUALITY_MODEL as DEFAULT_QUALITY_MODEL
from postmix.annotate.params import AnnotateParams

# This benchmark compares the batch function with fastText called in a plain loop, so it scores quality with the
# fastText model (the LightGBM ranker default has its own figures: bench_quality.py).
from postmix.annotate.quality_eval import hh_pairwise_accuracy

FASTTEXT_PARAMS = AnnotateParams(quality_model=str(DEFAULT_QUALITY_MODEL))

DATASETS = ("dolly15k", "t0_p3_50k", "alpaca_eval2_gpt4t_judged", "alpaca_eval1_gpt4_judged",
            "hh_rlhf_harmless_test", "gpteacher", "code_alpaca_2k")


def benchmark_frame(data_dir: Path, limit: int | None = None) -> pd.DataFrame:
    """sample_id, messages, meta (JSON) for every row of the shared data (first `limit` rows if given)."""
    ids, messages, metas = [], [], []
    for name in DATASETS:
        with gzip.open(data_dir / name / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                ids.append(row["id"]), messages.append(row["messages"]), metas.append(json.dumps(row["meta"]))
    frame = pd.DataFrame({"sample_id": ids, "messages": messages, "meta": metas})
    return frame if limit is None else frame.iloc[:limit].reset_index(drop=True)


def batch_function_rows_per_second(frame: pd.DataFrame, params: AnnotateParams = FASTTEXT_PARAMS) -> float:
    """annotate_frame over batches of params.batch_rows rows (models already loaded, as on a warm worker)."""
    load_annotators(params)
    start = time.perf_counter()
    for offset in range(0, len(frame), params.batch_rows):
        annotate_frame(frame.iloc[offset:offset + params.batch_rows], params)
    return len(frame) / (time.perf_counter() - start)


def plain_loop_rows_per_second(frame: pd.DataFrame, params: AnnotateParams = FASTTEXT_PARAMS) -> float:
    """The baseline: the same three fastText models called one row at a time, no heuristics, no frame building."""
    models = load_annotators(params)
    start = time.perf_counter()
    for messages in frame["messages"]:
        turns = normalise_messages(messages)
        if task := task_input(turns, params.max_chars):
            models.task.model.predict(task, k=params.top_k)
        if last_exchange(turns)[1].strip():
            models.quality.model.predict(quality_input(turns, params.max_chars), k=2)
        if text := language_input(turns, params.max_chars):
            models.lid.model.predict(text, k=1)
    return len(frame) / (time.perf_counter() - start)


def quality_figures(data_dir: Path) -> dict:
    """Task accuracy and quality AUC from the shipped cards (recomputed by the unit tests), hh pairwise re-measured."""
    task_card = json.loads(DEFAULT_TASK_MODEL.with_suffix(".card.json").read_text())
    quality_card = json.loads(DEFAULT_QUALITY_MODEL.with_suffix(".card.json").read_text())
    return {"task_accuracy_human": task_card["metrics"]["by_supervision"]["human"]["accuracy"],
            "task_macro_f1_human": task_card["metrics"]["by_supervision"]["human"]["macro_f1"],
            "task_accuracy_all": task_card["metrics"]["accuracy"],
            "quality_roc_auc": quality_card["metrics"]["roc_auc"],
            "hh_pairwise": hh_pairwise_accuracy(load_annotators(FASTTEXT_PARAMS).quality, data_dir)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    frame = benchmark_frame(args.data_dir, args.limit)
    result = {"rows": len(frame),
              "batch_function_rows_per_s": round(batch_function_rows_per_second(frame), 1),
              "plain_loop_rows_per_s": round(plain_loop_rows_per_second(frame), 1),
              **quality_figures(args.data_dir)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
