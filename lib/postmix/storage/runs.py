"""The `runs` table: one row per (run_id, stage) saying what ran, on what, and how it ended.

A stage marks itself `running` before it writes anything and `succeeded` (or `failed`) after, so a killed job
is visible as a `running` row and the rerun of the same command (same run id) finds it, resumes, and overwrites it.
A stage whose last attempt succeeded with the same parameter and input fingerprints is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from postmix.runinfo import redact_text
from postmix.storage.delta import commit_metadata, merge_rows, scoped_conf, table_exists
from postmix.storage.tables import table_path

RUNS = "runs"
MATERIALIZE_SOURCE = "spark.databricks.delta.merge.materializeSource"
MERGED_ATTEMPTS = "merged_attempts"
_SAME_WORK = "_same_work"  # stage_records: whether a row it found is a success of the same work
UPDATED_COLUMNS = ("status", "attempt", "params_fingerprint", "input_fingerprint", "code_version", "params",
                   "input_versions", "output_versions", "counts", "started_at", "finished_at", "duration_s",
                   "peak_rss_mb", "error")


def _concurrent_success():
    """Two processes running the same (run_id, stage) at once (two identical commands): the one that finishes
    second finds the first one's succeeded record of the same work, finished after it started."""
    from pyspark.sql import functions as F

    t, s = (lambda c: F.col(f"t.{c}")), (lambda c: F.col(f"s.{c}"))
    return ((t("status") == F.lit("succeeded")) & (s("status") == F.lit("succeeded"))
            & (t("finished_at") >= s("started_at")) & (t("params_fingerprint") == s("params_fingerprint"))
            & t("input_fingerprint").eqNullSafe(s("input_fingerprint")))


def _summed_counts():
    """The first one's counts alone would tell half the story (it found the samples new, the second found them
    present), so the counts are summed and `merged_attempts` says how many processes they add up."""
    from pyspark.sql import functions as F

    one = F.lit(1).cast("bigint")
    ours = F.map_concat(F.col("s.counts"), F.create_map(F.lit(MERGED_ATTEMPTS), one))

    def add(key, theirs_value, ours_value):
        attempts = F.coalesce(theirs_value, one) + F.coalesce(ours_value, F.lit(0).cast("bigint"))
        counts = F.coalesce(theirs_value, F.lit(0).cast("bigint")) + F.coalesce(ours_value, F.lit(0).cast("bigint"))
        return F.when(key == F.lit(MERGED_ATTEMPTS), attempts).otherwise(counts)

    return F.map_zip_with(F.col("t.counts"), ours, add)


def _update_all() -> dict:
    from pyspark.sql import functions as F

    update = {c: F.col(f"s.{c}") for c in UPDATED_COLUMNS}
    update["counts"] = F.when(_concurrent_success(), _summed_counts()).otherwise(F.col("s.counts"))
    return update


@dataclass
class RunRecord:
    run_id: str
    stage: str
    status: str
    attempt: int
    params_fingerprint: str
    input_fingerprint: str | None
    code_version: str
    params: str
    started_at: dt.datetime
    input_versions: dict[str, int] = field(default_factory=dict)
    output_versions: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    finished_at: dt.datetime | None = None
    duration_s: float | None = None
    peak_rss_mb: float | None = None
    error: str | None = None

    def as_row(self) -> dict[str, Any]:
        """The record as a row; maps in key order, so the same work writes the same bytes whatever the engine's
        merge order (reject reasons arrive in partition order)."""
        row = dict(self.__dict__)
        for name in ("input_versions", "output_versions", "counts"):
            row[name] = {key: row[name][key] for key in sorted(row[name])}
        return row


def previous_record(spark, warehouse: str, run_id: str, stage: str) -> dict[str, Any] | None:
    path = table_path(warehouse, RUNS)
    if not table_exists(spark, path):
        return None
    from pyspark.sql import functions as F

    rows = (spark.read.format("delta").load(path)
            .where((F.col("run_id") == F.lit(run_id)) & (F.col("stage") == F.lit(stage))).collect())
    return rows[0].asDict(recursive=True) if rows else None


@dataclass(frozen=True)
class StageRecords:
    """What `runs` says about a stage about to run: this run's own record of it, and the first succeeded record of
    the same work (same parameter and input fingerprints) under any run id, for stages whose output every run
    shares (ingest: work another run did need not be done again)."""

    this_run: dict[str, Any] | None
    same_work: dict[str, Any] | None


def stage_records(spark, warehouse: str, run_id: str, stage: str, params_fp: str, input_fp: str) -> StageRecords:
    """Both of a stage's lookups in one filtered scan of `runs` (each Spark action costs 0.2-1.5 s, and this runs
    before every stage): the few rows it finds (this run's, and every success of the same work) are picked here."""
    path = table_path(warehouse, RUNS)
    if not table_exists(spark, path):
        return StageRecords(None, None)
    from pyspark.sql import functions as F

    same_work = ((F.col("status") == F.lit("succeeded")) & (F.col("params_fingerprint") == F.lit(params_fp))
                 & (F.col("input_fingerprint") == F.lit(input_fp)))
    found = (spark.read.format("delta").load(path)
             .where((F.col("stage") == F.lit(stage)) & ((F.col("run_id") == F.lit(run_id)) | same_work))
             .withColumn(_SAME_WORK, same_work).collect())
    rows = [row.asDict(recursive=True) for row in found]
    this_run = next((row for row in rows if row["run_id"] == run_id), None)
    successes = [row for row in rows if row[_SAME_WORK]]
    first_success = min(successes, key=lambda row: (row["finished_at"], row["run_id"]), default=None)
    for row in rows:
        row.pop(_SAME_WORK)
    return StageRecords(this_run, first_success)


def write_record(spark, warehouse: str, record: RunRecord, first_of_its_key: bool = False) -> None:
    """MERGE the record on (run_id, stage). `first_of_its_key`: the caller read no record of this run and stage, so
    the MERGE only inserts; Delta runs that without the pass that finds rows to update (7-8 Spark jobs against 8-10). A
    concurrent process that inserted the same key first still wins: the insert-only MERGE read the table, so its
    commit conflicts with that insert, is retried, and then inserts nothing."""
    from postmix.storage.spark_schema import spark_schema

    if record.error:
        record.error = redact_text(record.error)[:4000]
    df = spark.createDataFrame([record.as_row()], schema=spark_schema(RUNS))
    # Tagged like every other write (run_stage writes `running` and the final record outside its own tag), so the
    # commit says which run and stage made it and POSTMIX_CRASH_AFTER=<stage>:runs can fire.
    # The source is one local row, the same on every read: Delta need not copy it before its MERGE (a Spark job per
    # record, two records per stage).
    with commit_metadata(spark, record.run_id, record.stage), scoped_conf(spark, MATERIALIZE_SOURCE, "none"):
        merge_rows(spark, df, warehouse, RUNS, when_matched_update=None if first_of_its_key else _update_all())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def params_json(params: Any) -> str:
    from postmix.params import params_to_plain
    from postmix.runinfo import redact_mapping

    plain = params_to_plain(params)
    if isinstance(plain, dict):
        plain = redact_mapping(plain)
    return json.dumps(plain, sort_keys=True)
