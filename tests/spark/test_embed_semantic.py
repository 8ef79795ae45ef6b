"""Embed and semantic stages on real Spark + Delta with the real MiniLM model and real faiss, on a small pool."""

from __future__ import annotations

import json

import deltalake
import numpy as np
import pytest

from postmix.annotate.params import TrainParams
from postmix.annotate.taxonomy import MAGPIE_CATEGORIES
from postmix.annotate.train import train_classifier
from postmix.config import load_config
from postmix.spark.annotate import run_annotate
from postmix.spark.embed import run_embed
from postmix.spark.ingest import run_ingest
from postmix.spark.pool import collect_pool, group_columns_for, pool_rows, pool_tables, read_label_space
from postmix.spark.select import run_select
from postmix.spark.snapshot import snapshot_for
from postmix.spark.semantic import run_semantic

TOPICS = {
    "python": ["How do I sort a list in Python?", "Write a Python function that reverses a string.",
               "Explain Python decorators with an example.", "How do I read a CSV file with pandas?"],
    "cooking": ["Give me a recipe for tomato soup.", "How long should I boil an egg for a soft yolk?",
                "What spices go well with roasted carrots?", "How do I make bread dough rise faster?"],
    "travel": ["Plan a three-day trip to Rome.", "What should I pack for a week of hiking in the Alps?",
               "Which museums are worth visiting in Paris?", "How do I get from Tokyo to Kyoto by train?"],
    "math": ["What is the derivative of x squared?", "Solve 3x + 5 = 20 for x.",
             "Explain the Pythagorean theorem.", "What is the integral of sin(x)?"],
}
PLANTED = "Explain Python decorators with an example."  # asked again with another answer: same user text


def write_pool(path) -> None:
    rows = []
    for topic, questions in TOPICS.items():
        for i, question in enumerate(questions):
            for variant in range(2):
                prompt = question if variant == 0 else f"{question} Please keep it short ({topic} {i})."
                rows.append({"id": f"{topic}-{i}-{variant}", "messages": [
                    {"role": "user", "content": prompt}, {"role": "assistant", "content": f"Answer {variant}."}]})
    rows.append({"id": "planted", "messages": [{"role": "user", "content": PLANTED},
                                               {"role": "assistant", "content": "A different answer."}]})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def semantic_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("semantic")
    write_pool(root / "pool.jsonl")
    config = load_config(None, {"sources": [f"pool={root / 'pool.jsonl'}"], "warehouse": str(root / "wh"),
                                "semantic": {"k": 4, "graph_threshold": 0.3}})
    run_ingest(spark, config)
    embedded = run_embed(spark, config)
    fitted = run_semantic(spark, config)
    return config, embedded, fitted


def table(config, name):
    return deltalake.DeltaTable(f"{config.warehouse}/{name}").to_pyarrow_table().to_pylist()


def test_vectors_equal_sentence_transformers_encode(semantic_run):
    from sentence_transformers import SentenceTransformer

    from postmix.embed.encoder import resolve_model_path

    config, embedded, _ = semantic_run
    assert embedded.counts["samples_embedded"] == 33
    samples = {r["sample_id"]: r for r in table(config, "samples")}
    rows = sorted(table(config, "embeddings"), key=lambda r: r["sample_id"])
    texts = [samples[r["sample_id"]]["messages"][0]["content"] for r in rows]
    reference = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu").encode(
        texts, normalize_embeddings=True)
    stored = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    assert stored.shape == reference.shape == (33, 384)
    assert np.min(np.sum(stored * reference, axis=1)) >= 0.999
    assert {r["recipe"] for r in rows} == {"user_turns/v1/max256"}


def test_samples_with_the_same_text_share_one_encode(semantic_run):
    config, embedded, _ = semantic_run
    assert embedded.counts["texts_encoded"] == 32  # the planted sample asks what python-2-0 asks
    samples = {r["sample_id"]: r for r in table(config, "samples")}
    twins = [r for r in table(config, "embeddings") if samples[r["sample_id"]]["messages"][0]["content"] == PLANTED]
    assert len(twins) == 2 and twins[0]["sample_id"] != twins[1]["sample_id"]
    assert twins[0]["vector"] == twins[1]["vector"] and twins[0]["flags"] == twins[1]["flags"] == []


def test_embed_is_incremental(spark, semantic_run):
    config, _, _ = semantic_run
    again = run_embed(spark, config, force=True)
    assert again.counts["samples_embedded"] == 0 and again.counts["samples_already_embedded"] == 33


def test_every_sample_gets_labels_and_the_graph_is_symmetric_data(semantic_run):
    config, _, fitted = semantic_run
    # no annotations table: no task was written, so there is no task label (the user-model test below has them)
    assert fitted.counts["labels_cluster"] == 4 and fitted.counts["labels_named"] == 0
    labels = table(config, "sample_labels")
    assert len(labels) == 33 and all(r["label_ids"] and abs(sum(r["label_weights"]) - 1) < 1e-5 for r in labels)
    names = table(config, "semantic_labels")
    assert sorted(r["label_id"] for r in names) == list(range(4))
    edges = table(config, "label_graph")
    assert all(e["src"] < e["dst"] and e["weight"] >= 0.3 for e in edges)


def test_planted_copy_is_a_near_duplicate(semantic_run):
    config, _, _ = semantic_run
    samples = {r["sample_id"]: r for r in table(config, "samples")}
    dups = table(config, "near_duplicates")
    def text(sample_id):
        return samples[sample_id]["messages"][0]["content"]

    exact = [d for d in dups if text(d["sample_id"]) == PLANTED and text(d["duplicate_of"]) == PLANTED]
    assert len(exact) == 1 and exact[0]["similarity"] >= 0.999  # the same question asked twice
    kept = exact[0]["duplicate_of"]
    assert kept not in {d["sample_id"] for d in dups}  # the kept member is never itself a duplicate


def test_labels_are_stable_across_reruns(spark, semantic_run):
    config, _, _ = semantic_run
    before = sorted((r["sample_id"], r["cluster_id"], tuple(r["label_ids"])) for r in table(config, "sample_labels"))
    run_semantic(spark, config, force=True)
    after = sorted((r["sample_id"], r["cluster_id"], tuple(r["label_ids"])) for r in table(config, "sample_labels"))
    assert after == before


USER_TASKS = {"add up": "zz-arith", "write a poem on": "verse"}  # a user task model's own labels, not the defaults


@pytest.fixture(scope="module")
def user_task_run(spark, tmp_path_factory):
    """ingest -> annotate with a task model the user trained -> embed -> semantic -> select."""
    root = tmp_path_factory.mktemp("usertasks")
    train = [{"messages": [{"role": "user", "content": f"{verb} number {i} please"},
                           {"role": "assistant", "content": "ok"}], "label": label}
             for i in range(60) for verb, label in USER_TASKS.items()]
    card = train_classifier(train, "task", root / "model", TrainParams(epoch=10, lr=0.5, dim=16, bucket=20000,
                                                                      quantize_cutoff=2000, min_count=1),
                            name="usertasks")  # not "mine": SparkFiles keeps one file per name per session
    pool = [{"prompt": f"{verb} number {i} please", "response": f"answer {i}"}
            for i in range(4) for verb in USER_TASKS]
    (root / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool), encoding="utf-8")
    config = load_config(None, {"sources": [f"pool={root / 'pool.jsonl'}"], "warehouse": str(root / "wh"),
                                "run_id": "usertasks", "annotate": {"task_model": card.model_path},
                                # T = -1: every pair of labels is an edge, so each task label must be in the graph
                                "semantic": {"k": 2, "graph_threshold": -1.0},
                                "select": {"budget": 4, "exclude_near_duplicates": False}})
    for stage in (run_ingest, run_annotate, run_embed):
        stage(spark, config)
    return config, run_semantic(spark, config), run_select(spark, config)


def test_user_task_labels_are_the_task_labels_of_the_graph_and_the_pool(spark, user_task_run):
    config, fitted, _ = user_task_run
    written = {r["sample_id"]: r["task"] for r in table(config, "annotations")}
    assert set(written.values()) == set(USER_TASKS.values())  # the model's labels, none of Magpie's
    labels = sorted(table(config, "semantic_labels"), key=lambda r: r["label_id"])
    tasks = [(r["label_id"], r["name"], r["size"]) for r in labels if r["kind"] == "task"]
    assert tasks == [(2, "verse", 4), (3, "zz-arith", 4)] and fitted.counts["labels_named"] == 2
    assert not set(MAGPIE_CATEGORIES) & {r["name"] for r in labels}
    linked = {e["src"] for e in table(config, "label_graph")} | {e["dst"] for e in table(config, "label_graph")}
    assert {2, 3} <= linked

    params = config.select
    tables = snapshot_for(spark, config.warehouse, "usertasks", "select", pool_tables(params))
    space = read_label_space(tables)
    assert space.task_label_ids == {"verse": 2, "zz-arith": 3}
    groups = group_columns_for(params, tables)
    pool = collect_pool(pool_rows(tables, params, space, groups), space, groups)
    assert len(pool) == 8
    for row, sample_id in enumerate(pool.sample_ids):
        task_id = space.task_label_ids[written[sample_id]]
        assert pool.labels[row, task_id] == pytest.approx(params.task_label_weight)  # every row has its task label
    picked = table(config, "selections")
    assert len(picked) == 4 and {dict(r["groups"])["task"] for r in picked} <= set(USER_TASKS.values())


def test_switching_to_onnx_int8_re_embeds_with_a_fingerprint_naming_the_backend(spark, tmp_path, merge_kinds):
    write_pool(tmp_path / "pool.jsonl")
    overrides = {"sources": [f"pool={tmp_path / 'pool.jsonl'}"], "warehouse": str(tmp_path / "wh")}
    torch_config = load_config(None, overrides)
    run_ingest(spark, torch_config)
    run_embed(spark, torch_config)
    torch_rows = {r["sample_id"]: r for r in table(torch_config, "embeddings")}
    int8_config = load_config(None, {**overrides, "embed": {"backend": "onnx-int8"}})
    switched = run_embed(spark, int8_config)
    assert switched.counts["samples_embedded"] == 33  # another backend's vectors are not current
    rows = table(int8_config, "embeddings")
    assert len(rows) == 33
    assert {r["model_fingerprint"] for r in rows} == {torch_rows[rows[0]["sample_id"]]["model_fingerprint"]
                                                      + ":onnx-int8/v1"}
    cosine = [float(np.dot(r["vector"], torch_rows[r["sample_id"]]["vector"])) for r in rows]
    assert np.mean(cosine) >= 0.99 and min(cosine) >= 0.98
    assert merge_kinds(f"{int8_config.warehouse}/embeddings") == ["insert", "update"]  # a new table, then re-embeds


def test_a_driver_that_knows_the_weights_plans_without_loading_and_executors_check_the_dimension(
        spark, tmp_path, monkeypatch):
    from postmix.embed import encoder as module
    from postmix.embed.encoder import encoder_identity, remember_dimension, weights_digest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_pool(tmp_path / "pool.jsonl")
    config = load_config(None, {"sources": [f"pool={tmp_path / 'pool.jsonl'}"], "warehouse": str(tmp_path / "wh")})
    run_ingest(spark, config)
    identity = encoder_identity(config.embed)  # loads (or finds loaded) and notes the dimension under this cache
    # From here on a driver-side load fails the test: the stage must plan from the note alone (executors are other
    # processes and load as usual).
    monkeypatch.setattr(module, "get_encoder", lambda params: pytest.fail("the driver loaded the model"))
    embedded = run_embed(spark, config)
    assert embedded.counts["samples_embedded"] == 33
    assert {r["model_fingerprint"] for r in table(config, "embeddings")} == {identity.fingerprint}
    remember_dimension(weights_digest(module.resolve_model_path(config.embed.model)), 768)  # a stale note
    with pytest.raises(Exception, match="planned for 768"):
        run_embed(spark, config, force=True)
