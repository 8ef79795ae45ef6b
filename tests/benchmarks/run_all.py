"""`make bench`: run every benchmark in turn and write their figures, with the exact commands, to docs/BENCHMARKS.md.

Each benchmark is its own script (run alone to reproduce one table). Figures depend on the machine and on what
else runs on it: the header records both, and every table compares against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable

BENCHES = [
    ("Ingest (issue: foundation)", ["tests/benchmarks/bench_ingest.py"]),
    ("Annotate and embed on Spark against plain loops", ["tests/benchmarks/bench_spark_stages.py",
                                                         "--embed-rows", "10000"]),
    # The bfloat16 backend on Spark against plain float32 encode at the same batch size (fast on AMX CPUs only).
    ("Embed on Spark with embed.backend torch-bf16 against plain float32 encode", [
        "tests/benchmarks/bench_spark_stages.py", "--stages", "embed", "--embed-rows", "10000", "--embed-backend",
        "torch-bf16", "--embed-batch-size", "32", "--out", ".bench/spark_stages_bf16.json"]),
    ("A fresh postmix embed: driver loading the model against fingerprinting it without a load", [
        "tests/benchmarks/bench_embed_driver.py"]),
    ("A Spark worker's first batch: postmix's encoder (the cached trace) against plain sentence-transformers", [
        "tests/benchmarks/bench_worker_start.py", "--rounds", "5"]),
    ("Annotation quality and batch throughput", ["tests/benchmarks/bench_annotate.py", "--limit", "20000"]),
    ("Quality scorers against held-out judgements (issue 12)", ["tests/benchmarks/bench_quality.py",
                                                                  "--out", ".bench/quality/results.json"]),
    ("Embedding path against SentenceTransformer.encode (engine-free)", ["tests/benchmarks/bench_embed.py",
                                                                          "--rows", "2000"]),
    ("Encoder backends: torch, torch-bf16, onnx, onnx-int8 against torch float32 (engine-free)", [
        "tests/benchmarks/bench_backends.py", "--rows", "2000"]),
    ("Semantic stage on 100K vectors", ["tests/benchmarks/bench_semantic.py", "--rows", "100000"]),
    ("Selection: lazy greedy against the MIG gradient sampler", [
        "tests/benchmarks/bench_select.py", "--sizes", "100000,300000,1000000", "--labels", "2000,3000,5000",
        "--budgets", "1000,5000,20000", "--gradient-cap-s", "150", "--repeats", "5"]),
    # First run ~10-20 min on 2 cores (embedding ~7K texts, then cached under .bench/curation/); re-runs ~1-2 min.
    ("Curation quality: every selection method against held-out ground truth (docs/CURATION.md)", [
        "tests/benchmarks/bench_curation.py", "--out", ".bench/curation/results.json"]),
    # Over an hour on 2 cores, most of it embedding ~163K samples (see the module doc for the GPU round trip).
    ("End to end over all of ../shared/data", ["tests/benchmarks/bench_e2e.py"]),
    # About 9 min on a 2-core AMX machine: every sample embedded in the run with the bfloat16 backend.
    ("End to end over all of ../shared/data, embeddings computed in the run (torch-bf16)", [
        "tests/benchmarks/bench_e2e.py", "--embed-backend", "torch-bf16", "--out", ".bench/e2e-bf16.json"]),
]


def header() -> str:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    load = os.getloadavg()
    return (f"# Benchmarks\n\nWritten by `make bench` (tests/benchmarks/run_all.py) on {dt.date.today()}, commit "
            f"{commit}; {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
            f"{platform.python_version()}. Each table compares postmix with a baseline measured in the same run on "
            f"the same machine. Re-run one section with its command (`--only WORD` re-runs the sections whose "
            f"command has WORD and keeps the others as they were); each section says when and at which load it "
            f"ran.\n")


def section_stamp() -> str:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return f"{dt.date.today()}, commit {commit}, load average at start {os.getloadavg()[0]:.1f}"


def existing_sections(path: Path) -> dict[str, str]:
    """The sections of an earlier BENCHMARKS.md by title, each with its heading, so `--only` can keep them."""
    if not path.exists():
        return {}
    parts = path.read_text(encoding="utf-8").split("\n## ")[1:]
    return {part.split("\n", 1)[0]: "\n## " + part.rstrip("\n") + "\n" for part in parts}


def run(title: str, args: list[str], only: set[str]) -> str:
    if only and not any(word in " ".join(args) for word in only):
        return ""
    command = [PY, *args]
    stamp = section_stamp()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    shown = " ".join([".venv/bin/python", *args])
    body = done.stdout.strip() if done.returncode == 0 else f"FAILED (exit {done.returncode}):\n\n```\n{done.stderr[-3000:]}\n```"
    print(f"{title}: {'ok' if done.returncode == 0 else 'FAILED'} in {seconds:.0f} s", file=sys.stderr)
    return f"\n## {title}\n\n`{shown}` ({seconds:.0f} s; {stamp})\n\n{body}\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "BENCHMARKS.md"))
    parser.add_argument("--only", default="", help="comma-separated words: run only benchmarks whose command has one")
    args = parser.parse_args(argv)
    only = {w for w in args.only.split(",") if w}
    kept = existing_sections(Path(args.out))
    sections = [run(title, bench, only) or kept.get(title, "") for title, bench in BENCHES]
    extra = [text for title, text in kept.items() if title not in {t for t, _ in BENCHES}]
    Path(args.out).write_text(header() + "".join(sections + extra), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
