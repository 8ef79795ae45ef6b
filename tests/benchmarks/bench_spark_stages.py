"""Spark stages against plain single-process loops over the same rows, in the same run.

    .venv/bin/python tests/benchmarks/bench_spark_stages.py [--warehouse .bench/wh-all] [--embed-rows 10000]

- annotate: `postmix annotate` (Spark local[2], mapInPandas, Delta merge) over every sample of the warehouse that
  bench_ingest.py wrote, against the same three fastText models called row by row in one Python loop.
- embed: `postmix embed` (Spark local[2], one torch thread per task) over `--embed-rows` samples (the smallest
  sample_ids of that warehouse, copied into a warehouse of their own), against one plain
  SentenceTransformer.encode call over the same recipe texts (which sorts by length itself); lowest cosine between
  the stored and the reference vector of each row. The stage encodes each distinct recipe text once (the AlpacaEval
  rows repeat 805 instructions), so a second plain encode over the distinct texts only is timed too: the ratio to it
  is the backend's and the stage's own speed, the ratio to the first includes what encoding each text once saves.
  The stage's time includes every worker's model load; its driver loads the model only when these weights never
  loaded on this machine (the output says which); the plain encode's timer starts after its model loaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import deltalake
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))


def samples_frame(warehouse: Path):
    return deltalake.DeltaTable(str(warehouse / "samples")).to_pandas(columns=["sample_id", "messages", "meta"])


def spark_stage(runner, config) -> tuple[dict, float]:
    from postmix.spark.session import build_session

    spark = build_session(config.spark)
    started = time.perf_counter()
    outcome = runner(spark, config, force=True)
    return outcome.counts, time.perf_counter() - started


def bench_annotate(warehouse: Path) -> dict:
    from bench_annotate import plain_loop_rows_per_second

    from postmix.config import load_config
    from postmix.spark.annotate import run_annotate

    shutil.rmtree(warehouse / "annotations", ignore_errors=True)
    counts, seconds = spark_stage(run_annotate, load_config(None, {"warehouse": str(warehouse)}))
    frame = samples_frame(warehouse)
    plain = plain_loop_rows_per_second(frame)
    return {"rows": counts["samples_pending"], "spark_s": seconds, "spark_rows_per_s": counts["samples_pending"] / seconds,
            "plain_loop_rows_per_s": plain, "ratio": counts["samples_pending"] / seconds / plain}


def embed_subset(source: Path, target: Path, rows: int) -> None:
    """A warehouse holding the `rows` smallest sample_ids of `source` (a fixed mix of every dataset)."""
    frame = samples_frame(source).sort_values("sample_id").head(rows)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with open(target / "subset.jsonl", "w", encoding="utf-8") as handle:
        for sid, messages in zip(frame["sample_id"], frame["messages"]):
            handle.write(json.dumps({"id": sid, "messages": [dict(m) for m in messages]}) + "\n")


def bench_embed(source: Path, rows: int, backend: str = "torch", batch_size: int = 64) -> dict:
    from postmix.config import load_config
    from postmix.embed.encoder import known_dimension, resolve_model_path, weights_digest
    from postmix.embed.text import user_turns_text
    from postmix.spark.embed import run_embed
    from postmix.spark.ingest import run_ingest
    from postmix.spark.session import build_session

    target = source.parent / "wh-embed"
    embed_subset(source, target, rows)
    config = load_config(None, {"warehouse": str(target / "wh"), "sources": [f"subset={target / 'subset.jsonl'}"],
                                "embed": {"backend": backend, "batch_size": batch_size}})
    run_ingest(build_session(config.spark), config)
    driver_loaded = known_dimension(weights_digest(resolve_model_path(config.embed.model))) is None
    counts, seconds = spark_stage(run_embed, config)
    # Imported after the stage, so that it is timed as a fresh `postmix embed` runs it (no torch in its driver yet).
    from bench_backends import jaccard, near_duplicate_pairs
    from bench_embed import measured_sgemm_gflops
    from sentence_transformers import SentenceTransformer
    stored = deltalake.DeltaTable(str(target / "wh" / "embeddings")).to_pandas(columns=["sample_id", "vector"])
    samples = samples_frame(target / "wh").set_index("sample_id")
    texts = [user_turns_text(samples.loc[sid, "messages"]) for sid in stored["sample_id"]]
    import torch

    torch.set_num_threads(2)
    model = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")
    started = time.perf_counter()
    reference = model.encode(texts, batch_size=batch_size, normalize_embeddings=True)  # the stage's batch size
    plain_s = time.perf_counter() - started
    distinct = list(dict.fromkeys(texts))
    started = time.perf_counter()
    model.encode(distinct, batch_size=batch_size, normalize_embeddings=True)
    plain_distinct_s = time.perf_counter() - started
    vectors = np.stack(stored["vector"].to_numpy()).astype(np.float32)
    cosines = np.sum(vectors * reference, axis=1)
    n = counts["samples_embedded"]
    gflop = useful_gflop(model, texts)
    threshold = config.semantic.dedup_threshold
    pairs = near_duplicate_pairs(reference, threshold)
    return {"backend": backend, "batch_size": batch_size, "driver_loaded_model": driver_loaded, "rows": n, "spark_s": seconds, "spark_rows_per_s": n / seconds, "plain_s": plain_s,
            "plain_rows_per_s": len(texts) / plain_s, "ratio": (n / seconds) / (len(texts) / plain_s),
            "texts_encoded": counts["texts_encoded"], "distinct_texts": len(distinct),
            "plain_distinct_s": plain_distinct_s, "ratio_distinct": plain_distinct_s / seconds,
            "min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean()),
            "p1_cosine": float(np.percentile(cosines, 1)), "near_dup_threshold": threshold,
            "near_dup_pairs_plain": len(pairs),
            "near_dup_jaccard": jaccard(near_duplicate_pairs(vectors, threshold), pairs), "useful_gflop": gflop, "spark_gflop_per_s": gflop / seconds,
            "plain_gflop_per_s": gflop / plain_s, "sgemm_peak_gflop_per_s": measured_sgemm_gflops(2)}


def useful_gflop(model, texts: list[str]) -> float:
    """Forward FLOPs of the encoder over these texts at their token counts (bench_embed.flops_per_text)."""
    from bench_embed import flops_per_text

    from postmix.embed.text import rust_tokenizer, truncate_to_tokens

    config = model[0].auto_model.config
    n_tokens = truncate_to_tokens(texts, rust_tokenizer(model.tokenizer), model.max_seq_length).n_tokens
    return sum(flops_per_text(n, config.num_hidden_layers, config.hidden_size, config.intermediate_size)
               for n in n_tokens) / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default=str(REPO / ".bench" / "wh-all"))
    parser.add_argument("--embed-rows", type=int, default=10_000)
    parser.add_argument("--stages", default="annotate,embed", help="comma-separated subset of annotate,embed")
    parser.add_argument("--embed-backend", default="torch", help="embed.backend of the Spark stage (docs/CONFIG.md)")
    parser.add_argument("--embed-batch-size", type=int, default=64,
                        help="embed.batch_size of the Spark stage, and the plain encode's batch_size")
    parser.add_argument("--out", default=str(REPO / ".bench" / "spark_stages.json"))
    args = parser.parse_args(argv)
    warehouse = Path(args.warehouse)
    if not (warehouse / "samples").is_dir():
        print(f"run bench_ingest.py first: no samples table in {warehouse}", file=sys.stderr)
        return 2
    stages = set(args.stages.split(","))
    result = {}
    if "annotate" in stages:
        result["annotate"] = bench_annotate(warehouse)
    if "embed" in stages:
        result["embed"] = bench_embed(warehouse, args.embed_rows, args.embed_backend,
                                      args.embed_batch_size)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print("| stage | rows | postmix on Spark (rows/s) | plain single-process loop (rows/s) | ratio |")
    print("|---|---:|---:|---:|---:|")
    if "annotate" in result:
        a = result["annotate"]
        print(f"| annotate (default models: fastText task + language, LightGBM quality ranker; the plain loop: three fastText models) | {a['rows']:,} | {a['spark_rows_per_s']:,.0f} | "
              f"{a['plain_loop_rows_per_s']:,.0f} | {a['ratio']:.2f}x |")
    if "embed" in result:
        e = result["embed"]
        print(f"| embed (all-MiniLM-L6-v2, user turns, backend {e['backend']}, batch {e['batch_size']}; plain: float32 torch "
              f"encode, same batch) | "
              f"{e['rows']:,} | {e['spark_rows_per_s']:,.1f} | {e['plain_rows_per_s']:,.1f} | {e['ratio']:.2f}x |")
        print(f"| embed, against a plain encode of the {e['distinct_texts']:,} distinct texts only (the stage encoded "
              f"{e['texts_encoded']:,}) | {e['rows']:,} | {e['spark_rows_per_s']:,.1f} | "
              f"{e['rows'] / e['plain_distinct_s']:,.1f} | {e['ratio_distinct']:.2f}x |")
        driver = ("loaded the model: these weights had not loaded on this machine before" if e["driver_loaded_model"]
                  else "fingerprinted the model without loading it: these weights had loaded on this machine before")
        print(f"\nembed: cosine between the stored vectors and plain float32 encode: mean {e['mean_cosine']:.6f}, "
              f"p1 {e['p1_cosine']:.6f}, lowest {e['min_cosine']:.6f}; near-duplicate pairs (cosine >= "
              f"{e['near_dup_threshold']}) agreeing with plain encode's {e['near_dup_pairs_plain']:,}: Jaccard "
              f"{e['near_dup_jaccard']:.4f}; "
              f"Spark stage {e['spark_s']:.1f} s (the driver {driver}), plain encode {e['plain_s']:.1f} s; useful work "
              f"{e['useful_gflop']:,.0f} GFLOP: Spark {e['spark_gflop_per_s']:.1f} GFLOP/s, plain "
              f"{e['plain_gflop_per_s']:.1f} GFLOP/s, against {e['sgemm_peak_gflop_per_s']:.1f} GFLOP/s measured "
              "for a float32 4096^3 matmul on 2 threads (bench_embed.measured_sgemm_gflops)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
