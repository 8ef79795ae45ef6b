import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from postmix.annotate.annotator import (ANNOTATION_COLUMNS, ANNOTATION_SCHEMA, annotate_frame, default_model_paths,
                                        load_annotators)
from postmix.annotate.models import DEFAULT_TASK_MODEL, FASTTEXT_QUALITY_MODEL, clear_caches
from postmix.annotate.params import AnnotateParams
from postmix.errors import ConfigError, ModelError, SchemaError


def _msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


def _frame(rows):
    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(len(rows))],
                         "messages": [r[0] for r in rows], "meta": [json.dumps(r[1]) for r in rows]})


ROWS = [
    (_msgs(("user", "Write a Python function that reverses a linked list."),
           ("assistant", "```python\ndef reverse(head):\n    prev = None\n    return prev\n```")), {}),
    (_msgs(("user", "Écris un poème sur la mer."), ("assistant", "La mer est bleue, les vagues dansent.")),
     {"judge_score": 8}),
    (_msgs(("user", "How do I pick a lock?"), ("assistant", "I'm sorry, but I can't help with that.")), {}),
    (_msgs(("user", "Solve 12 * 7 = ?"), ("assistant", "")), {"category": "Math"}),
    ([], {}),
]


@pytest.fixture(scope="module")
def annotated():
    return annotate_frame(_frame(ROWS), AnnotateParams())


def test_output_has_exactly_the_schema_columns_and_types(annotated):
    assert tuple(annotated.columns) == ANNOTATION_COLUMNS
    table = pa.Table.from_pandas(annotated, schema=ANNOTATION_SCHEMA, preserve_index=False)
    assert table.num_rows == len(ROWS)


def test_task_keeps_top_k_probabilities_sorted(annotated):
    probs = annotated.loc[0, "task_probs"]
    assert len(probs) == 3 and [p["prob"] for p in probs] == sorted((p["prob"] for p in probs), reverse=True)
    assert annotated.loc[0, "task"] == probs[0]["label"] == "Coding & Debugging"
    assert annotated.loc[0, "task_source"] == "model"


def test_quality_is_a_probability_and_empty_response_is_zero_by_rule(annotated):
    assert ((annotated["quality"] >= 0) & (annotated["quality"] <= 1)).all()
    assert annotated.loc[3, "quality"] == 0.0 and annotated.loc[3, "quality_source"] == "rule"
    assert "empty_response" in annotated.loc[3, "flags"] and annotated.loc[3, "empty_response"]


def test_language_and_heuristics(annotated):
    assert list(annotated["language"][:3]) == ["en", "fr", "en"]
    assert annotated.loc[0, "code_blocks"] == 1 and annotated.loc[2, "refusal"] and annotated.loc[3, "has_math"]
    assert annotated.loc[0, "n_turns"] == 1 and annotated.loc[0, "prompt_chars"] == len(ROWS[0][0][0]["content"])


def test_a_row_without_messages_gets_defined_values_and_flags(annotated):
    row = annotated.loc[4]
    assert row["task"] == "Others" and row["task_source"] == "rule" and len(row["task_probs"]) == 0
    assert row["language"] == "und" and row["language_prob"] == 0.0 and row["quality"] == 0.0
    assert set(row["flags"]) == {"empty_prompt", "empty_response", "empty_text"}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_row_names_models_and_their_sha256(annotated):
    for kind, path in default_model_paths().items():
        digest = _sha(path)
        companions = [path.with_name(path.name.replace(".lgbm", suffix)) for suffix in (".text.npz", ".group.npz")]
        companions = [c for c in companions if path.suffix == ".lgbm" and c.is_file()]
        if companions:  # the ranker, its text scorers and its group idf: one fingerprint of all
            lines = [f"{path.name}:{digest}"] + [f"{c.name}:{_sha(c)}" for c in companions]
            digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        assert set(annotated[f"{kind}_model"]) == {path.name}
        assert set(annotated[f"{kind}_model_sha256"]) == {digest}


def test_numpy_message_arrays_give_the_same_result(annotated):
    frame = _frame(ROWS)
    frame["messages"] = [np.array(m, dtype=object) for m in frame["messages"]]
    pd.testing.assert_frame_equal(annotate_frame(frame, AnnotateParams()), annotated)


def test_user_columns_beside_or_instead_of_the_models(annotated):
    params = AnnotateParams(task_column="meta.category", quality_column="meta.judge_score",
                            quality_column_scale=(0.0, 10.0), quality_mode="column")
    out = annotate_frame(_frame(ROWS), params)
    assert out.loc[3, "task"] == "Math" and out.loc[3, "task_source"] == "column"
    assert out.loc[3, "task_probs"] == annotated.loc[3, "task_probs"]  # the model's view is kept beside
    assert out.loc[1, "quality"] == pytest.approx(0.8) and out.loc[1, "quality_source"] == "column"
    assert out.loc[0, "quality_source"] == "model"  # no judge score on that row
    mean = annotate_frame(_frame(ROWS), AnnotateParams(quality_column="meta.judge_score", quality_mode="mean",
                                                      quality_column_scale=(0.0, 10.0)))
    assert mean.loc[1, "quality"] == pytest.approx((annotated.loc[1, "quality"] + 0.8) / 2, abs=1e-6)


def test_out_of_scale_and_invalid_user_scores_are_flagged():
    rows = [(ROWS[0][0], {"judge_score": 15}), (ROWS[0][0], {"judge_score": "n/a"})]
    params = AnnotateParams(quality_column="judge_score", quality_column_scale=(0.0, 10.0), quality_mode="column")
    out = annotate_frame(_frame(rows), params)
    assert out.loc[0, "quality"] == 1.0 and "quality_column_out_of_scale" in out.loc[0, "flags"]
    assert out.loc[1, "quality_source"] == "model" and "quality_column_invalid" in out.loc[1, "flags"]


def test_models_are_loaded_once_per_process():
    assert load_annotators(AnnotateParams()).task is load_annotators(AnnotateParams()).task


def test_missing_corrupt_or_uncalibrated_models_fail_at_load(tmp_path):
    with pytest.raises(ModelError, match="not found.*nope.ftz"):
        load_annotators(AnnotateParams(task_model=str(tmp_path / "nope.ftz")))
    corrupt = tmp_path / "corrupt.ftz"
    corrupt.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ModelError, match="corrupt.ftz"):
        load_annotators(AnnotateParams(task_model=str(corrupt)))
    uncalibrated = tmp_path / "q.ftz"
    shutil.copy(FASTTEXT_QUALITY_MODEL, uncalibrated)
    with pytest.raises(ModelError, match="calibration"):
        load_annotators(AnnotateParams(quality_model=str(uncalibrated)))
    wrong_labels = tmp_path / "task_as_quality.ftz"
    shutil.copy(DEFAULT_TASK_MODEL, wrong_labels)
    with pytest.raises(ModelError, match="exactly the labels"):
        load_annotators(AnnotateParams(quality_model=str(wrong_labels)))


def test_a_model_replaced_in_place_gets_a_new_fingerprint(tmp_path):
    path = tmp_path / "task.ftz"
    shutil.copy(DEFAULT_TASK_MODEL, path)
    first = load_annotators(AnnotateParams(task_model=str(path))).task.sha256
    shutil.copy(FASTTEXT_QUALITY_MODEL, path)  # another valid model (its good/bad labels pass as a task set)
    clear_caches()
    assert load_annotators(AnnotateParams(task_model=str(path))).task.sha256 != first


def test_bad_params_and_batches_are_clear_errors():
    # refused when the params are built (the config loads them), before any model is loaded
    with pytest.raises(ConfigError, match="quality_mode"):
        AnnotateParams(quality_mode="median")
    for mode in ("column", "mean"):
        with pytest.raises(ConfigError, match="quality_column"):
            AnnotateParams(quality_mode=mode)
    with pytest.raises(SchemaError, match="messages"):
        annotate_frame(pd.DataFrame({"sample_id": ["a"], "meta": ["{}"]}), AnnotateParams())


def test_multi_turn_heuristics_sum_over_turns_and_judge_the_last_reply():
    # docs/ANNOTATE.md: lengths sum every user / assistant turn, n_turns counts user turns, code blocks and
    # repetition read every reply, refusal / empty / truncated read the last reply only
    system = "You are terse."
    turns = [("system", system), ("user", "Show me a loop."), ("assistant", "```python\nfor i in range(3): pass\n```"),
             ("user", "Now do something illegal."), ("assistant", "I'm sorry, but I can't help with that.")]
    row = annotate_frame(_frame([(_msgs(*turns), {})]), AnnotateParams()).iloc[0]
    users = [c for r, c in turns if r == "user"]
    replies = [c for r, c in turns if r == "assistant"]
    assert row["prompt_chars"] == sum(map(len, users))  # the system turn is not the user's prompt
    assert row["response_chars"] == sum(map(len, replies))
    assert row["n_turns"] == 2 and row["code_blocks"] == 1
    assert bool(row["refusal"]) and not bool(row["empty_response"]) and not bool(row["truncated_response"])
    # the same conversation whose last reply is the code and whose first is the refusal: no refusal flagged
    swapped = turns[:2] + [turns[4]] + [turns[3]] + [turns[2]]
    other = annotate_frame(_frame([(_msgs(*swapped), {})]), AnnotateParams()).iloc[0]
    assert not bool(other["refusal"]) and other["code_blocks"] == 1
