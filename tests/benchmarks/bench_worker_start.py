"""A Spark worker's first batch in a fresh process: postmix's encoder against plain sentence-transformers, in one run.

    .venv/bin/python tests/benchmarks/bench_worker_start.py [--rounds 3] [--out .bench/worker_start.json]

Each reading is a new Python process with one torch thread (a Spark task with spark.task.cpus=1) that imports what
it needs, loads all-MiniLM-L6-v2 and encodes one batch of 32 texts. postmix's side is what an embed worker runs
(`get_encoder` then `encode_texts`): on CPU the model's cached TorchScript trace, fed by its Rust tokenizer,
without importing sentence-transformers or transformers (docs/SEMANTIC.md section 2). The baseline is what a worker
ran before the trace, and what a plain script runs: import sentence-transformers, load the model, `encode`. The two
alternate, `--rounds` times for each backend (torch and torch-bf16); the trace is built first, once per machine,
and not timed. Reported per kind: the median and range of the seconds from the process's first line to its
vectors, split into import + load and the first batch, and whether sentence-transformers was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("torch", "torch-bf16")
BATCH = [f"Question {i}: how would you explain step {i} of a recipe to a beginner, briefly?" for i in range(32)]

POSTMIX_WORKER = """
import time
started = time.perf_counter()
import json, sys
from postmix.embed.encoder import encode_texts, get_encoder
from postmix.embed.params import EmbedParams
params = EmbedParams(backend=sys.argv[1], torch_threads=1, batch_size=32)
get_encoder(params)
loaded = time.perf_counter()
encode_texts(json.loads(sys.argv[2]), params)
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "batch_s": done - loaded,
                  "st_imported": "sentence_transformers" in sys.modules}))
"""

PLAIN_SENTENCE_TRANSFORMERS = """
import time
started = time.perf_counter()
import json, sys
import torch
torch.set_num_threads(1)
from sentence_transformers import SentenceTransformer
from postmix.embed.encoder import resolve_model_path
dtype = {"torch_dtype": torch.bfloat16} if sys.argv[1] == "torch-bf16" else {}
model = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu", local_files_only=True,
                            model_kwargs=dtype).eval()
loaded = time.perf_counter()
model.encode(json.loads(sys.argv[2]), batch_size=32, normalize_embeddings=True)
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "batch_s": done - loaded,
                  "st_imported": "sentence_transformers" in sys.modules}))
"""

KINDS = {"postmix worker (trace)": POSTMIX_WORKER, "plain sentence-transformers": PLAIN_SENTENCE_TRANSFORMERS}


def reading(code: str, backend: str) -> dict:
    env_python = str(REPO / ".venv" / "bin" / "python")
    done = subprocess.run([env_python, "-c", code, backend, json.dumps(BATCH)], capture_output=True, text=True,
                          check=True, env=_env())
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO / "lib"), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1"}


def build_traces() -> None:
    """The trace of each backend, built (once per machine) before anything is timed."""
    for backend in BACKENDS:
        reading(POSTMIX_WORKER, backend)


def summary(readings: list[dict]) -> dict:
    totals = [r["load_s"] + r["batch_s"] for r in readings]
    return {"median_s": statistics.median(totals), "min_s": min(totals), "max_s": max(totals),
            "median_load_s": statistics.median(r["load_s"] for r in readings),
            "median_batch_s": statistics.median(r["batch_s"] for r in readings),
            "st_imported": any(r["st_imported"] for r in readings), "readings": len(readings)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / ".bench" / "worker_start.json"))
    args = parser.parse_args(argv)
    build_traces()
    results = {}
    for backend in BACKENDS:
        readings = {kind: [] for kind in KINDS}
        for _ in range(args.rounds):
            for kind, code in KINDS.items():  # alternating, so a slow minute of the machine hits both
                readings[kind].append(reading(code, backend))
        results[backend] = {kind: summary(found) for kind, found in readings.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    print_table(results, args.rounds)
    return 0


def print_table(results: dict, rounds: int) -> None:
    print(f"Fresh process, one torch thread, import + model load + one batch of {len(BATCH)} texts; {rounds} "
          f"alternating readings per kind (median, range).\n")
    print("| backend | kind | seconds (median) | range | import + load | first batch | imports sentence-transformers |")
    print("|---|---|---:|---:|---:|---:|---|")
    for backend, kinds in results.items():
        for kind, s in kinds.items():
            print(f"| {backend} | {kind} | {s['median_s']:.2f} | {s['min_s']:.2f}-{s['max_s']:.2f} | "
                  f"{s['median_load_s']:.2f} | {s['median_batch_s']:.2f} | {'yes' if s['st_imported'] else 'no'} |")
    for backend, kinds in results.items():
        ours, plain = kinds["postmix worker (trace)"], kinds["plain sentence-transformers"]
        print(f"\n{backend}: postmix worker {ours['median_s']:.2f} s against {plain['median_s']:.2f} s, "
              f"{plain['median_s'] / ours['median_s']:.2f}x faster to its first vectors", end="")
    print()


if __name__ == "__main__":
    sys.exit(main())
