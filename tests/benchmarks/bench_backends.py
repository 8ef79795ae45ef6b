"""Encoder backends (embed.backend) against plain torch SentenceTransformer.encode: speed and agreement, engine-free.

    PYTHONPATH=lib .venv/bin/python tests/benchmarks/bench_backends.py --rows 2000 [--threads 1]

The texts are the embed recipe's texts of real samples from ../shared/data (bench_embed's deterministic mix). Each
backend runs postmix's own path (embed_frame: recipe, truncation, length-sorted batches) at `--threads` threads, one
Spark task core by default; the reference is a plain SentenceTransformer.encode in float32 torch, timed in the same
run. Reported per backend: rows/s, the ratio to the reference's rows/s, mean/p1/min cosine of each row's vector to
the reference's, and near-duplicate agreement: the Jaccard index of the sets of pairs whose cosine is at least the
semantic stage's default dedup threshold, against the same pairs from the reference vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_embed import read_samples  # noqa: E402
from postmix.embed.encoder import embed_frame, get_encoder, load_sentence_transformer  # noqa: E402
from postmix.embed.params import BACKENDS, EmbedParams  # noqa: E402
from postmix.embed.text import recipe_function  # noqa: E402
from postmix.semantic.params import SemanticParams  # noqa: E402


def near_duplicate_pairs(vectors: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Index pairs i < j whose cosine is >= threshold (vectors are unit length)."""
    upper = np.triu(vectors @ vectors.T >= threshold, k=1)
    return set(zip(*np.nonzero(upper)))


def jaccard(a: set, b: set) -> float:
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def time_reference(model, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    model.encode(texts[:batch_size], batch_size=batch_size, show_progress_bar=False)  # warm-up
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return vectors, time.perf_counter() - start


def run_backend(params: EmbedParams, samples, keep: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(vectors of rows with text, seconds of the timed pass, seconds to load/export before it)."""
    start = time.perf_counter()
    get_encoder(params)
    embed_frame(samples.head(params.batch_size), params)  # warm-up: session/thread-pool start
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    out = embed_frame(samples, params)
    seconds = time.perf_counter() - start
    return np.stack(out.loc[keep, "vector"].to_list()), seconds, load_s


def agreement(vectors: np.ndarray, reference: np.ndarray, reference_pairs: set, threshold: float) -> dict:
    cosine = np.sum(vectors * reference, axis=1)
    pairs = near_duplicate_pairs(vectors, threshold)
    return {"cosine_mean": round(float(cosine.mean()), 5), "cosine_p1": round(float(np.percentile(cosine, 1)), 5),
            "cosine_min": round(float(cosine.min()), 5), "near_dup_pairs": len(pairs),
            "near_dup_jaccard": round(jaccard(pairs, reference_pairs), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime threads (one Spark task core)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    base = EmbedParams(batch_size=args.batch_size, torch_threads=args.threads, sort_window=args.rows)
    threshold = SemanticParams().dedup_threshold
    samples = read_samples(args.rows)
    texts = [recipe_function(base.recipe)(m) for m in samples["messages"]]
    keep = np.array([bool(t.strip()) for t in texts])
    texts = [t for t, k in zip(texts, keep) if k]

    import torch

    torch.set_num_threads(args.threads)
    reference, reference_s = time_reference(load_sentence_transformer(base), texts, args.batch_size)
    reference_pairs = near_duplicate_pairs(reference, threshold)
    result = {"rows": len(samples), "embedded_rows": len(texts), "threads": args.threads,
              "batch_size": args.batch_size, "dedup_threshold": threshold,
              "reference": {"rows_per_s": round(len(texts) / reference_s, 1), "near_dup_pairs": len(reference_pairs)},
              "backends": {}}
    for backend in BACKENDS:
        params = replace(base, backend=backend)
        vectors, seconds, load_s = run_backend(params, samples, keep)
        result["backends"][backend] = {
            "rows_per_s": round(len(samples) / seconds, 1),
            "ratio_to_reference": round(reference_s / seconds * len(samples) / len(texts), 3),
            "load_and_warm_s": round(load_s, 1), **agreement(vectors, reference, reference_pairs, threshold),
            "fingerprint": get_encoder(params).fingerprint}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
