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
                                                         "--embed-rows", "3000"]),
    ("Annotation quality and batch throughput", ["tests/benchmarks/bench_annotate.py", "--limit", "20000"]),
    ("Embedding path against SentenceTransformer.encode (engine-free)", ["tests/benchmarks/bench_embed.py",
                                                                          "--rows", "2000"]),
    ("Semantic stage on 100K vectors", ["tests/benchmarks/bench_semantic.py", "--rows", "100000"]),
    ("Selection: lazy greedy against the MIG gradient sampler", [
        "tests/benchmarks/bench_select.py", "--sizes", "100000,300000,1000000", "--labels", "2000,3000,5000",
        "--budgets", "1000,5000,20000"]),
]


def header() -> str:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    load = os.getloadavg()
    return (f"# Benchmarks\n\nWritten by `make bench` (tests/benchmarks/run_all.py) on {dt.date.today()}, commit "
            f"{commit}; {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
            f"{platform.python_version()}; load average at start {load[0]:.1f}. Each table compares postmix with a "
            f"baseline measured in the same run on the same machine. Re-run one section with its command.\n")


def run(title: str, args: list[str], only: set[str]) -> str:
    if only and not any(word in " ".join(args) for word in only):
        return ""
    command = [PY, *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    shown = " ".join([".venv/bin/python", *args])
    body = done.stdout.strip() if done.returncode == 0 else f"FAILED (exit {done.returncode}):\n\n```\n{done.stderr[-3000:]}\n```"
    print(f"{title}: {'ok' if done.returncode == 0 else 'FAILED'} in {seconds:.0f} s", file=sys.stderr)
    return f"\n## {title}\n\n`{shown}` ({seconds:.0f} s)\n\n{body}\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "BENCHMARKS.md"))
    parser.add_argument("--only", default="", help="comma-separated words: run only benchmarks whose command has one")
    args = parser.parse_args(argv)
    only = {w for w in args.only.split(",") if w}
    sections = [run(title, bench, only) for title, bench in BENCHES]
    Path(args.out).write_text(header() + "".join(sections), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
