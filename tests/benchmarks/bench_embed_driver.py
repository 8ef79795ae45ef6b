"""A fresh `postmix embed` whose driver loads the model against one whose driver only fingerprints it, in one run.

    .venv/bin/python tests/benchmarks/bench_embed_driver.py [--warehouse .bench/wh-embed/wh] [--pairs 2]

The embed stage's driver loads the model only for weights it has no dimension note of (docs/SEMANTIC.md,
encoder_identity). Each pair runs `postmix embed --force` (torch-bf16) as a new process twice on the 10K-sample
warehouse that bench_spark_stages.py writes, its embeddings table removed before each run so every sample is
encoded: first with an empty cache folder (XDG_CACHE_HOME), so the driver loads the model and notes its dimension,
then with that folder, so it does not. Reported per run: the process's wall time
(JVM start included) and the stage's duration from its `runs` record (which starts after the driver has
fingerprinted the model, so the load shows in the wall time only); the ratio is of the median wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import deltalake

REPO = Path(__file__).resolve().parents[2]


def run_embed(warehouse: Path, cache: Path, config: Path) -> tuple[float, float]:
    shutil.rmtree(warehouse / "embeddings", ignore_errors=True)  # every run encodes all samples
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "postmix"), "embed", "--config", str(config), "--force"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    runs = deltalake.DeltaTable(str(warehouse / "runs")).to_pyarrow_table().to_pylist()
    latest = max((r for r in runs if r["stage"] == "embed"), key=lambda r: r["finished_at"])
    return wall, float(latest["duration_s"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=REPO / ".bench" / "wh-embed" / "wh")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / ".bench" / "embed_driver.json")
    args = parser.parse_args(argv)
    if not (args.warehouse / "samples").is_dir():
        print(f"no samples under {args.warehouse}: run tests/benchmarks/bench_spark_stages.py first", file=sys.stderr)
        return 2
    results = {"loads": [], "no_load": []}
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.json"  # JSON is YAML
        config.write_text(json.dumps({"warehouse": str(args.warehouse.resolve()),
                                      "embed": {"backend": "torch-bf16", "batch_size": 32}}), encoding="utf-8")
        for pair in range(args.pairs):
            cache = Path(scratch) / f"cache-{pair}"  # empty: this machine has loaded nothing
            results["loads"].append(run_embed(args.warehouse, cache, config))
            results["no_load"].append(run_embed(args.warehouse, cache, config))
    summary = {kind: {"wall_s": [round(w, 1) for w, _ in runs], "stage_s": [round(s, 1) for _, s in runs]}
               for kind, runs in results.items()}
    median = {kind: statistics.median(w for w, _ in runs) for kind, runs in results.items()}
    summary["wall_ratio_loads_over_no_load"] = round(median["loads"] / median["no_load"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print("| driver | process wall (s) | embed stage (s, runs record) |")
    print("|---|---|---|")
    for kind, label in (("loads", "loads the model (no dimension note)"),
                        ("no_load", "fingerprints without loading (note present)")):
        print(f"| {label} | {', '.join(map(str, summary[kind]['wall_s']))} | "
              f"{', '.join(map(str, summary[kind]['stage_s']))} |")
    print(f"\nmedian process wall time, loading / not loading: {summary['wall_ratio_loads_over_no_load']:.3f}x "
          f"({args.pairs} pairs, each a loading run then a non-loading one, same warehouse: {args.warehouse}; "
          "torch-bf16, batch 32, --force)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
