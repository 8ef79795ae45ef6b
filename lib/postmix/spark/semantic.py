"""The semantic stage on Spark: k-means labels, the label graph and semantic near-duplicates.

- Fit on the driver: a seeded sample of at most `fit_sample_rows` valid vectors (chosen by a hash of sample_id and
  the seed, so the same rows whatever the partitioning) is collected, faiss spherical k-means fits K centroids.
- Labels: the centroids, plus the text embeddings of the distinct tasks in `annotations` (named labels, sorted; the
  tasks annotate actually wrote, whichever task model or column gave them), make the label space; the label graph
  keeps pairs with cosine >= graph_threshold.
- Assignment in the executors: centroids are broadcast (captured in the closure), each sample gets its top-m labels.
- Near-duplicates: rows grouped by their nearest cluster, compared only inside it (SemDeDup), the best-quality
  member kept. No all-pairs comparison over the pool.
The tables hold one fit: each is replaced atomically when the embeddings (or the parameters) change.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from postmix.params import fingerprint
from postmix.semantic.params import SemanticParams
from postmix.spark.embed import current_encoder, task_threads
from postmix.spark.stage import StageOutcome, StageSpec, run_stage
from postmix.storage.delta import overwrite_table, read_table, table_exists
from postmix.storage.tables import table_path

INPUTS = ("embeddings", "annotations")
OUTPUTS = ["semantic_labels", "label_graph", "sample_labels", "near_duplicates"]


def run_semantic(spark, config, force: bool = False) -> StageOutcome:
    params: SemanticParams = config.semantic
    embed_params = task_threads(spark, config.embed)
    encoder = current_encoder(embed_params)
    spec = StageSpec("semantic", params, fingerprint(params, encoder.fingerprint), INPUTS)
    run_id = config.effective_run_id
    return run_stage(spark, config.warehouse, run_id, spec,
                     lambda _inputs: semantic(spark, config.warehouse, run_id, params, embed_params, encoder), force)


def valid_vectors(spark, warehouse: str, model: str, model_fp: str, dim: int):
    """The current model's vectors of the right dimension; anything else is counted, never fed to faiss."""
    from pyspark.sql import functions as F

    rows = read_table(spark, warehouse, "embeddings").where(F.col("model") == model)
    current = rows.where(F.col("model_fingerprint") == model_fp)
    ok = current.where(F.col("vector").isNotNull() & (F.size("vector") == dim))
    return rows, ok.select("sample_id", "vector")


def fit_sample_rows(vectors, params: SemanticParams) -> tuple[list[str], np.ndarray]:
    """A deterministic sample: the rows with the smallest hash(seed, sample_id), sorted by sample_id."""
    from pyspark.sql import functions as F

    picked = (vectors.withColumn("_h", F.xxhash64(F.lit(params.seed), "sample_id"))
              .orderBy("_h", "sample_id").limit(params.fit_sample_rows).collect())
    picked.sort(key=lambda r: r["sample_id"])
    matrix = np.asarray([r["vector"] for r in picked], dtype=np.float32)
    return [r["sample_id"] for r in picked], matrix


def semantic(spark, warehouse: str, run_id: str, params: SemanticParams, embed_params, encoder) -> StageOutcome:
    from postmix.errors import InputError
    from postmix.semantic.graph import build_label_graph, graph_edges, label_embeddings, task_label_names
    from postmix.semantic.kmeans import default_k, fit_centroids

    all_rows, vectors = valid_vectors(spark, warehouse, embed_params.model, encoder.fingerprint, encoder.dim)
    n_valid, n_all = vectors.count(), all_rows.count()
    if n_valid == 0:
        raise InputError(f"semantic: no valid vectors for model {embed_params.model!r} in {warehouse}/embeddings; "
                         f"run `postmix embed` first")
    k = params.k or default_k(n_valid)
    _, sample = fit_sample_rows(vectors, params)
    centroids = fit_centroids(sample, params, k=k)
    task_sizes = task_counts(spark, warehouse)
    named = task_label_names(task_sizes) if params.include_task_labels else []
    from postmix.embed.encoder import encode_texts

    labels = label_embeddings(centroids, named, partial(encode_texts, params=embed_params))
    graph = build_label_graph(labels.vectors, params.graph_threshold)
    # the task names are part of the label space, so a new task vocabulary is a new fit
    fit_id = fingerprint(params, encoder.fingerprint, n_valid, k, _sha(centroids), named)[:16]

    assigned = assign(vectors, centroids, params, fit_id, run_id).persist()
    try:
        overwrite_table(spark, assigned, warehouse, "sample_labels")
        sizes = {r["cluster_id"]: r["count"] for r in assigned.groupBy("cluster_id").count().collect()}
        overwrite_table(spark, labels_frame(spark, labels, len(centroids), sizes, task_sizes, fit_id, run_id),
                        warehouse, "semantic_labels")
        edges = graph_edges(graph)
        edges["fit_id"], edges["run_id"] = fit_id, run_id
        overwrite_table(spark, _edges_frame(spark, edges), warehouse, "label_graph")
        duplicates = near_duplicates(spark, warehouse, assigned, vectors, params, encoder.dim, fit_id, run_id)
        duplicates = duplicates.persist()
        overwrite_table(spark, duplicates, warehouse, "near_duplicates")
        n_dups = duplicates.count()
        duplicates.unpersist()
    finally:
        assigned.unpersist()
    degrees = np.diff(graph.indptr) - 1
    counts = {"vectors_total": n_all, "vectors_valid": n_valid, "vectors_skipped": n_all - n_valid,
              "fit_sample_rows": len(sample), "labels_cluster": len(centroids), "labels_named": len(named),
              "graph_edges": len(edges), "graph_isolated_labels": int((degrees == 0).sum()),
              "near_duplicates": n_dups}
    return StageOutcome(counts=counts, outputs=OUTPUTS)


def _sha(array: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def assign(vectors, centroids: np.ndarray, params: SemanticParams, fit_id: str, run_id: str):
    from postmix.storage.spark_schema import spark_schema

    def assign_batches(frames):
        from postmix.model_cache import stage_batches

        return stage_batches("semantic", assigned(frames))

    def assigned(frames):
        from postmix.semantic.kmeans import assign_labels

        for pdf in frames:
            if len(pdf) == 0:
                continue
            matrix = np.stack(pdf["vector"].to_numpy()).astype(np.float32)
            found = assign_labels(matrix, centroids, params)
            keep = found.label_ids >= 0
            yield _assignment_frame(pdf["sample_id"].to_numpy(), found, keep, fit_id, run_id)

    return vectors.mapInPandas(assign_batches, spark_schema("sample_labels"))


def _assignment_frame(sample_ids, found, keep, fit_id: str, run_id: str):
    import pandas as pd

    return pd.DataFrame({
        "sample_id": sample_ids,
        "cluster_id": found.cluster_id.astype(np.int32),
        "label_ids": [ids[k].astype(np.int32) for ids, k in zip(found.label_ids, keep)],
        "label_weights": [w[k].astype(np.float32) for w, k in zip(found.weights, keep)],
        "fit_id": fit_id, "run_id": run_id,
    })


def task_counts(spark, warehouse: str) -> dict[str, int]:
    """Samples per distinct task in `annotations` (none before annotate has run)."""
    if not table_exists(spark, table_path(warehouse, "annotations")):
        return {}
    rows = read_table(spark, warehouse, "annotations").groupBy("task").count().collect()
    return {r["task"]: r["count"] for r in rows}


def labels_frame(spark, labels, n_clusters: int, sizes: dict, task_sizes: dict, fit_id: str, run_id: str):
    from postmix.storage.spark_schema import spark_schema

    rows = []
    for label_id, (name, vector) in enumerate(zip(labels.names, labels.vectors)):
        is_cluster = label_id < n_clusters
        text = name.split(":", 1)[1] if ":" in name else name
        size = sizes.get(label_id, 0) if is_cluster else task_sizes.get(text, 0)
        rows.append((label_id, "cluster" if is_cluster else "task", name if is_cluster else text, int(size),
                     [float(x) for x in vector], fit_id, run_id))
    return spark.createDataFrame(rows, schema=spark_schema("semantic_labels"))


def _edges_frame(spark, edges):
    from postmix.storage.spark_schema import spark_schema

    schema = spark_schema("label_graph")
    if len(edges) == 0:
        return spark.createDataFrame([], schema=schema)
    return spark.createDataFrame(edges[schema.fieldNames()], schema=schema)


def near_duplicates(spark, warehouse: str, assigned, vectors, params: SemanticParams, dim: int, fit_id: str,
                    run_id: str):
    """SemDeDup inside each nearest-cluster group; the best-quality member (annotations) is kept."""
    from pyspark.sql import functions as F

    from postmix.storage.spark_schema import spark_schema

    rows = assigned.select("sample_id", "cluster_id").join(vectors, "sample_id")
    if table_exists(spark, table_path(warehouse, "annotations")):
        quality = read_table(spark, warehouse, "annotations").select("sample_id", "quality")
        rows = rows.join(quality, "sample_id", "left").fillna({"quality": 0.0})

    def dedup_group(pdf):
        from postmix.semantic.dedup import near_duplicates_frame

        out = near_duplicates_frame(pdf, params, dim)
        out["fit_id"], out["run_id"] = fit_id, run_id
        return out

    schema = spark_schema("near_duplicates")
    return rows.where(F.col("cluster_id") >= 0).groupBy("cluster_id").applyInPandas(dedup_group, schema)
