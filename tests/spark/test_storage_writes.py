"""Delta writes with Column conditions and conflict detection by exception type (postmix.storage)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from postmix.storage import delta as D
from postmix.storage.runs import RunRecord, StageRecords, previous_record, stage_records, write_record
from postmix.storage.spark_schema import spark_schema

ODD_RUN = "b'c\\d"  # a quote and a backslash: no SQL text is built from values, so nothing needs quoting


def _metrics(spark, run_id: str):
    return spark.createDataFrame([(run_id, "objective", 1.0, 0.5, "u", "d")], spark_schema("mixture_metrics"))


def _run_ids(spark, warehouse: str, table: str) -> list[str]:
    return sorted(r["run_id"] for r in spark.read.format("delta").load(f"{warehouse}/{table}").collect())


def test_replace_slice_replaces_only_the_runs_rows_in_one_commit(spark, tmp_path):
    warehouse = str(tmp_path / "wh q'x")
    for run_id in ("a", ODD_RUN, "a"):
        D.replace_slice(spark, _metrics(spark, run_id), warehouse, "mixture_metrics", D.run_slice(run_id))
    assert _run_ids(spark, warehouse, "mixture_metrics") == ["a", ODD_RUN]
    assert D.current_version(spark, f"{warehouse}/mixture_metrics") == 3  # create + one commit per write
    assert D.written_version(spark, f"{warehouse}/mixture_metrics") == 3  # the same, from the log's listing
    assert D.written_version(spark, f"{warehouse}/selections") == -1  # never written
    assert D.written_versions(spark, warehouse, ["mixture_metrics", "selections"]) == {"mixture_metrics": 3}
    with pytest.raises(Exception, match="DELTA_REPLACE_WHERE_MISMATCH"):
        D.replace_slice(spark, _metrics(spark, "other"), warehouse, "mixture_metrics", D.run_slice("a"))


def test_concurrent_slice_replacements_are_retried_until_all_commit(spark, tmp_path):
    warehouse = str(tmp_path / "wh")
    D.ensure_table(spark, warehouse, "mixture_metrics")
    errors = []

    def replace(run_id: str) -> None:
        try:
            D.replace_slice(spark, _metrics(spark, run_id), warehouse, "mixture_metrics", D.run_slice(run_id))
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)

    threads = [threading.Thread(target=replace, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and _run_ids(spark, warehouse, "mixture_metrics") == ["t0", "t1", "t2"]


class _CreationRace(Exception):
    """What a lost creation race raises: a captured Spark error with only its condition to tell it by."""

    def getCondition(self) -> str:  # noqa: N802 (PySpark's name)
        return "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION"


def test_conflicts_are_told_by_type_and_a_creation_race_by_its_error_condition():
    from delta.exceptions import ConcurrentAppendException, MetadataChangedException

    assert D._is_conflict(ConcurrentAppendException("x")) and D._is_conflict(MetadataChangedException("x"))
    assert not D._is_conflict(RuntimeError("Concurrent conflict already exists"))  # words are not a type
    assert D._is_conflict(_CreationRace("Cannot create table"))


def test_runs_lookups_and_the_concurrent_success_sum(spark, tmp_path):
    warehouse = str(tmp_path / "wh")
    start = dt.datetime(2026, 1, 1)

    def record(counts: dict, started: dt.datetime, finished: dt.datetime, input_fp: str | None) -> RunRecord:
        return RunRecord(run_id=ODD_RUN, stage="ingest", status="succeeded", attempt=1, params_fingerprint="p",
                         input_fingerprint=input_fp, code_version="c", params="{}", started_at=started,
                         counts=counts, finished_at=finished)

    write_record(spark, warehouse, record({"rows": 3}, start, start + dt.timedelta(seconds=10), None))
    # a second process of the same work, started before the first finished: its counts add up
    write_record(spark, warehouse, record({"rows": 4}, start + dt.timedelta(seconds=1),
                                          start + dt.timedelta(seconds=12), None))
    assert previous_record(spark, warehouse, ODD_RUN, "ingest")["counts"] == {"rows": 7, "merged_attempts": 2}
    write_record(spark, warehouse, record({"rows": 1}, start + dt.timedelta(seconds=20),
                                          start + dt.timedelta(seconds=30), "i'x"))
    assert previous_record(spark, warehouse, ODD_RUN, "ingest")["counts"] == {"rows": 1}  # a later run replaces
    assert stage_records(spark, warehouse, "run-other", "ingest", "p", "i'x").same_work["run_id"] == ODD_RUN
    assert stage_records(spark, warehouse, "run-other", "ingest", "p", "other") == StageRecords(None, None)


def test_stage_records_finds_this_runs_record_and_the_first_finished_same_work(spark, tmp_path):
    warehouse = str(tmp_path / "wh")
    start = dt.datetime(2026, 1, 1)

    def record(run_id: str, stage: str, status: str, finished_after_s: int, input_fp: str = "i") -> RunRecord:
        return RunRecord(run_id=run_id, stage=stage, status=status, attempt=1, params_fingerprint="p",
                         input_fingerprint=input_fp, code_version="c", params="{}", started_at=start,
                         finished_at=start + dt.timedelta(seconds=finished_after_s))

    for written in (record("run-late", "ingest", "succeeded", 30), record("run-early", "ingest", "succeeded", 10),
                    record("run-failed", "ingest", "failed", 5), record("run-mine", "ingest", "failed", 40, "j"),
                    record("run-annotate", "annotate", "succeeded", 1)):
        write_record(spark, warehouse, written)
    found = stage_records(spark, warehouse, "run-mine", "ingest", "p", "i")
    assert found.this_run["run_id"] == "run-mine" and found.this_run["status"] == "failed"
    assert found.same_work["run_id"] == "run-early"  # the first to finish, not a failed or another stage's record
    assert stage_records(spark, warehouse, "run-new", "annotate", "p", "i").same_work["run_id"] == "run-annotate"
    assert stage_records(spark, warehouse, "run-new", "ingest", "p", "j") == StageRecords(None, None)


def test_concurrent_first_records_of_one_key_leave_one_row(spark, tmp_path):
    """Two identical commands start the same stage at once: both read no record and both insert-only MERGE it."""
    warehouse = str(tmp_path / "wh")
    started = dt.datetime(2026, 1, 1)

    def record(run_id: str) -> RunRecord:
        return RunRecord(run_id=run_id, stage="ingest", status="running", attempt=1, params_fingerprint="p",
                         input_fingerprint="i", code_version="c", params="{}", started_at=started)

    write_record(spark, warehouse, record("run-earlier"), first_of_its_key=True)  # the table exists: no creation race
    barrier, errors = threading.Barrier(3), []

    def first_record() -> None:
        try:
            barrier.wait()
            write_record(spark, warehouse, record("run-twice"), first_of_its_key=True)
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)

    threads = [threading.Thread(target=first_record) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and _run_ids(spark, warehouse, "runs") == ["run-earlier", "run-twice"]


class _JvmWithoutDeltaLog:
    """A JVM view whose Delta internals are gone (what a Delta upgrade that renames them would look like)."""

    def __getattr__(self, name: str):
        raise AttributeError(f"no JVM class path {name!r} here")


def test_written_version_falls_back_to_the_history_when_the_log_shortcut_fails(spark, tmp_path, monkeypatch):
    warehouse = str(tmp_path / "wh")
    D.replace_slice(spark, _metrics(spark, "a"), warehouse, "mixture_metrics", D.run_slice("a"))
    monkeypatch.setattr(spark, "_jvm", _JvmWithoutDeltaLog())
    assert D.written_version(spark, f"{warehouse}/mixture_metrics") == 1
    assert D.written_version(spark, f"{warehouse}/selections") == -1


def test_local_tables_get_no_hadoop_checksum_files(spark, tmp_path):
    """A hidden .crc renamed apart from its commit file is what left a concurrently created `runs` table unreadable
    (ChecksumException on commit 0); the session's raw local file system writes none (postmix.spark.session)."""
    warehouse = str(tmp_path / "wh")
    D.replace_slice(spark, _metrics(spark, "a"), warehouse, "mixture_metrics", D.run_slice("a"))
    written = [p for p in (tmp_path / "wh").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".json") for p in written) and any(p.suffix == ".parquet" for p in written)
    assert [p.name for p in written if p.name.startswith(".") and p.name.endswith(".crc")] == []


def _log_store_of(spark, path: str):
    """The log store Delta commits a local table's versions through (its scheme's delegate)."""
    delta_log = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
    return delta_log.store().getDelegate(delta_log.logPath()).logStoreImpl()  # the log's path, qualified: file:


def _java_lines(spark, lines: list[str]):
    from py4j.java_collections import ListConverter

    return ListConverter().convert(lines, spark.sparkContext._gateway._gateway_client).iterator()


def test_local_commits_are_an_atomic_put_if_absent_across_writers(spark, tmp_path):
    """Delta commits version N by writing N.json only if no one has. On a local disk postmix's log store makes that
    one atomic step (a hard link of a staged file), where Delta's default store checks and then renames, a window
    in which two processes can both commit version N and the second silently replaces the first."""
    from py4j.protocol import Py4JJavaError

    from postmix.spark.session import LOCAL_LOG_STORE

    warehouse = str(tmp_path / "wh q'x")
    D.replace_slice(spark, _metrics(spark, "a"), warehouse, "mixture_metrics", D.run_slice("a"))
    store = _log_store_of(spark, f"{warehouse}/mixture_metrics")
    assert store.getClass().getName() == LOCAL_LOG_STORE
    hadoop_conf, folder = spark._jsc.hadoopConfiguration(), tmp_path / "log q'x"
    folder.mkdir()
    # The flag describes the file system (a file written in place is visible while it is written), so it must say
    # what Delta's own local store says: Delta reads it to decide whether to stage its checkpoints.
    log_path = spark._jvm.org.apache.hadoop.fs.Path(f"file://{folder}")
    delta_local = spark._jvm.io.delta.storage.LocalLogStore(hadoop_conf)
    visible = [each.isPartialWriteVisible(log_path, hadoop_conf) for each in (store, delta_local)]
    assert visible[0] == visible[1], visible

    def commit(version: int, lines: list[str], overwrite: bool = False) -> bool:
        target = spark._jvm.org.apache.hadoop.fs.Path(f"file://{folder}/{version:020d}.json")
        try:
            store.write(target, _java_lines(spark, lines), overwrite, hadoop_conf)
            return True
        except Py4JJavaError as exc:
            assert exc.java_exception.getClass().getName() == "java.nio.file.FileAlreadyExistsException"
            return False

    assert commit(7, ["first", "one"]) and not commit(7, ["second"])
    assert (folder / f"{7:020d}.json").read_text() == "first\none\n"  # the loser changed nothing
    assert commit(7, ["replaced"], overwrite=True) and (folder / f"{7:020d}.json").read_text() == "replaced\n"
    barrier, won = threading.Barrier(4), []

    def racer(name: str) -> None:
        barrier.wait()
        won.extend((version, name) for version in range(10, 30) if commit(version, [name]))

    threads = [threading.Thread(target=racer, args=(f"writer-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(version for version, _ in won) == list(range(10, 30))  # each version committed exactly once
    for version, name in won:
        assert (folder / f"{version:020d}.json").read_text() == f"{name}\n"
    assert sorted(p.name for p in folder.iterdir()) == [f"{v:020d}.json" for v in [7, *range(10, 30)]]  # no leftovers
