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
from postmix.storage.delta import commit_metadata, merge_rows, table_exists
from postmix.storage.tables import table_path

RUNS = "runs"
MERGED_ATTEMPTS = "merged_attempts"
# Two processes running the same (run_id, stage) at once (two identical commands): the one that finishes second
# finds the first one's succeeded record of the same work, finished after it started. Its counts alone would tell
# half the story (the first found the samples new, the second found them present), so the counts are summed and
# `merged_attempts` says how many processes they add up.
_CONCURRENT_SUCCESS = ("t.status = 'succeeded' AND s.status = 'succeeded' AND t.finished_at >= s.started_at "
                       "AND t.params_fingerprint = s.params_fingerprint AND t.input_fingerprint <=> s.input_fingerprint")
_SUMMED_COUNTS = (f"map_zip_with(t.counts, map_concat(s.counts, map('{MERGED_ATTEMPTS}', 1L)), (k, a, b) -> "
                  f"CASE WHEN k = '{MERGED_ATTEMPTS}' THEN coalesce(a, 1L) + coalesce(b, 0L) "
                  "ELSE coalesce(a, 0L) + coalesce(b, 0L) END)")
_UPDATE_ALL = {c: f"s.`{c}`" for c in (
    "status", "attempt", "params_fingerprint", "input_fingerprint", "code_version", "params", "input_versions",
    "output_versions", "counts", "started_at", "finished_at", "duration_s", "peak_rss_mb", "error")}
_UPDATE_ALL["counts"] = f"CASE WHEN {_CONCURRENT_SUCCESS} THEN {_SUMMED_COUNTS} ELSE s.`counts` END"


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
    rows = (spark.read.format("delta").load(path)
            .where(f"run_id = '{_quote(run_id)}' AND stage = '{_quote(stage)}'").collect())
    return rows[0].asDict(recursive=True) if rows else None


def succeeded_elsewhere(spark, warehouse: str, stage: str, params_fp: str, input_fp: str) -> dict[str, Any] | None:
    """A succeeded record of `stage` with these fingerprints under any run id (for stages whose output is shared
    by every run, such as ingest: the same work done by another run need not be done again)."""
    path = table_path(warehouse, RUNS)
    if not table_exists(spark, path):
        return None
    rows = (spark.read.format("delta").load(path)
            .where(f"stage = '{_quote(stage)}' AND status = 'succeeded' AND params_fingerprint = '{_quote(params_fp)}'"
                   f" AND input_fingerprint = '{_quote(input_fp)}'")
            .orderBy("finished_at").limit(1).collect())
    return rows[0].asDict(recursive=True) if rows else None


def write_record(spark, warehouse: str, record: RunRecord) -> None:
    from postmix.storage.spark_schema import spark_schema

    if record.error:
        record.error = redact_text(record.error)[:4000]
    df = spark.createDataFrame([record.as_row()], schema=spark_schema(RUNS))
    # Tagged like every other write (run_stage writes `running` and the final record outside its own tag), so the
    # commit says which run and stage made it and POSTMIX_CRASH_AFTER=<stage>:runs can fire.
    with commit_metadata(spark, record.run_id, record.stage):
        merge_rows(spark, df, warehouse, RUNS, when_matched_update=_UPDATE_ALL)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def params_json(params: Any) -> str:
    from postmix.params import params_to_plain
    from postmix.runinfo import redact_mapping

    plain = params_to_plain(params)
    if isinstance(plain, dict):
        plain = redact_mapping(plain)
    return json.dumps(plain, sort_keys=True)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
