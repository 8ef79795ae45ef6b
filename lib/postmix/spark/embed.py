"""The embed stage on Spark: a vector for every sample that has none for the configured model.

The model is loaded on the driver first (a model that cannot load is a ModelError before any work; its fingerprint
decides which stored vectors are current), then once per Python worker. Rows are hash-partitioned and sorted by
sample_id inside each partition, so every batch - and so every vector, to the bit - is the same on every rerun;
inside a batch the encoder sorts texts by token length so that padding stays small. Torch gets as many threads as
a Spark task owns (spark.task.cpus).
"""

from __future__ import annotations

from dataclasses import replace

from postmix.embed.params import EmbedParams
from postmix.params import fingerprint
from postmix.spark.files import ship_local_file
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import merge_rows, read_table, table_exists
from postmix.storage.tables import table_path

INPUTS = ("samples",)


def current_encoder(params: EmbedParams):
    from postmix.embed.encoder import get_encoder

    return get_encoder(params)


def task_threads(spark, params: EmbedParams) -> EmbedParams:
    if params.torch_threads is not None:
        return params
    return replace(params, torch_threads=int(spark.conf.get("spark.task.cpus", "1")))


def run_embed(spark, config, force: bool = False) -> StageOutcome:
    params = task_threads(spark, config.embed)
    encoder = current_encoder(params)
    spec = StageSpec("embed", params, fingerprint(params, encoder.fingerprint), INPUTS)
    run_id = config.effective_run_id
    return run_stage(spark, config.warehouse, run_id, spec,
                     lambda _inputs: embed(spark, config.warehouse, run_id, params, encoder.fingerprint), force)


def samples_to_embed(spark, warehouse: str, params: EmbedParams, model_fp: str):
    samples = read_table(spark, warehouse, "samples").select("sample_id", "messages")
    if not table_exists(spark, table_path(warehouse, "embeddings")):
        return samples
    from pyspark.sql import functions as F

    current = (read_table(spark, warehouse, "embeddings")
               .where((F.col("model") == F.lit(params.model)) & (F.col("model_fingerprint") == F.lit(model_fp))))
    return samples.join(current.select("sample_id"), "sample_id", "left_anti")


def embed(spark, warehouse: str, run_id: str, params: EmbedParams, model_fp: str) -> StageOutcome:
    from pyspark.sql import functions as F

    from postmix.storage.spark_schema import spark_schema

    ship_local_file(spark, params.model)
    pending = samples_to_embed(spark, warehouse, params, model_fp)
    partitions = max(2, spark.sparkContext.defaultParallelism)
    ordered = pending.repartition(partitions, "sample_id").sortWithinPartitions("sample_id")
    rows = ordered.mapInPandas(_embed_fn(params, run_id, model_fp), spark_schema("embeddings")).persist()
    try:
        counts = {"samples_total": read_table(spark, warehouse, "samples").count(), "samples_embedded": rows.count()}
        if counts["samples_embedded"]:
            update = {c: F.col(f"s.{c}") for c in spark_schema("embeddings").fieldNames()
                      if c not in ("sample_id", "model")}
            merge_rows(spark, rows, warehouse, "embeddings", when_matched_update=update)
            stats = rows.agg(F.sum(F.col("truncated").cast("int")).alias("truncated"),
                             F.sum(F.col("vector").isNull().cast("int")).alias("no_vector")).first()
            counts["rows_truncated"] = int(stats["truncated"] or 0)
            counts["rows_without_vector"] = int(stats["no_vector"] or 0)
    finally:
        rows.unpersist()
    counts["samples_already_embedded"] = counts["samples_total"] - counts["samples_embedded"]
    return StageOutcome(counts=counts, outputs=["embeddings"])


def _embed_fn(params: EmbedParams, run_id: str, model_fp: str):
    def embed_batches(frames):
        from postmix.embed.encoder import embed_frame
        from postmix.spark.files import resolve_on_executor

        local = replace(params, model=resolve_on_executor(params.model))
        for pdf in frames:
            if len(pdf) == 0:
                continue
            out = embed_frame(pdf, local)
            # The configured name, not the path of an executor's shipped copy (whose content hash is the same).
            out["model"] = params.model
            out["model_fingerprint"] = model_fp
            out["run_id"] = run_id
            yield out

    return embed_batches

