"""End to end over all of ../shared/data: wall time and peak memory of every stage of `postmix run`, local mode.

    .venv/bin/python tests/benchmarks/bench_e2e.py [--data-dir ../shared/data] [--warehouse .bench/wh-e2e]
        [--budget 10000] [--embed-backend torch-bf16] [--conf KEY=VALUE] [--device-vectors DIR --device-texts FILE]

One `postmix run` subprocess (Spark local[2], real Delta) over every dataset of the shared folder into a fresh
warehouse; the figures per stage come from the `runs` table the run writes (duration_s, and peak_rss_mb: the
driver's Python process plus its children, the Spark JVM and its Python workers, sampled every 0.2 s).

Without --device-vectors the run embeds every sample itself, with --embed-backend (default: the config's default,
torch; torch-bf16 on a CPU with bfloat16 matrix units). With --device-vectors (the vectors that
tests/benchmarks/device_embed.py brought back from a GPU machine), `postmix ingest` runs first, the vectors are
stored as the embed stage stores them, and the embed stage of the timed run then finds every sample current: its
row reports that skip, and the table states so. The embed stage's own throughput on this machine is measured by
bench_spark_stages.py; the stage total it implies is printed beside.

With POSTMIX_SAVE_POOL=1 the select stage also writes the real selection pool (<warehouse>/_artifacts/<run>/pool.npz)
for `bench_select.py --pool-npz`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import deltalake

REPO = Path(__file__).resolve().parents[2]
POSTMIX = str(Path(sys.executable).parent / "postmix")


def shared_sources(data_dir: Path) -> list[dict]:
    files = sorted(data_dir.glob("*/*.jsonl.gz"))
    if not files:
        raise SystemExit(f"no datasets under {data_dir}")
    return [{"name": p.parent.name, "path": str(p.resolve())} for p in files]


def write_config(path: Path, warehouse: Path, sources: list[dict], budget: int, embed_backend: str | None,
                 spark_conf: list[str]) -> None:
    config = {"warehouse": str(warehouse.resolve()), "sources": sources, "select": {"budget": budget}}
    if embed_backend:
        config["embed"] = {"backend": embed_backend}
    if spark_conf:
        config["spark"] = {"conf": dict(item.split("=", 1) for item in spark_conf)}
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML


def run_postmix(args: list[str], log: Path) -> float:
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    started = time.perf_counter()
    with open(log, "ab") as out:
        code = subprocess.call([POSTMIX, *args], stdout=out, stderr=subprocess.STDOUT, env=env)
    if code != 0:
        raise SystemExit(f"postmix {' '.join(args)} exited {code}; see {log}")
    return time.perf_counter() - started


def stage_rows(warehouse: Path) -> list[dict]:
    rows = runs_rows(warehouse / "runs")
    return sorted((r for r in rows if r["status"] == "succeeded"), key=lambda r: r["started_at"])


def runs_rows(path: Path) -> list[dict]:
    """The runs table's rows, read from its active Parquet files: a deltalake scan here aborts the process at exit
    now and then, after every figure was printed ("terminate called without an active exception", the shutdown
    race of delta-io/delta-rs#2184). Reader version 1 has no deletion vectors, so the active files are the rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = deltalake.DeltaTable(str(path))
    if table.protocol().min_reader_version > 1:
        return table.to_pyarrow_table().to_pylist()
    return pa.concat_tables([pq.read_table(uri) for uri in table.file_uris()]).to_pylist()


def seed_device_vectors(warehouse: Path, vectors: Path, texts: Path, log: Path) -> float:
    started = time.perf_counter()
    with open(log, "ab") as out:
        code = subprocess.call([sys.executable, str(REPO / "tests" / "benchmarks" / "device_embed.py"), "seed",
                                "--warehouse", str(warehouse), "--vectors", str(vectors), "--texts", str(texts)],
                               stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"device_embed.py seed exited {code}; see {log}")
    return time.perf_counter() - started


def markdown(rows: list[dict], total_s: float, seeded_s: float | None, embed_rate: float | None) -> str:
    lines = ["| stage | wall (s) | peak RSS driver + JVM (MiB) | counts |", "|---|---:|---:|---|"]
    for row in rows:
        counts = ", ".join(f"{k}={v:,}" for k, v in sorted(dict(row["counts"] or []).items()))
        lines.append(f"| {row['stage']} | {row['duration_s']:,.1f} | {row['peak_rss_mb'] or 0:,.0f} | {counts} |")
    lines.append(f"\n`postmix run` wall time, JVM start included: {total_s:,.1f} s")
    if seeded_s is not None:
        embedded = next((dict(r["counts"]).get("samples_total") for r in rows if r["stage"] == "embed"), None)
        lines.append(f"\nEmbeddings were computed on a GPU machine (tests/benchmarks/device_embed.py) and stored in "
                     f"{seeded_s:,.1f} s before the run, so the embed row above is the skip of current vectors.")
        if embed_rate and embedded:
            lines.append(f"On this machine the embed stage runs at {embed_rate:,.1f} rows/s "
                         f"(bench_spark_stages.py): {embedded:,} samples would take about "
                         f"{embedded / embed_rate / 60:,.0f} min.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--warehouse", type=Path, default=REPO / ".bench" / "wh-e2e")
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--embed-backend", default=None, help="embed.backend of the run (docs/CONFIG.md)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a Spark setting for the run (spark.conf in the config; repeatable)")
    parser.add_argument("--device-vectors", type=Path, default=None)
    parser.add_argument("--device-texts", type=Path, default=None)
    parser.add_argument("--embed-rows-per-s", type=float, default=None,
                        help="the embed stage's measured rate here (bench_spark_stages.py), to state its full time")
    parser.add_argument("--out", type=Path, default=REPO / ".bench" / "e2e.json")
    args = parser.parse_args(argv)
    shutil.rmtree(args.warehouse, ignore_errors=True)
    args.warehouse.mkdir(parents=True)
    config = args.warehouse.parent / f"{args.warehouse.name}.json"
    write_config(config, args.warehouse, shared_sources(args.data_dir), args.budget, args.embed_backend, args.conf)
    log = args.warehouse.parent / f"{args.warehouse.name}.log"
    log.unlink(missing_ok=True)
    seeded_s = None
    if args.device_vectors:
        run_postmix(["ingest", "--config", str(config)], log)
        seeded_s = seed_device_vectors(args.warehouse, args.device_vectors, args.device_texts, log)
    total_s = run_postmix(["run", "--config", str(config)], log)
    rows = stage_rows(args.warehouse)
    args.out.write_text(json.dumps({"total_s": total_s, "seeded_s": seeded_s, "stages": rows}, indent=2, default=str))
    print(markdown(rows, total_s, seeded_s, args.embed_rows_per_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
