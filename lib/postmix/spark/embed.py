"""The embed stage on Spark: a vector for every sample that has none for the configured model.

The driver only fingerprints the model (postmix.embed.encoder.encoder_identity): weights never loaded on this machine
are loaded there first, so a model that cannot load is a ModelError before any work; weights loaded before are not
loaded again (their dimension is remembered), which spares the driver the seconds of torch and transformers imports.
The fingerprint decides which stored vectors are current. Each Python worker loads the model once and checks that it
gives the planned dimension.

Samples whose recipe text is the same (postmix.embed.text.text_keys) share one encode: the smallest sample_id of
each text is encoded and its row is copied to the others. The encoded rows are hash-partitioned and sorted by
sample_id inside each partition, so every batch - and so every vector, to the bit - is the same on every rerun;
inside a batch the encoder sorts texts by token length so that padding stays small. Torch gets as many threads as a
Spark task owns (spark.task.cpus).
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
    from postmix.embed.encoder import encoder_identity

    params = task_threads(spark, config.embed)
    identity = encoder_identity(params)  # the model itself loads in the executors only
    spec = StageSpec("embed", params, fingerprint(params, identity.fingerprint), INPUTS)
    run_id = config.effective_run_id
    return run_stage(spark, config.warehouse, run_id, spec,
                     lambda _inputs: embed(spark, config.warehouse, run_id, params, identity), force)


def samples_to_embed(spark, warehouse: str, params: EmbedParams, model_fp: str, new_table: bool):
    """Samples with no current vector of the model; `new_table`: there is no embeddings table yet (all of them)."""
    samples = read_table(spark, warehouse, "samples").select("sample_id", "messages")
    if new_table:
        return samples
    from pyspark.sql import functions as F

    current = (read_table(spark, warehouse, "embeddings")
               .where((F.col("model") == F.lit(params.model)) & (F.col("model_fingerprint") == F.lit(model_fp))))
    return samples.join(current.select("sample_id"), "sample_id", "left_anti")


def embed(spark, warehouse: str, run_id: str, params: EmbedParams, identity) -> StageOutcome:
    from pyspark.sql import functions as F

    from postmix.storage.spark_schema import spark_schema

    ship_local_file(spark, params.model)
    # No table yet: its version 0 (the empty creation) holds none of the rows, so merge_rows may only insert them.
    new_table = not table_exists(spark, table_path(warehouse, "embeddings"))
    pending = samples_to_embed(spark, warehouse, params, identity.fingerprint, new_table)
    encoded_by = encoding_groups(pending, params.recipe).persist()
    partitions = max(2, spark.sparkContext.defaultParallelism)
    to_encode = pending.join(encoded_by.select(F.col("encoded_id").alias("sample_id")), "sample_id", "left_semi")
    ordered = to_encode.repartition(partitions, "sample_id").sortWithinPartitions("sample_id")
    encoded = ordered.mapInPandas(_embed_fn(params, run_id, identity), spark_schema("embeddings"))
    rows = fan_out(encoded_by, encoded).persist()
    try:
        # One job computes the vectors (rows is cached for the MERGE) and counts what they are.
        stats = rows.agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col("truncated").cast("int")).alias("truncated"),
                         F.sum(F.col("vector").isNull().cast("int")).alias("no_vector")).first()
        counts = {"samples_total": read_table(spark, warehouse, "samples").count(), "samples_embedded": stats["rows"],
                  "texts_encoded": encoded_by.where(F.col("text_key").isNotNull()).select("text_key").distinct().count()}
        if counts["samples_embedded"]:
            update = {c: F.col(f"s.{c}") for c in spark_schema("embeddings").fieldNames()
                      if c not in ("sample_id", "model")}
            merge_rows(spark, rows, warehouse, "embeddings", when_matched_update=update,
                       none_present_at=0 if new_table else None)
            counts["rows_truncated"] = int(stats["truncated"] or 0)
            counts["rows_without_vector"] = int(stats["no_vector"] or 0)
    finally:
        rows.unpersist()
        encoded_by.unpersist()
    counts["samples_already_embedded"] = counts["samples_total"] - counts["samples_embedded"]
    return StageOutcome(counts=counts, outputs=["embeddings"])


def encoding_groups(pending, recipe: str):
    """(sample_id, text_key, encoded_id): whose encode each pending sample takes its row from, the smallest
    sample_id with the same recipe text; a sample with no text to embed (null key) stands alone (its flags are its
    own)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = pending.select("sample_id", "messages").mapInPandas(_text_keys_fn(recipe),
                                                                "sample_id string, text_key string")
    group = F.coalesce(F.col("text_key"), F.concat(F.lit("sample:"), F.col("sample_id")))
    return keys.select("sample_id", "text_key", F.min("sample_id").over(Window.partitionBy(group)).alias("encoded_id"))


def fan_out(encoded_by, encoded):
    """Every pending sample's row: the row encoded for its text, under its own sample_id."""
    columns = [c for c in encoded.columns if c != "sample_id"]
    return (encoded_by.select("sample_id", "encoded_id")
            .join(encoded.withColumnRenamed("sample_id", "encoded_id"), "encoded_id").select("sample_id", *columns))


def _text_keys_fn(recipe: str):
    def keyed(frames):
        import pandas as pd

        from postmix.embed.text import text_keys

        for pdf in frames:
            yield pd.DataFrame({"sample_id": pdf["sample_id"], "text_key": text_keys(pdf["messages"], recipe)})

    def keys(frames):
        from postmix.model_cache import stage_batches

        return stage_batches("embed", keyed(frames))

    return keys


def _embed_fn(params: EmbedParams, run_id: str, identity):
    def embed_batches(frames):
        from postmix.model_cache import stage_batches

        return stage_batches("embed", embedded(frames))

    def embedded(frames):
        from postmix.embed.encoder import check_dimension, embed_frame, get_encoder
        from postmix.spark.files import resolve_on_executor

        local = replace(params, model=resolve_on_executor(params.model))
        for pdf in frames:
            if len(pdf) == 0:
                continue
            check_dimension(get_encoder(local), identity.dim)  # cached after the first batch
            out = embed_frame(pdf, local)
            # The configured name, not the path of an executor's shipped copy (whose content hash is the same).
            out["model"] = params.model
            out["model_fingerprint"] = identity.fingerprint
            out["run_id"] = run_id
            yield out

    return embed_batches

