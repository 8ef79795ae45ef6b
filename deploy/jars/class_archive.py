"""Build the driver JVM's class-data-sharing archive (a set-up step of `make env`, like pom.xml beside it).

A local run starts a fresh driver JVM, which spends seconds loading and verifying the same few thousand classes
(Spark SQL, Delta's log and MERGE, Parquet) before its first table is written. This script runs the demo pipeline
once, small, in a child process whose JVM has -XX:ArchiveClassesAtExit (JDK 13+, JEP 350); the sessions postmix
launches map the archive with -XX:SharedArchiveFile (postmix.spark.session.with_sharing). The JVM checks that the
archive fits its own build and class path and, when it does not (another JDK, upgraded jars), ignores it and loads
classes the usual way: the archive only ever changes start-up time, and a JVM that cannot write one (before JDK
13, or not HotSpot) gets none: one line says so and set-up goes on. Measured in docs/BENCHMARKS.md (ingest).

    .venv/bin/python deploy/jars/class_archive.py .jvm/postmix-classes.jsa
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from postmix.config import load_config
from postmix.demo.generate import write_demo_sources
from postmix.pipeline import run_pipeline
from postmix.spark.session import DRIVER_JAVA, QUIET_SHARING, build_session

TRAINING_SCALE = 0.1  # the demo data at its smallest: every stage's classes load, in about a minute


def java_command() -> str:
    """The java that Spark's launcher starts: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


def jvm_can_archive(scratch: str) -> bool:
    """Whether this JVM writes dynamic class archives (it refuses to start with an option it does not know)."""
    probe = [java_command(), f"-XX:ArchiveClassesAtExit={Path(scratch) / 'probe.jsa'}", QUIET_SHARING, "-version"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def build_archive(out: Path) -> bool:
    """Run the demo pipeline in a child process whose driver JVM dumps its loaded classes into `out` on exit.

    The archive is written beside `out` and renamed into place, so an interrupted build leaves no partial archive.
    Returns False, writing nothing, where the JVM cannot write archives.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="postmix-class-archive-") as scratch:
        if not jvm_can_archive(scratch):
            return False
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
        subprocess.run([sys.executable, __file__, "--train", str(partial), scratch], check=True, env=env)
    if not partial.is_file():
        raise RuntimeError(f"the driver JVM wrote no class archive to {partial}")
    os.replace(partial, out)
    return True


def train(dump_to: str, scratch: str) -> None:
    """The workload whose classes the archive keeps: the whole pipeline on the demo data, in a throwaway warehouse."""
    sources = write_demo_sources(Path(scratch) / "sources", scale=TRAINING_SCALE)
    java = f"-XX:ArchiveClassesAtExit={dump_to} {QUIET_SHARING}"
    config = load_config(None, {"warehouse": str(Path(scratch) / "warehouse"), "select": {"budget": 50},
                                "spark": {"conf": {DRIVER_JAVA: java}}})
    config = replace(config, sources=tuple(sources))
    spark = build_session(config.spark)
    run_pipeline(spark, config)
    spark.stop()
    stop_driver_jvm()


def stop_driver_jvm() -> None:
    """End the driver JVM and wait for it: it writes the archive while it exits, after this process would have."""
    from pyspark import SparkContext

    jvm_process = SparkContext._gateway.proc
    SparkContext._gateway.shutdown()
    jvm_process.stdin.close()  # the gateway server exits when its parent's pipe closes
    jvm_process.wait(timeout=600)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "--train":
        train(args[1], args[2])
        return 0
    if len(args) != 1:
        print(f"usage: {sys.argv[0]} OUT.jsa", file=sys.stderr)
        return 2
    if build_archive(Path(args[0])):
        print(f"class archive: {args[0]}")
    else:
        print(f"no class archive: {java_command()} cannot write one (JDK 13+ HotSpot can); sessions start without")
    return 0


if __name__ == "__main__":
    sys.exit(main())
