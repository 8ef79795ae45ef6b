"""The one place a SparkSession is built: local mode by default, Delta always configured.

Delta's jars are resolved from Maven Central at set-up time (`make env`, deploy/jars/pom.xml) into a local folder and
added with spark.jars, so a run never downloads anything. On a cluster the user may instead pass --jars or
--packages to spark-submit; then the session that spark-submit configured is used as it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from postmix.errors import ConfigError
from postmix.spark.params import SparkParams

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
ARROW_BATCH_ROWS = "spark.sql.execution.arrow.maxRecordsPerBatch"
REPO_ROOT = Path(__file__).resolve().parents[3]

# Settings that make a laptop run fast and outputs reproducible; any of them can be overridden by params.conf.
LOCAL_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    ARROW_BATCH_ROWS: "2048",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.databricks.delta.retentionDurationCheck.enabled": "true",
    "spark.python.worker.reuse": "true",
}


def delta_jars(params: SparkParams) -> list[str]:
    """The delta jar files to put on spark.jars; empty when the user supplies Delta some other way."""
    folder = params.jars_dir or os.environ.get("POSTMIX_JARS_DIR") or str(REPO_ROOT / ".jars")
    path = Path(folder)
    return sorted(str(p) for p in path.glob("*.jar")) if path.is_dir() else []


def session_conf(params: SparkParams, launcher_supplies_delta: bool = False) -> dict[str, str]:
    """Every setting the builder applies, in one dict (tested without a JVM).

    `launcher_supplies_delta`: spark-submit was given --jars/--packages already (then no local jar folder is needed).
    """
    conf = dict(LOCAL_DEFAULTS)
    conf["spark.sql.shuffle.partitions"] = str(params.shuffle_partitions)
    conf["spark.driver.memory"] = params.driver_memory
    conf["spark.sql.extensions"] = DELTA_EXTENSION
    conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    conf.update({str(k): str(v) for k, v in params.conf.items()})
    user_supplies_delta = "spark.jars.packages" in conf or "spark.jars" in conf or launcher_supplies_delta
    if not user_supplies_delta:
        jars = delta_jars(params)
        if not jars:
            raise ConfigError(
                "Delta Lake jars not found: run `make env` (resolves them into .jars/), set POSTMIX_JARS_DIR, "
                "or pass spark.jars / spark.jars.packages in the spark conf"
            )
        conf["spark.jars"] = ",".join(jars)
    return conf


def ensure_python_for_workers() -> None:
    """Python workers must use this interpreter (the venv), or they miss the project's packages."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def build_session(params: SparkParams):
    """Create (or join) the SparkSession for a postmix job."""
    from pyspark.sql import SparkSession

    ensure_python_for_workers()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(params.app_name)
    master = params.master or (None if os.environ.get("SPARK_SUBMIT_OPTS") or _launched_by_spark_submit() else "local[2]")
    if master:
        builder = builder.master(master)
    for key, value in session_conf(params, _launcher_jars()).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or refused a setting: one line, not a py4j trace
        raise ConfigError(session_failure(exc, params)) from None
    spark.sparkContext.setLogLevel(params.log_level)
    _quiet_retried_conflicts(spark)
    return spark


# Delta logs a concurrent-commit conflict inside MERGE at ERROR with its whole Java stack, although the exception
# also reaches postmix, which retries the idempotent write (storage.delta) or reports it in one line.
QUIET_LOGGERS = ("org.apache.spark.sql.delta.commands.MergeIntoCommand",)


def _quiet_retried_conflicts(spark) -> None:
    try:
        jvm = spark.sparkContext._jvm
        level = jvm.org.apache.logging.log4j.Level.FATAL
        for name in QUIET_LOGGERS:
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)
    except Exception:  # no JVM of ours (Spark Connect) or another logging backend: keep Spark's logging
        pass


def session_failure(exc: Exception, params: SparkParams) -> str:
    """Why the session could not start, in one line naming the settings that can cause it."""
    text = str(exc).strip()
    java_keys = sorted(k for k in params.conf if "java" in k.lower() or "memory" in k.lower())
    if "JAVA_GATEWAY_EXITED" in text:
        suspects = f"the spark.conf settings {', '.join(java_keys)}" if java_keys else "JAVA_HOME and spark.conf"
        return (f"the Spark driver JVM exited before it started (JAVA_GATEWAY_EXITED): check {suspects} "
                "(the JVM's own complaint is printed above)")
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return f"Spark session could not start (master {params.master or 'local[2]'}): {first[:300]}"


def _launcher_jars() -> bool:
    """Whether spark-submit already put jars or packages on the session (its --jars / --packages)."""
    if not _launched_by_spark_submit():
        return False
    from pyspark import SparkConf

    conf = SparkConf()
    return any(conf.get(key, "") for key in ("spark.jars", "spark.jars.packages"))


def _launched_by_spark_submit() -> bool:
    """spark-submit exports the master through the launcher's environment; then we must not override it."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
