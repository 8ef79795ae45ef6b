"""Annotate on Spark with the shipped fastText models: every sample labelled, reruns only label new samples."""

from __future__ import annotations

import json

import deltalake
import pytest

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
    outcome = run_annotate(spark, more, force=True)
    assert outcome.counts["samples_pending"] == 1 and outcome.counts["samples_already_annotated"] == 4


def test_a_missing_model_fails_before_any_work(spark, annotated, tmp_path):
    _, config, _ = annotated
    bad = tmp_path / "task.ftz"
    bad.write_bytes(b"not a model")
    broken = load_config(None, {"warehouse": config.warehouse, "annotate": {"task_model": str(bad)}})
    before = deltalake.DeltaTable(f"{config.warehouse}/annotations").version()
    with pytest.raises(ModelError, match="task.ftz"):
        run_annotate(spark, broken)
    assert deltalake.DeltaTable(f"{config.warehouse}/annotations").version() == before
