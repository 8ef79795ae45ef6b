"""Embedding throughput: postmix's embed path against a plain SentenceTransformer.encode, same texts, same run.

    PYTHONPATH=lib .venv/bin/python tests/benchmarks/bench_embed.py --rows 10000 [--threads N] [--save-vectors f.npy]

Real samples are read from ../shared/data (every dataset in turn, first rows first, so the mix is fixed). The
reference encodes the recipe texts in one call (it sorts the whole list by length itself); the production path is
embed_frame over batches of `--frame-rows` rows, recipe and truncation included. Reported: rows/s of both, the ratio,
the lowest cosine between the two vectors of each row, and the achieved GFLOP/s against the CPU's peak.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from postmix.embed.encoder import embed_frame, get_encoder, load_sentence_transformer  # noqa: E402
from postmix.embed.params import EmbedParams  # noqa: E402
from postmix.embed.text import recipe_function, truncate_to_tokens  # noqa: E402

SHARED_DATA = Path(os.environ.get("POSTMIX_SHARED_DATA", REPO.parent / "shared" / "data"))


def read_samples(rows: int) -> pd.DataFrame:
    """The first rows of every shared dataset, taken in turn until `rows` samples (deterministic)."""
    files = sorted(SHARED_DATA.glob("*/*.jsonl.gz"))
    if not files:
        raise SystemExit(f"no datasets under {SHARED_DATA}")
    per_file = -(-rows // len(files))
    records = []
    for file in files:
        with gzip.open(file, "rt", encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in islice(handle, per_file))
    ordered = [records[i] for i in np.random.default_rng(0).permutation(len(records))[:rows]]
    return pd.DataFrame({"sample_id": [r["id"] for r in ordered], "messages": [r["messages"] for r in ordered]})


def flops_per_text(n_tokens: int, layers: int, hidden: int, intermediate: int) -> float:
    """Useful forward FLOPs of a BERT encoder on one text: dense projections plus attention scores and mixing."""
    dense = 2 * (4 * hidden * hidden + 2 * hidden * intermediate) * n_tokens
    attention = 2 * 2 * n_tokens * n_tokens * hidden
    return float(layers * (dense + attention))


def measured_sgemm_gflops(threads: int) -> float:
    """Best of 5 float32 4096^3 matmuls through torch (the same BLAS the encoder uses), at `threads` threads."""
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(4096, 4096)
    a @ a
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        best = max(best, 2 * 4096**3 / (time.perf_counter() - start) / 1e9)
    return best


def fp32_flops_per_cycle() -> float:
    """Two FMA pipes of the widest vectors the CPU has: 16 float32 lanes (AVX-512) or 8 (AVX2), 2 FLOP per FMA."""
    with open("/proc/cpuinfo") as handle:
        flags = next((line.split(":")[1].split() for line in handle if line.startswith("flags")), [])
    return 64.0 if "avx512f" in flags else 32.0 if "fma" in flags else 16.0


def cpu_mhz() -> float:
    with open("/proc/cpuinfo") as handle:
        values = [float(line.split(":")[1]) for line in handle if line.startswith("cpu MHz")]
    return max(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--frame-rows", type=int, default=10_000, help="rows per embed_frame call (Arrow batch)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--flops-per-cycle", type=float, default=None,
                        help="fp32 FLOP/cycle/core (default from /proc/cpuinfo's flags: 64 with AVX-512, 32 with "
                             "AVX2 FMA, both assuming two FMA pipes)")
    parser.add_argument("--save-vectors", type=Path, help="write the production vectors (.npy) for bench_semantic")
    args = parser.parse_args()

    params = EmbedParams(batch_size=args.batch_size, torch_threads=args.threads, sort_window=args.frame_rows)
    samples = read_samples(args.rows)
    encoder = get_encoder(params)
    reference_model = load_sentence_transformer(params)  # plain SentenceTransformer.encode, the baseline
    texts = [recipe_function(params.recipe)(m) for m in samples["messages"]]
    keep = np.array([bool(t.strip()) for t in texts])
    texts = [t for t, k in zip(texts, keep) if k]
    embed_frame(samples.head(64), params)  # warm-up: first-call allocations, thread pool start
    reference_model.encode(texts[:64], batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False)

    start = time.perf_counter()
    reference = reference_model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
    reference_s = time.perf_counter() - start

    start = time.perf_counter()
    frames = [embed_frame(samples.iloc[i : i + args.frame_rows], params) for i in range(0, len(samples), args.frame_rows)]
    production_s = time.perf_counter() - start
    produced = pd.concat(frames, ignore_index=True)
    vectors = np.stack(produced.loc[keep, "vector"].to_list())
    cosines = np.sum(vectors * reference, axis=1)

    config = reference_model[0].auto_model.config
    n_tokens = truncate_to_tokens(texts, encoder.tokenizer, encoder.max_seq_length).n_tokens
    flops = sum(flops_per_text(n, config.num_hidden_layers, config.hidden_size, config.intermediate_size)
                for n in n_tokens)
    peak_theory = args.threads * cpu_mhz() / 1e3 * (args.flops_per_cycle or fp32_flops_per_cycle())
    peak_sgemm = measured_sgemm_gflops(args.threads)
    result = {
        "rows": len(samples), "embedded_rows": int(keep.sum()), "threads": args.threads,
        "batch_size": args.batch_size, "frame_rows": args.frame_rows,
        "reference_rows_per_s": round(len(texts) / reference_s, 1),
        "production_rows_per_s": round(len(samples) / production_s, 1),
        "ratio_production_over_reference": round(reference_s / production_s * len(samples) / len(texts), 3),
        "min_cosine_vs_reference": float(cosines.min()),
        "tokens": int(sum(n_tokens)), "truncated_rows": int(produced["truncated"].sum()),
        "useful_gflop": round(flops / 1e9, 1),
        "production_gflop_per_s": round(flops / production_s / 1e9, 1),
        "reference_gflop_per_s": round(flops / reference_s / 1e9, 1),
        "peak_gflop_per_s_theoretical": round(peak_theory, 1),
        "peak_gflop_per_s_sgemm_measured": round(peak_sgemm, 1),
    }
    print(json.dumps(result, indent=2))
    if args.save_vectors:
        np.save(args.save_vectors, vectors)


if __name__ == "__main__":
    main()
