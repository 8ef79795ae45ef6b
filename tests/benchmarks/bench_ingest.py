"""Ingest throughput: `postmix ingest` (Spark local mode, real Delta) over all of ../shared/data against a plain
pyarrow script that reads the same files and writes one Parquet file, in the same run.

    .venv/bin/python tests/benchmarks/bench_ingest.py [--data-dir ../shared/data] [--out .bench/ingest.json]

The baseline does the least a script must do: decompress, parse each JSON line, keep messages and meta, write
Parquet. It validates nothing, rejects nothing and deduplicates nothing; postmix does all three and writes Delta.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]


def shared_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("*/*.jsonl.gz"))


def baseline(files: list[Path], out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    rows = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                rows.append({"id": str(record.get("id")), "source": path.parent.name,
                             "messages": record["messages"], "meta": json.dumps(record.get("meta", {}))})
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, out)
    return len(rows), time.perf_counter() - started


def postmix_ingest(files: list[Path], warehouse: Path) -> tuple[dict, float, float]:
    from postmix.config import load_config
    from postmix.runinfo import PeakRss
    from postmix.spark.ingest import run_ingest
    from postmix.spark.session import build_session

    config = load_config(None, {"sources": [f"{p.parent.name}={p}" for p in files], "warehouse": str(warehouse)})
    started = time.perf_counter()
    spark = build_session(config.spark)
    session_s = time.perf_counter() - started
    started = time.perf_counter()
    with PeakRss() as memory:
        outcome = run_ingest(spark, config)
    return {**outcome.counts, "peak_rss_mb": round(memory.peak_mb)}, time.perf_counter() - started, session_s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(REPO / ".bench" / "ingest.json"))
    parser.add_argument("--warehouse", default=str(REPO / ".bench" / "wh-all"),
                        help="kept after the run: bench_spark_stages.py annotates it")
    args = parser.parse_args(argv)
    files = shared_files(Path(args.data_dir))
    if not files:
        print(f"no shared data under {args.data_dir}", file=sys.stderr)
        return 2
    import shutil

    shutil.rmtree(args.warehouse, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        n_base, base_s = baseline(files, Path(tmp) / "baseline.parquet")
    counts, ingest_s, session_s = postmix_ingest(files, Path(args.warehouse))
    result = {"files": len(files), "baseline_rows": n_base, "baseline_s": base_s,
              "baseline_rows_per_s": n_base / base_s, "postmix_rows": counts["rows_read"], "postmix_s": ingest_s,
              "postmix_rows_per_s": counts["rows_read"] / ingest_s, "spark_session_s": session_s,
              "ratio_postmix_over_baseline": (counts["rows_read"] / ingest_s) / (n_base / base_s), "counts": counts}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=float))
    print("| what | rows | seconds | rows/s |\n|---|---:|---:|---:|")
    print(f"| plain pyarrow script (gzip JSONL -> one Parquet) | {n_base:,} | {base_s:.1f} | {n_base / base_s:,.0f} |")
    print(f"| postmix ingest (Spark local[2] -> Delta samples + rejects, dedup, validation) | "
          f"{counts['rows_read']:,} | {ingest_s:.1f} | {counts['rows_read'] / ingest_s:,.0f} |")
    print(f"\nratio postmix / baseline: {result['ratio_postmix_over_baseline']:.2f}x; Spark session start "
          f"{session_s:.1f} s (not included); accepted {counts['rows_accepted']:,}, duplicates "
          f"{counts['rows_duplicate']:,}, rejected {counts['rows_rejected']:,}; driver+JVM peak RSS "
          f"{counts['peak_rss_mb']:,} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
