"""The ingest stage on Spark: file splits -> parsed rows (executors) -> samples (deduplicated) + rejects.

The driver only lists files, detects each file's format from its first records (so an unknown or ambiguous
format is an error before anything is written) and plans splits; parsing runs in the executors through
mapInArrow over the engine-free `parse_split`. Exact duplicates collapse on `sample_id`; the representative row
is the smallest (source, source_id, location), and `sources` keeps every row that held the conversation.
Counts reconcile: rows_read = rows_accepted + rows_duplicate + rows_rejected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from postmix.errors import ConfigError
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.params import fingerprint
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import merge_rows, table_exists, written_version
from postmix.storage.tables import table_path

log = logging.getLogger("postmix.ingest")

SAMPLE_FIELDS = ("source", "source_id", "location", "format", "messages", "n_turns", "n_chars_user",
                 "n_chars_assistant", "has_system", "meta")
REJECT_COLUMNS = ("source", "location", "source_id", "format", "reason", "detail", "raw")
BATCH_ROWS = 1024
DELTA = "delta"  # the container name plan_splits gives an existing Delta table


@dataclass(frozen=True)
class DeltaSource:
    """A source that is an existing Delta table: read by Spark at a pinned version (its data files alone would
    include removed rows), each row handed to the record parsers."""

    spec: SourceSpec
    version: int


def delta_sources(spark, splits) -> list[DeltaSource]:
    from postmix.storage.delta import current_version

    deltas = []
    for split in splits:
        version = current_version(spark, split.path)
        if version is None:
            raise ConfigError(f"source {split.source!r}: {split.path} is not a readable Delta table")
        deltas.append(DeltaSource(SourceSpec(split.source, split.path, split.format), version))
    return deltas


def run_ingest(spark, config, force: bool = False) -> StageOutcome:
    if not config.sources:
        raise ConfigError("ingest needs at least one source: --source NAME=PATH[:FORMAT] or a `sources:` section")
    from postmix.ingest.splits import plan_splits

    planned = plan_splits(list(config.sources), config.ingest)
    splits = [s for s in planned if s.container != DELTA]
    deltas = delta_sources(spark, [s for s in planned if s.container == DELTA])
    spec = StageSpec(
        name="ingest", params={"ingest": config.ingest, "sources": config.sources},
        params_fingerprint=config.stage_fingerprint("ingest"), inputs=(),
        input_fingerprint=inputs_fingerprint(splits, deltas),
    )
    run_id = config.effective_run_id
    return run_stage(spark, config.warehouse, run_id, spec,
                     lambda _inputs: ingest(spark, config.warehouse, run_id, splits, deltas, config.ingest), force)


def inputs_fingerprint(splits, deltas: list[DeltaSource]) -> str:
    """Files by path, size and modification time; Delta sources by version: a changed input reruns the stage."""
    files = sorted({s.path for s in splits})
    stats = [(p, *_size_and_mtime(p)) for p in files]
    return fingerprint(stats, [s.to_row() for s in splits], [(d.spec.name, d.spec.path, d.version) for d in deltas])


def _size_and_mtime(path: str) -> tuple[int, int]:
    from pyarrow import fs

    filesystem, inner = fs.FileSystem.from_uri(path) if "://" in path else (fs.LocalFileSystem(), path)
    info = filesystem.get_file_info(inner)
    mtime = info.mtime_ns if info.mtime_ns is not None else 0
    return int(info.size or 0), int(mtime)


def ingest(spark, warehouse: str, run_id: str, splits, deltas: list[DeltaSource],
           params: IngestParams) -> StageOutcome:
    from pyspark import StorageLevel

    parsed = parsed_rows(spark, splits, deltas, params).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = count_parsed(parsed)
        samples = deduplicate(parsed.where("kind = 'sample'"), run_id)
        present, version = count_existing(spark, warehouse, samples)
        counts["samples_already_present"] = present
        counts["samples_new"] = counts["rows_accepted"] - present
        merge_samples(spark, warehouse, samples, none_present_at=version if present == 0 else None)
        rejects = parsed.where("kind = 'reject'").select(*REJECT_COLUMNS).withColumn("run_id", _lit(run_id))
        merge_rows(spark, rejects, warehouse, "rejects")
    finally:
        parsed.unpersist()
    check_reconciled(counts)
    return StageOutcome(counts=counts, outputs=["samples", "rejects"])


def _lit(value):
    from pyspark.sql import functions as F

    return F.lit(value)


def parsed_rows(spark, splits, deltas: list[DeltaSource], params: IngestParams):
    """Every input row as one PARSED row (sample or reject), computed in the executors."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from postmix.ingest.parse import PARSED_SCHEMA

    schema = from_arrow_schema(PARSED_SCHEMA)
    frames = []
    if splits:
        rows = [s.to_row() for s in splits]
        rdd = spark.sparkContext.parallelize(rows, numSlices=len(rows))
        frames.append(spark.createDataFrame(rdd.map(_as_tuple), schema=_split_schema(rows))
                      .mapInArrow(_parse_splits_fn(params), schema))
    for delta in deltas:
        frames.append(_delta_rows(spark, delta).mapInArrow(_parse_delta_fn(delta, params), schema))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def _as_tuple(row: dict):
    return tuple(row[k] for k in sorted(row))


def _split_schema(rows: list[dict]):
    from pyspark.sql import types as T

    keys = sorted(rows[0])
    types = {}
    for key in keys:
        sample = next((r[key] for r in rows if r[key] is not None), None)
        types[key] = T.LongType() if isinstance(sample, int) and not isinstance(sample, bool) else T.StringType()
    return T.StructType([T.StructField(k, types[k], True) for k in keys])


def _parse_splits_fn(params: IngestParams):
    def parse_splits(batches):
        from postmix.ingest.parse import PARSED_SCHEMA, parse_split
        from postmix.ingest.splits import FileSplit

        for batch in batches:
            for row in batch.to_pylist():
                yield from _batched(parse_split(FileSplit.from_row(row), params), PARSED_SCHEMA)

    def parse(batches):
        from postmix.model_cache import stage_batches

        return stage_batches("ingest", parse_splits(batches))

    return parse


def _delta_rows(spark, delta: DeltaSource):
    """The table at the recorded version, with where each row sits (file, block) so locations are stable."""
    from pyspark.sql import functions as F

    df = spark.read.format("delta").option("versionAsOf", delta.version).load(delta.spec.path)
    return df.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("record"),
                     F.col("_metadata.file_name").alias("file_name"),
                     F.col("_metadata.file_block_start").alias("block_start"))


def _parse_delta_fn(delta: DeltaSource, params: IngestParams):
    prefix = f"{delta.spec.path}@v{delta.version}"

    def parse(batches):
        import json

        from postmix.ingest.parse import PARSED_SCHEMA, parse_records

        position: dict[tuple[str, int], int] = {}
        for batch in batches:
            for row in batch.to_pylist():
                key = (row["file_name"], row["block_start"])
                index = position.get(key, 0)
                position[key] = index + 1
                record = json.loads(row["record"])
                location_prefix = f"{prefix}/{row['file_name']}@{row['block_start']}:"
                yield from _batched(parse_records([record], delta.spec.name, delta.spec.format, location_prefix,
                                                  params, start_index=index), PARSED_SCHEMA)

    return parse


def _batched(rows, schema):
    import pyarrow as pa

    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(chunk, schema=schema)
            chunk = []
    if chunk:
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)


def count_parsed(parsed) -> dict[str, int]:
    """rows read, accepted (distinct new-or-known samples), duplicates, rejected (and by reason)."""
    from pyspark.sql import functions as F

    # One job: samples have no reason, so their group's distinct sample_ids are all of them.
    by_reason = parsed.groupBy("kind", "reason").agg(F.count(F.lit(1)).alias("count"),
                                                     F.countDistinct("sample_id").alias("distinct")).collect()
    counts = {"rows_read": 0, "rows_rejected": 0}
    valid = distinct = 0
    for row in by_reason:
        counts["rows_read"] += row["count"]
        if row["kind"] == "reject":
            counts["rows_rejected"] += row["count"]
            counts[f"rejected.{row['reason']}"] = counts.get(f"rejected.{row['reason']}", 0) + row["count"]
        else:
            valid += row["count"]
            distinct += row["distinct"]
    counts["rows_accepted"] = int(distinct)
    counts["rows_duplicate"] = valid - int(distinct)
    return counts


def check_reconciled(counts: dict[str, int]) -> None:
    total = counts["rows_accepted"] + counts["rows_duplicate"] + counts["rows_rejected"]
    if total != counts["rows_read"]:
        raise AssertionError(f"ingest counts do not reconcile: {counts}")


def deduplicate(samples, run_id: str):
    """One row per sample_id: the smallest (source, source_id, location) represents it; every holder is kept."""
    from pyspark.sql import functions as F

    order = F.struct("source", "source_id", "location")
    rep = F.min_by(F.struct(*SAMPLE_FIELDS), order)
    grouped = samples.groupBy("sample_id").agg(
        rep.alias("rep"), F.array_sort(F.collect_list(order)).alias("sources"))
    return grouped.select(
        "sample_id", "rep.messages", "rep.source", "rep.source_id", "rep.format", "sources", "rep.n_turns",
        "rep.n_chars_user", "rep.n_chars_assistant", "rep.has_system", "rep.meta",
        F.lit(run_id).alias("first_run_id"))


def count_existing(spark, warehouse: str, samples) -> tuple[int, int]:
    """How many of the samples the table holds, and at which version it was counted (0 for a table that does not
    exist yet: `ensure_table` creates it empty at version 0)."""
    path = table_path(warehouse, "samples")
    if not table_exists(spark, path):
        return 0, 0
    version = written_version(spark, path)
    existing = spark.read.format("delta").option("versionAsOf", version).load(path).select("sample_id")
    return samples.join(existing, "sample_id", "left_semi").count(), version


def merge_samples(spark, warehouse: str, samples, none_present_at: int | None = None) -> int:
    """Insert new samples; for known ones add the new holders to `sources` (nothing else changes).
    `none_present_at`: a version of the table holding none of them (merge_rows: an insert-only MERGE then)."""
    from pyspark.sql import functions as F

    union = F.array_sort(F.array_distinct(F.concat(F.col("t.sources"), F.col("s.sources"))))
    return merge_rows(spark, samples, warehouse, "samples",
                      when_matched_update={"sources": union},
                      matched_condition=~union.eqNullSafe(F.col("t.sources")), none_present_at=none_present_at)
