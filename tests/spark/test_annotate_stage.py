"""Annotate on Spark with the shipped fastText models: every sample labelled, reruns only label new samples."""

from __future__ import annotations

import json

import deltalake
import pytest

from postmix.annotate.params import TrainParams
from postmix.annotate.train import train_classifier
from postmix.config import load_config
from postmix.errors import ModelError
from postmix.spark.annotate import run_annotate
from postmix.spark.ingest import run_ingest

FIRST = [("Write a Python function that checks whether a number is prime.", "def is_prime(n): ..."),
         ("What is 17 times 23?", "17 x 23 = 391."),
         ("Write a short poem about autumn leaves.", "Red leaves drift down..."),
         ("", "")]
SECOND = [("Give me three ideas for a birthday party.", "1. Picnic 2. Karaoke 3. Escape room")]


def write(path, pairs):
    rows = [{"prompt": p or "?", "response": r or "."} for p, r in pairs]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def annotated(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("annotate")
    write(root / "a.jsonl", FIRST)
    config = load_config(None, {"sources": [f"a={root / 'a.jsonl'}"], "warehouse": str(root / "wh")})
    run_ingest(spark, config)
    return root, config, run_annotate(spark, config)


def test_every_sample_is_annotated_with_models_and_fingerprint(annotated):
    _, config, outcome = annotated
    rows = deltalake.DeltaTable(f"{config.warehouse}/annotations").to_pyarrow_table().to_pylist()
    assert outcome.counts["samples_pending"] == len(rows) == 4
    for row in rows:
        assert 0.0 <= row["quality"] <= 1.0 and row["task"] and len(row["task_probs"]) == 3
        assert row["task_model_sha256"] and row["quality_model_sha256"] and row["annotate_fingerprint"]
    coding = [r for r in rows if r["code_blocks"] == 0 and r["task"] == "Coding & Debugging"]
    assert coding, "the prime-number request should be labelled Coding & Debugging"


def test_rerun_annotates_only_new_samples(spark, annotated):
    root, config, _ = annotated
    write(root / "b.jsonl", SECOND)
    more = load_config(None, {"sources": [f"a={root / 'a.jsonl'}", f"b={root / 'b.jsonl'}"],
                              "warehouse": config.warehouse})
    run_ingest(spark, more)
    before = {r["sample_id"]: r for r in _annotations(config)}
    outcome = run_annotate(spark, more)  # a plain rerun: new input version, so the stage runs, on new rows only
    assert outcome.counts["samples_pending"] == 1 and outcome.counts["samples_already_annotated"] == 4
    after = {r["sample_id"]: r for r in _annotations(config)}
    assert len(after) == 5 and set(before) < set(after)
    assert all(after[sample_id] == row for sample_id, row in before.items())  # old rows untouched (run_id too)


def test_a_reply_to_a_known_request_re_annotates_its_group_as_a_fresh_run_would(spark, tmp_path, merge_kinds):
    # The shipped ranker scores a reply among the other replies to the same request from the same source.
    same_request = ("What is 17 times 23?", "17 times 23 is 391: 17 x 20 = 340 and 17 x 3 = 51.")
    write(tmp_path / "a.jsonl", FIRST)
    config = load_config(None, {"sources": [f"a={tmp_path / 'a.jsonl'}"], "warehouse": str(tmp_path / "wh")})
    run_ingest(spark, config)
    run_annotate(spark, config)
    before = {r["sample_id"]: r for r in _annotations(config)}
    write(tmp_path / "a.jsonl", FIRST + [same_request])
    run_ingest(spark, config)
    outcome = run_annotate(spark, config)
    assert outcome.counts["samples_pending"] == 2  # the new reply and its sibling; the other three untouched
    after = {r["sample_id"]: r for r in _annotations(config)}
    changed = {sid for sid in before if after[sid] != before[sid]}
    assert len(after) == 5 and len(changed) == 1
    # the first annotate found no table: it only inserted; the second re-annotated a row: it updated
    assert merge_kinds(f"{config.warehouse}/annotations") == ["insert", "update"]
    fresh = load_config(None, {"sources": [f"a={tmp_path / 'a.jsonl'}"], "warehouse": str(tmp_path / "fresh")})
    run_ingest(spark, fresh)
    run_annotate(spark, fresh)
    assert {sid: r["quality"] for sid, r in after.items()} == {r["sample_id"]: r["quality"]
                                                              for r in _annotations(fresh)}


def _annotations(config) -> list[dict]:
    return deltalake.DeltaTable(f"{config.warehouse}/annotations").to_pyarrow_table().to_pylist()


def test_user_model_and_user_columns_through_spark(spark, tmp_path):
    # a model the user trained (shipped to the executors by path) and the user's own label and score in meta
    rows = [{"messages": [{"role": "user", "content": f"{verb} number {i} please"},
                          {"role": "assistant", "content": "ok"}], "label": label}
            for i in range(60) for verb, label in (("add up", "Math"), ("write a poem on", "Creative writing"))]
    card = train_classifier(rows, "task", tmp_path / "model", TrainParams(epoch=10, lr=0.5, dim=16, bucket=20000,
                                                                          quantize_cutoff=2000, min_count=1),
                            name="mine")
    source = tmp_path / "scored.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in [
        {"prompt": "add up number 3 please", "response": "6", "label_by_me": "Coding & Debugging", "judge": 8},
        {"prompt": "write a poem on number 4 please", "response": "Four...", "judge": 2}]), encoding="utf-8")
    config = load_config(None, {"sources": [f"s={source}"], "warehouse": str(tmp_path / "wh"),
                                "annotate": {"task_model": card.model_path, "task_column": "meta.label_by_me",
                                             "quality_column": "meta.judge", "quality_column_scale": [0, 10],
                                             "quality_mode": "column", "batch_rows": 1}})
    run_ingest(spark, config)
    run_annotate(spark, config)
    by_prompt = {r["prompt_chars"]: r for r in _annotations(config)}
    assert len(by_prompt) == 2
    for row in by_prompt.values():
        assert row["task_model"] == "mine.ftz" and row["task_model_sha256"] == card.content["model_sha256"]
    labelled, unlabelled = by_prompt[len("add up number 3 please")], by_prompt[len("write a poem on number 4 please")]
    assert labelled["task"] == "Coding & Debugging" and labelled["task_source"] == "column"
    assert unlabelled["task"] == "Creative writing" and unlabelled["task_source"] == "model"
    assert labelled["quality"] == pytest.approx(0.8) and unlabelled["quality"] == pytest.approx(0.2)
    assert spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == "2048"  # batch_rows was scoped


def test_a_missing_model_fails_before_any_work(spark, annotated, tmp_path):
    _, config, _ = annotated
    bad = tmp_path / "task.ftz"
    bad.write_bytes(b"not a model")
    broken = load_config(None, {"warehouse": config.warehouse, "annotate": {"task_model": str(bad)}})
    before = deltalake.DeltaTable(f"{config.warehouse}/annotations").version()
    with pytest.raises(ModelError, match="task.ftz"):
        run_annotate(spark, broken)
    assert deltalake.DeltaTable(f"{config.warehouse}/annotations").version() == before
