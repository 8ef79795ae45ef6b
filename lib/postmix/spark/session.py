"""The one place a SparkSession is built: local mode by default, Delta always configured.

Delta's jars are resolved from Maven Central at set-up time (`make env`, deploy/jars/pom.xml) into a local folder and
added with spark.jars, so a run never downloads anything. On a cluster the user may instead pass --jars or
--packages to spark-submit; then the session that spark-submit configured is used as it is.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from postmix.errors import ConfigError
from postmix.spark.params import SparkParams

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
ARROW_BATCH_ROWS = "spark.sql.execution.arrow.maxRecordsPerBatch"
DRIVER_JAVA = "spark.driver.extraJavaOptions"
# postmix's Delta log store for file: paths (deploy/jars/logstore, built by `make env` into the jar folder): Delta's
# default one commits on a local disk with a check-then-rename, which two processes can both pass.
LOCAL_LOG_STORE_JAR = "postmix-delta-logstore.jar"
LOCAL_LOG_STORE = "dev.postmix.delta.LocalAtomicLogStore"
FILE_LOG_STORE = "spark.delta.logStore.file.impl"
REPO_ROOT = Path(__file__).resolve().parents[3]
# The driver's log4j2 configuration by default (postmix.console): nothing below FATAL on the console.
QUIET_LOG4J = Path(__file__).resolve().with_name("log4j2-quiet.properties")
# Lines the JVM launcher writes before any logging exists, which no setting turns off: Spark's launcher always adds
# --add-modules=jdk.incubator.vector and the JVM announces it. Dropped from the driver JVM's stderr unless verbose.
JVM_LAUNCHER_NOISE = (b"WARNING: Using incubator modules:",)

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
    # Hadoop's checksummed local file system keeps a hidden .crc beside every file and renames it apart from the
    # file: two processes creating one Delta table at once (two concurrent first ingests) can leave commit 0 with
    # the other process's .crc, unreadable for good (ChecksumException). The raw local file system writes none;
    # Delta checks its own log. Only file:// paths; HDFS and object stores are untouched.
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "spark.hadoop.fs.AbstractFileSystem.file.impl": "org.apache.hadoop.fs.local.RawLocalFs",
}


# The driver JVM's class-data-sharing archive, built by `make env` (deploy/jars/class_archive.py). Not beside the
# jars: `spark-submit --jars ".jars/*"` would ship it to every executor.
CLASS_ARCHIVE = REPO_ROOT / ".jvm" / "postmix-classes.jsa"
# The user chose their own class sharing: leave the JVM's options as they are.
USER_SHARING_OPTIONS = ("-Xshare", "SharedArchiveFile", "ArchiveClassesAtExit")
# The JVM announces an unusable or partly usable archive on stdout; it falls back by itself, so stay quiet.
QUIET_SHARING = "-Xlog:cds*=off"


def class_archive() -> Path | None:
    """The archive `make env` built, if there is one (an installed postmix outside a checkout has none)."""
    return CLASS_ARCHIVE if CLASS_ARCHIVE.is_file() else None


def with_sharing(java_options: str, archive: Path | None) -> str:
    """The driver's Java options with the archive mapped, unless there is none or the user set class sharing."""
    if archive is None or any(option in java_options for option in USER_SHARING_OPTIONS):
        return java_options
    option = f"-XX:SharedArchiveFile={archive}"
    quoted = f'"{option}"' if any(c.isspace() for c in option) else option  # Spark splits the options on spaces
    return f"{java_options} {quoted} {QUIET_SHARING}".strip()


def delta_jars(params: SparkParams) -> list[str]:
    """The delta jar files to put on spark.jars; empty when the user supplies Delta some other way."""
    folder = params.jars_dir or os.environ.get("POSTMIX_JARS_DIR") or str(REPO_ROOT / ".jars")
    path = Path(folder)
    return sorted(str(p) for p in path.glob("*.jar")) if path.is_dir() else []


def session_conf(params: SparkParams, launcher_jars: str = "") -> dict[str, str]:
    """Every setting the builder applies, in one dict (tested without a JVM).

    `launcher_jars`: the jars and packages spark-submit was given (--jars/--packages), comma-separated; when there are
    any, they supply Delta and no local jar folder is needed.
    """
    conf = dict(LOCAL_DEFAULTS)
    conf["spark.sql.shuffle.partitions"] = str(params.shuffle_partitions)
    conf["spark.driver.memory"] = params.driver_memory
    conf["spark.sql.extensions"] = DELTA_EXTENSION
    conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    conf.update({str(k): str(v) for k, v in params.conf.items()})
    user_supplies_delta = "spark.jars.packages" in conf or "spark.jars" in conf or bool(launcher_jars)
    if not user_supplies_delta:
        jars = delta_jars(params)
        if not jars:
            raise ConfigError(
                "Delta Lake jars not found: run `make env` (resolves them into .jars/), set POSTMIX_JARS_DIR, "
                "or pass spark.jars / spark.jars.packages in the spark conf"
            )
        conf["spark.jars"] = ",".join(jars)
    if _has_local_log_store(conf.get("spark.jars", ""), launcher_jars):
        conf.setdefault(FILE_LOG_STORE, LOCAL_LOG_STORE)
    java = with_sharing(conf.get(DRIVER_JAVA, ""), class_archive())
    if java:
        conf[DRIVER_JAVA] = java
    return conf


def _has_local_log_store(*jar_lists: str) -> bool:
    """Whether postmix's log store jar is among the session's jars (from the jar folder, the user's, spark-submit's)."""
    names = {jar.strip().rsplit("/", 1)[-1] for jar_list in jar_lists for jar in jar_list.split(",")}
    return LOCAL_LOG_STORE_JAR in names


def ensure_python_for_workers() -> None:
    """Python workers must use this interpreter (the venv), or they miss the project's packages."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def console_conf(conf: dict[str, str], verbose: bool) -> dict[str, str]:
    """The settings that give Spark postmix's console (postmix.console), added to the session's `conf`.

    Quiet: the driver JVM reads QUIET_LOG4J (appended to the user's spark.driver.extraJavaOptions unless those name a
    log4j configuration of their own). Both: executors get POSTMIX_VERBOSE and the libraries' switches
    (spark.executorEnv.*, where the user has not set them), so a model loads as quietly there as in the driver.
    """
    from postmix import console

    conf = dict(conf)
    for key, value in console.worker_env().items():
        conf.setdefault(f"spark.executorEnv.{key}", value)
    java = conf.get(DRIVER_JAVA, "")
    if not verbose and "log4j.configuration" not in java and "log4j2.configurationFile" not in java:
        option = f"-Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
        conf[DRIVER_JAVA] = f"{java} {option}".strip()
    return conf


def build_session(params: SparkParams):
    """Create (or join) the SparkSession for a postmix job."""
    from pyspark.sql import SparkSession

    from postmix import console

    ensure_python_for_workers()
    console.quiet_libraries()
    verbose = console.is_verbose()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(params.app_name)
    master = params.master or (None if os.environ.get("SPARK_SUBMIT_OPTS") or _launched_by_spark_submit() else "local[2]")
    if master:
        builder = builder.master(master)
    conf = console_conf(session_conf(params, _launcher_jars()), verbose)
    for key, value in conf.items():
        builder = builder.config(key, value)
    # Local mode: the Python workers are the JVM's children and inherit its environment.
    os.environ.update(console.worker_env())
    try:
        if not verbose and not _launched_by_spark_submit():
            options = {"spark.app.name": params.app_name, **({"spark.master": master} if master else {}), **conf}
            _launch_gateway_without_launcher_noise(options)
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or refused a setting: one line, not a py4j trace
        raise ConfigError(session_failure(exc, params)) from None
    # spark.log_level when the user set one; otherwise FATAL (quiet) or Spark's usual WARN (--verbose). This also
    # quiets a session spark-submit started, whose JVM never read QUIET_LOG4J.
    spark.sparkContext.setLogLevel(params.log_level or ("WARN" if verbose else "FATAL"))
    _quiet_retried_conflicts(spark)
    return spark


def _launch_gateway_without_launcher_noise(options: dict[str, str]) -> None:
    """Start the driver JVM as pyspark would, its stderr through a pipe that drops JVM_LAUNCHER_NOISE only.

    Everything else the JVM or a Python worker writes (a JVM's refusal to start included) reaches this process's
    stderr unchanged, in order. Where pyspark's layout differs, the session starts the usual way instead.
    """
    try:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway
    except ImportError:
        return
    if getattr(SparkContext, "_gateway", True) is not None or not hasattr(SparkContext, "_ensure_initialized"):
        return
    spark_conf = SparkConf()
    for key, value in options.items():
        spark_conf.set(key, value)
    read_fd, write_fd = os.pipe()
    pump = threading.Thread(target=_forward_jvm_stderr, args=(read_fd,), name="postmix-jvm-stderr", daemon=True)
    pump.start()
    try:
        gateway = launch_gateway(spark_conf, popen_kwargs={"stderr": write_fd})
    except BaseException:
        os.close(write_fd)
        pump.join(timeout=10)  # the JVM's own complaint is printed before postmix's error line
        raise
    os.close(write_fd)
    SparkContext._ensure_initialized(gateway=gateway)
    _FORWARDING.append(pump)


_FORWARDING: list[threading.Thread] = []


def jvm_stderr_forwarded() -> bool:
    """Whether this process's driver JVM writes its stderr through postmix (so fd 2 here shows all of it)."""
    return any(pump.is_alive() for pump in _FORWARDING)


def _forward_jvm_stderr(read_fd: int) -> None:
    with os.fdopen(read_fd, "rb") as pipe:
        for line in pipe:
            if line.startswith(JVM_LAUNCHER_NOISE):
                continue
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(2, view):]
            except OSError:  # our stderr is gone: keep draining, or the JVM would block on a full pipe
                pass


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


def _launcher_jars() -> str:
    """The jars and packages spark-submit already put on the session (its --jars / --packages), comma-separated."""
    if not _launched_by_spark_submit():
        return ""
    from pyspark import SparkConf

    conf = SparkConf()
    return ",".join(value for value in (conf.get(key, "") for key in ("spark.jars", "spark.jars.packages")) if value)


def _launched_by_spark_submit() -> bool:
    """spark-submit exports the master through the launcher's environment; then we must not override it."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
