"""Runs one stage with its bookkeeping: skip if already done, record running/succeeded/failed in `runs`,
tag Delta commits with the run id, time it and sample peak memory."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from postmix.errors import PostmixError
from postmix.runinfo import PeakRss, code_version
from postmix.spark.snapshot import TableSnapshot
from postmix.storage.delta import commit_metadata, recorded_outputs_missing, table_versions, written_versions
from postmix.storage.runs import RunRecord, params_json, stage_records, utcnow, write_record

log = logging.getLogger("postmix.stage")


@dataclass
class StageOutcome:
    """What a stage body reports back: counters and the tables it wrote."""

    counts: dict[str, int] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    skipped: bool = False
    message: str = ""


@dataclass(frozen=True)
class StageSpec:
    name: str
    params: Any
    params_fingerprint: str
    inputs: tuple[str, ...]  # tables read (their versions are recorded)
    input_fingerprint: str | None = None  # for file inputs; None: derived from input table versions
    run_scoped: bool = False  # writes a slice per run (select, mixture): only the same run id counts as done


def run_stage(spark, warehouse: str, run_id: str, spec: StageSpec,
              body: Callable[[TableSnapshot], StageOutcome], force: bool = False) -> StageOutcome:
    """Run `body` as stage `spec.name` of `run_id`, or skip it when the same work already succeeded.

    `body` is handed the stage's inputs at the versions recorded for it (so what it reads is what `runs` says it
    read, without reading its own record back)."""
    input_versions = table_versions(spark, warehouse, list(spec.inputs))
    input_fp = spec.input_fingerprint or _versions_fingerprint(input_versions)
    records = stage_records(spark, warehouse, run_id, spec.name, spec.params_fingerprint, input_fp)
    previous = records.this_run
    done = previous if _already_done(previous, spec.params_fingerprint, input_fp) else None
    if done is None and not spec.run_scoped and not force:
        done = records.same_work
    if not force and done is not None:
        done = _still_there(spark, warehouse, spec.name, done)
    if not force and done is not None:
        log.info("%s: already done (run %s), skipped", spec.name, done["run_id"])
        return StageOutcome(counts=dict(done.get("counts") or {}), skipped=True,
                            message=f"{spec.name}: already done by run {done['run_id']}, skipped")
    record = RunRecord(
        run_id=run_id, stage=spec.name, status="running", attempt=int((previous or {}).get("attempt") or 0) + 1,
        params_fingerprint=spec.params_fingerprint, input_fingerprint=input_fp, code_version=code_version(),
        params=params_json(spec.params), started_at=utcnow(), input_versions=input_versions,
    )
    write_record(spark, warehouse, record, first_of_its_key=previous is None)
    started = time.perf_counter()
    try:
        with PeakRss() as memory, commit_metadata(spark, run_id, spec.name):
            outcome = body(TableSnapshot(spark, warehouse, dict(input_versions)))
    except BaseException as exc:
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
        _finish(spark, warehouse, record, started, None)
        raise
    record.status = "succeeded"
    record.counts = {k: int(v) for k, v in outcome.counts.items()}
    record.output_versions = written_versions(spark, warehouse, outcome.outputs)
    _finish(spark, warehouse, record, started, memory.peak_mb)
    return outcome


def _finish(spark, warehouse: str, record: RunRecord, started: float, peak_mb: float | None) -> None:
    record.finished_at = utcnow()
    record.duration_s = time.perf_counter() - started
    record.peak_rss_mb = peak_mb
    try:
        write_record(spark, warehouse, record)
    except PostmixError:
        if record.status == "succeeded":
            raise
        log.exception("could not record the failure of %s/%s", record.run_id, record.stage)


def _still_there(spark, warehouse: str, stage: str, done: dict) -> dict | None:
    """`done`, unless a table it wrote was deleted or rolled back since (then the stage must run again)."""
    problems = recorded_outputs_missing(spark, warehouse, dict(done.get("output_versions") or {}))
    if problems:
        log.warning("%s: recorded as done by run %s, but %s: running it again", stage, done["run_id"],
                    "; ".join(problems))
        return None
    return done


def _already_done(previous: dict | None, params_fp: str, input_fp: str) -> bool:
    return bool(previous and previous["status"] == "succeeded"
                and previous["params_fingerprint"] == params_fp and previous["input_fingerprint"] == input_fp)


def _versions_fingerprint(versions: dict[str, int]) -> str:
    from postmix.params import fingerprint

    return fingerprint(versions)
