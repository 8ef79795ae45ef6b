"""The annotate stage on Spark: every sample without a current annotation gets one, in the executors.

Models are validated on the driver before any work (a missing or corrupt model is a ModelError at start-up), then
loaded once per Python worker by the engine-free `annotate_frame` (cached per process). A row is current when its
`annotate_fingerprint` (parameters + sha256 of every model file) matches; changing a model re-annotates every row.

A quality ranker with request-group features (postmix.annotate.quality_group) scores a reply among the other
replies to the same request from the same source, so such a group must reach `annotate_frame` whole: rows are
hash-partitioned by the group, sorted by it inside each partition, and the Arrow batches re-cut so that no group
spans two batches. A group that gains a member is annotated again as a whole (its members' scores depend on it).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from postmix.annotate.annotator import ANNOTATION_COLUMNS, load_annotators
from postmix.annotate.calibration import calibration_path
from postmix.annotate.params import AnnotateParams
from postmix.annotate.quality_rank import QualityRanker, companion_files
from postmix.params import fingerprint
from postmix.spark.files import resolve_on_executor, ship_local_file
from postmix.spark.session import ARROW_BATCH_ROWS
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import merge_rows, read_table, scoped_conf, table_exists
from postmix.storage.tables import table_path

INPUTS = ("samples",)
GROUP_KEY = "_request_group"


def annotate_fingerprint(params: AnnotateParams) -> str:
    models = load_annotators(params)
    return fingerprint(params, [models.task.sha256, models.quality.sha256, models.lid.sha256])


def run_annotate(spark, config, force: bool = False) -> StageOutcome:
    params: AnnotateParams = config.annotate
    current = annotate_fingerprint(params)  # validates every model file before any work
    spec = StageSpec("annotate", params, current, INPUTS)
    run_id = config.effective_run_id
    return run_stage(spark, config.warehouse, run_id, spec,
                     lambda _inputs: annotate(spark, config.warehouse, run_id, params, current), force)


def samples_to_annotate(spark, warehouse: str, current: str, grouped: bool, new_table: bool):
    """Samples with no annotation for the current fingerprint (incremental: new samples, or changed models); when
    `grouped`, with every other member of their request groups, keyed by GROUP_KEY. `new_table`: there is no
    annotations table yet (every sample is pending)."""
    samples = read_table(spark, warehouse, "samples").select("sample_id", "source", "messages", "meta")
    if grouped:
        samples = samples.withColumn(GROUP_KEY, request_group_key())
    if new_table:
        return samples
    from pyspark.sql import functions as F

    done = read_table(spark, warehouse, "annotations").where(F.col("annotate_fingerprint") == F.lit(current))
    pending = samples.join(done.select("sample_id"), "sample_id", "left_anti")
    if not grouped:
        return pending
    return samples.join(pending.select(GROUP_KEY).distinct(), GROUP_KEY, "left_semi")


def request_group_key():
    """A hash of (source, last user turn): rows of one request group (quality_group.request_groups, whose last user
    turn is "" when there is none) always share it; rows of two groups rarely do, and then travel together."""
    from pyspark.sql import functions as F

    last_user = F.expr("try_element_at(filter(messages, m -> m.role = 'user'), -1).content")
    return F.xxhash64(F.col("source"), F.coalesce(last_user, F.lit("")))


def uses_request_groups(params: AnnotateParams) -> bool:
    """Whether the quality model scores replies within their request groups (a ranker with group features)."""
    quality = load_annotators(params).quality.model
    return isinstance(quality, QualityRanker) and quality.uses_groups


def annotate(spark, warehouse: str, run_id: str, params: AnnotateParams, current: str) -> StageOutcome:
    from postmix.storage.spark_schema import spark_schema

    for path in (params.task_model, params.quality_model, params.lid_model):
        ship_local_file(spark, path)
    if params.quality_model:  # calibration, text scorers and idf travel with the model (SparkFiles: one folder)
        for path in (calibration_path(Path(params.quality_model)), *companion_files(params.quality_model)):
            ship_local_file(spark, str(path))
    grouped = uses_request_groups(params)
    new_table = not table_exists(spark, table_path(warehouse, "annotations"))
    pending = samples_to_annotate(spark, warehouse, current, grouped, new_table)
    total = read_table(spark, warehouse, "samples").count()
    out_schema = spark_schema("annotations")
    if grouped:
        partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
        pending = pending.repartition(partitions, GROUP_KEY).sortWithinPartitions(GROUP_KEY, "sample_id")
    rows = pending.mapInPandas(_annotate_fn(params, current, run_id, GROUP_KEY if grouped else None), out_schema)
    counts = {"samples_total": total, "samples_pending": 0}
    rows = rows.persist()
    # batch_rows: the rows per Arrow batch that annotate_frame receives (read when the plan runs, inside the block)
    with scoped_conf(spark, ARROW_BATCH_ROWS, str(params.batch_rows)):
        _write_annotations(spark, rows, warehouse, out_schema, counts, new_table)
    counts["samples_already_annotated"] = total - counts["samples_pending"]
    return StageOutcome(counts=counts, outputs=["annotations"])


def _write_annotations(spark, rows, warehouse: str, out_schema, counts: dict, new_table: bool) -> None:
    """`new_table`: there was no annotations table when the pending rows were chosen, so its version 0 (its empty
    creation) holds none of them and merge_rows may insert them without the update pass."""
    from pyspark.sql import functions as F

    try:
        counts["samples_pending"] = rows.count()
        if counts["samples_pending"]:
            update_all = {c: F.col(f"s.{c}") for c in out_schema.fieldNames() if c != "sample_id"}
            merge_rows(spark, rows, warehouse, "annotations", when_matched_update=update_all,
                       none_present_at=0 if new_table else None)
            for row in rows.groupBy("task").count().collect():
                counts[f"task.{row['task']}"] = row["count"]
            flagged = rows.select(F.explode("flags").alias("flag")).groupBy("flag").count().collect()
            counts.update({f"flag.{r['flag']}": r["count"] for r in flagged})
    finally:
        rows.unpersist()


def whole_groups(frames, key: str):
    """The batches of a partition sorted by `key`, re-cut so that rows with one key value are never split: each
    batch's trailing rows with its last key wait for the next batch (a long group makes one large batch)."""
    import pandas as pd

    carry = None
    for pdf in frames:
        if carry is not None and len(carry):
            pdf = pd.concat([carry, pdf], ignore_index=True)
        if not len(pdf):
            continue
        keys = pdf[key].to_numpy()
        cut = len(pdf) - int((keys == keys[-1]).sum())  # sorted: the last key's rows end the batch
        if cut:
            yield pdf.iloc[:cut].reset_index(drop=True)
        carry = pdf.iloc[cut:].reset_index(drop=True)
    if carry is not None and len(carry):
        yield carry


def _annotate_fn(params: AnnotateParams, current: str, run_id: str, group_key: str | None = None):
    def annotate_batches(frames):
        from postmix.model_cache import stage_batches

        return stage_batches("annotate", annotated(whole_groups(frames, group_key) if group_key else frames))

    def annotated(frames):
        from postmix.annotate.annotator import annotate_frame

        local = replace(params, task_model=resolve_on_executor(params.task_model),
                        quality_model=resolve_on_executor(params.quality_model),
                        lid_model=resolve_on_executor(params.lid_model))
        for pdf in frames:
            if len(pdf) == 0:
                continue
            out = annotate_frame(pdf, local)
            out["annotate_fingerprint"] = current
            out["run_id"] = run_id
            yield out[list(ANNOTATION_COLUMNS) + ["annotate_fingerprint", "run_id"]]

    return annotate_batches
