"""Delta reads and writes for every stage, through delta-spark.

Every commit carries the run id and stage in its commit metadata (userMetadata). Writes are whole Delta commits,
so a killed job leaves the previous version intact; merges on the table's declared keys make reruns idempotent.
Concurrent writers are serialised by Delta's optimistic concurrency: a conflicting merge is retried (it is
idempotent), and a conflict that persists becomes a StorageError. Conflicts are told by exception type
(delta.exceptions); conditions and keys are pyspark Column expressions, never SQL text with quoted values.

There is deliberately no blind append: an append retried after a kill or a conflict would duplicate rows, so
"append new rows" is `merge_rows` without an update clause (insert keys not yet present), which a rerun leaves
unchanged.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from contextlib import contextmanager
from functools import reduce
from typing import TYPE_CHECKING, Iterator

from postmix.errors import SchemaError, StorageError
from postmix.schemas.declared import load_schema
from postmix.storage.tables import table_path, writer_of

if TYPE_CHECKING:
    from pyspark.sql import Column

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
CONFLICT_RETRIES = 5
# Two jobs creating one table at once: the loser finds the winner's _delta_log (before or after its first commit) at
# the location. delta-spark gives these cases no exception type, only Spark's error condition, so they are told by
# that (the one fallback: every commit conflict has its type in delta.exceptions).
CREATION_RACE_CONDITIONS = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_LOG_ALREADY_EXISTS",
                            "DELTA_TABLE_ALREADY_EXISTS", "DELTA_FILE_ALREADY_EXISTS")
# Tables this process has created or checked already: each costs a snapshot read, so do it once per process.
_CHECKED: set[str] = set()


@contextmanager
def scoped_conf(spark, key: str, value: str) -> Iterator[None]:
    """A runtime SQL setting for the block only; the previous value (or none) comes back after it."""
    previous = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)


@contextmanager
def commit_metadata(spark, run_id: str, stage: str) -> Iterator[None]:
    """Tag every Delta commit made inside the block with the run id and stage."""
    with scoped_conf(spark, USER_METADATA, json.dumps({"run_id": run_id, "stage": stage}, sort_keys=True)):
        yield


@contextmanager
def commit_nonce(spark) -> Iterator[str]:
    """Add a fresh nonce to the commit tag inside the block, so the caller can find its own commit with
    `commit_user_metadata` (a MERGE that changes nothing makes no commit at all)."""
    nonce = uuid.uuid4().hex
    tag = json.loads(spark.conf.get(USER_METADATA, None) or "{}")
    with scoped_conf(spark, USER_METADATA, json.dumps({**tag, "nonce": nonce}, sort_keys=True)):
        yield nonce


def commit_user_metadata(spark, path: str, version: int) -> str:
    """The userMetadata of one commit, read from its file in `_delta_log` (the Delta protocol's layout) through
    Hadoop's file system: `DeltaTable.history` would read it with a Spark job. "" when there is no such commit."""
    jvm = spark._jvm
    try:
        commit = jvm.org.apache.hadoop.fs.Path(f"{path.rstrip('/')}/_delta_log/{version:020d}.json")
        stream = commit.getFileSystem(spark._jsc.hadoopConfiguration()).open(commit)
        try:
            text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()
    except Exception:  # noqa: BLE001 (py4j: FileNotFoundException for a version not committed yet)
        return ""
    infos = (json.loads(line).get("commitInfo") for line in text.splitlines() if line.strip())
    return next((info.get("userMetadata") or "" for info in infos if info), "")


def table_exists(spark, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def damaged_table_error(table: str, path: str, exc: Exception) -> StorageError:
    """One line for a table whose Delta log cannot be read (a deleted or truncated commit file, a bad checkpoint)."""
    reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return StorageError(f"table {table!r} at {path} cannot be read, its Delta log is damaged ({reason}): restore "
                        f"the table, or delete its folder and rerun `postmix {writer_of(table)}`")


def ensure_table(spark, warehouse: str, table: str) -> str:
    """Create the table with its declared schema if it does not exist; return its path."""
    from delta.tables import DeltaTable

    from postmix.storage.spark_schema import spark_schema

    path = table_path(warehouse, table)
    if path in _CHECKED and table_exists(spark, path):
        return path
    _conflict_types()  # as in _commit_with_retries: a lost creation race must arrive typed
    for attempt in range(CONFLICT_RETRIES):
        try:
            DeltaTable.createIfNotExists(spark).location(path).addColumns(spark_schema(table)).execute()
            break
        except Exception as exc:  # a concurrent creator won the race: the table now exists
            if not _is_conflict(exc) or attempt == CONFLICT_RETRIES - 1:
                raise _storage_error(table, path, exc) from exc
            time.sleep(0.5 * (attempt + 1))
    check_table_schema(spark, path, table)
    _CHECKED.add(path)
    return path


def check_table_schema(spark, path: str, table: str) -> None:
    """The stored table must have the declared columns and types (a wrong location is caught here)."""
    from postmix.storage.spark_schema import spark_schema

    stored = {f.name: f.dataType for f in spark.read.format("delta").load(path).schema.fields}
    declared = {f.name: f.dataType for f in spark_schema(table).fields}
    if stored != declared:
        missing = sorted(set(declared) - set(stored))
        extra = sorted(set(stored) - set(declared))
        changed = sorted(n for n in set(stored) & set(declared) if stored[n] != declared[n])
        raise SchemaError(
            f"table {table!r} at {path} does not match schemas/{table}.json "
            f"(missing {missing}, unexpected {extra}, different types {changed})"
        )


def conform(df, table: str):
    """Select and cast the DataFrame's columns into the declared order and types (extra columns are an error)."""
    from pyspark.sql import functions as F

    from postmix.storage.spark_schema import spark_schema

    declared = spark_schema(table)
    missing = [f.name for f in declared.fields if f.name not in df.columns]
    extra = [c for c in df.columns if c not in declared.fieldNames()]
    if missing or extra:
        raise SchemaError(f"rows for table {table!r}: missing columns {missing}, unexpected columns {extra}")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in declared.fields])


def merge_rows(spark, df, warehouse: str, table: str, when_matched_update: dict[str, Column] | None = None,
               matched_condition: Column | None = None, none_present_at: int | None = None) -> int:
    """MERGE rows into the table on its declared keys: insert new keys, optionally update matched ones.

    The table is aliased `t` and the rows `s` (`F.col("s.x")` in `when_matched_update` and `matched_condition`).
    Returns the table version after the commit. Safe to retry and to rerun: the same rows give the same table.

    `none_present_at`: a version of the table that holds none of the rows' keys (0 for a table that did not exist:
    `ensure_table` creates it empty). Then an insert-only MERGE does the work (Delta skips the pass that finds rows
    to update: 2-3 s of a 40 s ingest, docs/BENCHMARKS.md), and if its commit is not the very next version, another
    job committed in between and may have added some of these keys: the full MERGE then runs too (on the rows just
    inserted it changes nothing).
    """
    path = ensure_table(spark, warehouse, table)
    if none_present_at is not None and _inserted_as_next_version(spark, df, table, path, none_present_at):
        return none_present_at + 1
    return _merge(spark, df, table, path, when_matched_update, matched_condition)


def _inserted_as_next_version(spark, df, table: str, path: str, version: int) -> bool:
    """Insert-only MERGE the rows; whether its commit is version + 1 (told by a nonce: a MERGE that inserts nothing
    commits nothing, and the version number alone would then be another job's)."""
    with commit_nonce(spark) as nonce:
        _merge(spark, df, table, path, None, None)
    return nonce in commit_user_metadata(spark, path, version + 1)


def _merge(spark, df, table: str, path: str, when_matched_update: dict[str, Column] | None,
           matched_condition: Column | None) -> int:
    from delta.tables import DeltaTable

    condition = keys_match(load_schema(table).keys)
    rows = conform(df, table)

    def merge() -> None:
        builder = DeltaTable.forPath(spark, path).alias("t").merge(rows.alias("s"), condition)
        if when_matched_update:
            builder = builder.whenMatchedUpdate(condition=matched_condition, set=when_matched_update)
        builder.whenNotMatchedInsertAll().execute()

    return _commit_with_retries(spark, table, path, merge)


def keys_match(keys: tuple[str, ...]) -> Column:
    """The merge condition: every key of the target `t` equals the source's `s`."""
    from pyspark.sql import functions as F

    return reduce(lambda a, b: a & b, [F.col(f"t.{k}") == F.col(f"s.{k}") for k in keys])


def run_slice(run_id: str) -> Column:
    """The rows of one run (selections, mixtures, mixture_metrics and runs are keyed by run_id first)."""
    from pyspark.sql import functions as F

    return F.col("run_id") == F.lit(run_id)


def replace_slice(spark, df, warehouse: str, table: str, where: Column) -> int:
    """Atomically replace the rows matching `where` (e.g. one run's selection) with `df`: one Delta commit, the
    same `replaceWhere` overwrite as `mode("overwrite").option("replaceWhere", ...)`, with the condition as a
    Column (rows of `df` outside it are refused by Delta)."""
    path = ensure_table(spark, warehouse, table)
    rows = conform(df, table)
    return _commit_with_retries(spark, table, path, lambda: rows.writeTo(path_identifier(path)).overwrite(where))


def path_identifier(path: str) -> str:
    """The path-based table name delta.`<path>` (a backtick inside a quoted identifier is written twice)."""
    return "delta.`" + path.replace("`", "``") + "`"


def overwrite_table(spark, df, warehouse: str, table: str) -> int:
    """Atomically replace the whole table's content (for tables derived from the whole pool, e.g. one k-means fit);
    earlier content stays readable by time travel."""
    path = ensure_table(spark, warehouse, table)
    rows = conform(df, table)
    return _commit_with_retries(spark, table, path, lambda: rows.write.format("delta").mode("overwrite").save(path))


def _commit_with_retries(spark, table: str, path: str, write) -> int:
    """Run one idempotent Delta write; retry it on a concurrency conflict; return the version it committed."""
    _conflict_types()  # the JVM's conflicts must arrive as delta.exceptions types from the first write on
    for attempt in range(CONFLICT_RETRIES):
        try:
            write()
            _after_commit(spark, table)
            return written_version(spark, path)
        except Exception as exc:
            if not _is_conflict(exc) or attempt == CONFLICT_RETRIES - 1:
                raise _storage_error(table, path, exc) from exc
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def read_table(spark, warehouse: str, table: str, version: int | None = None):
    path = table_path(warehouse, table)
    if not table_exists(spark, path):
        raise StorageError(f"table {table!r} does not exist at {path}: run `postmix {writer_of(table)}` first")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    try:
        return reader.load(path)
    except Exception as exc:
        if version is not None and "VERSION" in str(exc).upper():
            raise StorageError(f"table {table!r} at {path} no longer has version {version} that this run "
                               f"recorded: rerun `postmix {writer_of(table)}` (with --force)") from None
        raise damaged_table_error(table, path, exc) from None


def current_version(spark, path: str) -> int | None:
    """The table's latest version; None when there is no table; a StorageError when its log cannot be read.

    Reads the latest commit itself (`DeltaTable.history(1)`), so a truncated or unreadable last commit is found
    here, before a stage trusts the table; for a table this process has just committed to, `written_version` gives
    the same number without reading the commit back."""
    from delta.tables import DeltaTable

    if not table_exists(spark, path):
        return None
    try:
        return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])
    except Exception as exc:  # py4j / analysis errors: the log is there but broken
        raise damaged_table_error(path.rstrip("/").rsplit("/", 1)[-1], path, exc) from None


def written_version(spark, path: str) -> int:
    """The latest version of a table (-1 if there is none), from Delta's log in the driver's JVM after a blocking
    refresh of its listing: for a table this process has just committed to, or whose version it must pin before
    reading it (`count_existing`). `history(1)` would read the commit back through a Spark job (0.15-0.7 s, several
    per stage) to learn a number the log's listing already has. Delta's internal API can change with its version, so
    any failure of this shortcut falls back to `current_version`, which also turns a damaged log into the error."""
    jvm = spark._jvm
    try:
        delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
        none = jvm.scala.Option.empty()
        # update(stalenessAcceptable, checkIfUpdatedSinceTs, catalogTableOpt): a blocking refresh of the listing
        return int(delta_log.update(False, none, none).version())
    except Exception:  # noqa: BLE001 (py4j: an API change or an unreadable log; the slow path tells which)
        version = current_version(spark, path)
        return -1 if version is None else version


def table_versions(spark, warehouse: str, tables: list[str]) -> dict[str, int]:
    """Current version of each existing table (for provenance in the runs table); a damaged one is an error."""
    versions = {}
    for table in tables:
        version = current_version(spark, table_path(warehouse, table))
        if version is not None:
            versions[table] = version
    return versions


def written_versions(spark, warehouse: str, tables: list[str]) -> dict[str, int]:
    """`table_versions` of tables the stage has just written (its outputs), read from the log's listing; a table
    it had nothing to write to and that does not exist (version -1 in Delta's terms) is left out, as there."""
    versions = {table: written_version(spark, table_path(warehouse, table)) for table in tables}
    return {table: version for table, version in versions.items() if version >= 0}


def recorded_outputs_missing(spark, warehouse: str, recorded: dict[str, int]) -> list[str]:
    """Which recorded output tables are gone or behind the version a finished stage recorded (so its "already
    done" no longer holds); a damaged table is a StorageError naming it."""
    problems = []
    for table, version in sorted(recorded.items()):
        current = current_version(spark, table_path(warehouse, table))
        if current is None:
            problems.append(f"{table} is missing")
        elif current < version:
            problems.append(f"{table} is at version {current}, the run recorded {version}")
            drop_orphan_checksums(table_path(warehouse, table))
    return problems


def drop_orphan_checksums(path: str) -> None:
    """Remove the checksum files of commits that are gone (a rolled-back table on a local file system): Delta's
    `<n>.crc` and Hadoop's `.<n>.json.crc` / `.<n>.crc.crc` would be checked against the commit that rewrites
    version n and fail it."""
    if "://" in path and not path.startswith("file:"):
        return
    log_dir = Path(path.removeprefix("file://").removeprefix("file:")) / "_delta_log"
    for item in log_dir.glob("*crc"):
        match = re.fullmatch(r"\.?(\d{20})\.(crc|json\.crc|crc\.crc)", item.name)
        if match and not (log_dir / f"{match[1]}.json").exists():
            item.unlink(missing_ok=True)


def _after_commit(spark, table: str) -> None:
    from postmix.faults import crash_point_reached

    tag = spark.conf.get(USER_METADATA, None)
    stage = json.loads(tag).get("stage", "") if tag else ""
    crash_point_reached(stage, table)


def _conflict_types() -> tuple[type, ...]:
    """Delta's commit conflicts, as the Python types delta-spark raises (importing delta.exceptions also installs
    its translation of the JVM's exceptions into these types)."""
    from delta import exceptions as dx

    return (dx.DeltaConcurrentModificationException, dx.ConcurrentWriteException, dx.MetadataChangedException,
            dx.ProtocolChangedException, dx.ConcurrentAppendException, dx.ConcurrentDeleteReadException,
            dx.ConcurrentDeleteDeleteException, dx.ConcurrentTransactionException)


def _is_conflict(exc: Exception) -> bool:
    """A concurrent writer got there first: a Delta commit conflict, or a lost creation race (another job is
    creating the same table: its _delta_log exists, its first commit not yet; seen when two ingests start together
    on a new warehouse)."""
    return isinstance(exc, _conflict_types()) or _error_condition(exc) in CREATION_RACE_CONDITIONS


def _error_condition(exc: Exception) -> str | None:
    """Spark's error condition (error class) of a PySpark exception, None for any other exception."""
    condition = getattr(exc, "getCondition", None)
    return condition() if callable(condition) else None


def _storage_error(table: str, path: str, exc: Exception) -> Exception:
    conflict = _is_conflict(exc)
    if "_delta_log" in str(exc) and not conflict:
        return damaged_table_error(table, path, exc)
    if conflict:
        return StorageError(
            f"table {table!r} at {path}: another job kept committing conflicting changes; "
            f"nothing was written by this attempt, rerun it ({type(exc).__name__})"
        )
    return exc
