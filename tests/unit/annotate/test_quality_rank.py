"""The LightGBM quality ranker: vectorised features, the train recipe, the shipped model, length control."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from postmix.annotate import defaults
from postmix.annotate.annotator import annotate_frame
from postmix.annotate.calibration import load_calibration
from postmix.annotate.labelled import file_sha256
from postmix.annotate.models import FASTTEXT_QUALITY_MODEL, RANKER_QUALITY_MODEL, clear_caches, load_model
from postmix.annotate.params import AnnotateParams, RankerParams, TrainParams
from postmix.annotate.quality_eval import calibrated_quality
from postmix.annotate.quality_features import FEATURES, compute_features
from postmix.annotate.quality_rank import split_rows, train_ranker
from postmix.annotate.quality_split import is_held_out
from postmix.errors import ModelError

from annotate_small_data import quality_rows

PROMPTS = ["List three fruits?", "Write code", "", "Explain gravity in detail.", "Hi"]
REPLIES = ["Here are three:\n- apple\n- pear\n* plum\n\n# Done", "```python\nprint(1)\n", "",
           "I'm sorry, but I cannot help with that. " * 3, "Gravity is a force that pulls and it is the reason " * 6]


def _col(x, name):
    return x[:, FEATURES.index(name)]


def test_features_are_batch_independent_and_deterministic():
    x = compute_features(PROMPTS, REPLIES)
    assert x.shape == (len(REPLIES), len(FEATURES)) and np.isfinite(x).all()
    singles = np.vstack([compute_features([p], [r]) for p, r in zip(PROMPTS, REPLIES)])
    np.testing.assert_array_equal(x, singles)  # a row's features never depend on its batch
    order = [3, 0, 4, 2, 1]
    np.testing.assert_array_equal(compute_features([PROMPTS[i] for i in order], [REPLIES[i] for i in order]),
                                  x[order])
    np.testing.assert_array_equal(x, compute_features(PROMPTS, REPLIES))
    assert compute_features([], []).shape == (0, len(FEATURES))


def test_features_measure_what_they_say():
    x = compute_features(PROMPTS, REPLIES)
    assert _col(x, "bullets")[0] == 3 and _col(x, "headers")[0] == 1
    assert _col(x, "code_fences")[1] == 1 and _col(x, "unclosed_fence")[1] == 1
    assert _col(x, "empty").tolist() == [0, 0, 1, 0, 0]
    assert _col(x, "refusal")[3] == 1 and _col(x, "apology")[3] >= 3 and _col(x, "repeated_sentences")[3] > 0.5
    assert _col(x, "truncated")[4] == 1  # >= 200 chars ending in a lower-case word
    assert _col(x, "prompt_question").tolist() == [1, 0, 0, 0, 0]
    # the numpy word count over the batch buffer equals str.split per row (ASCII texts)
    np.testing.assert_allclose(np.expm1(_col(x, "resp_words_log")), [len(r.split()) for r in REPLIES])
    np.testing.assert_allclose(np.expm1(_col(x, "resp_chars_log")), [len(r) for r in REPLIES])


def test_features_count_non_ascii_characters_not_bytes():
    x = compute_features(["q"], ["naïve café — ok"])
    assert _col(x, "non_ascii_share")[0] == pytest.approx(3 / len("naïve café — ok"))


@pytest.fixture(scope="module")
def small_ranker(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranker")
    params = RankerParams(max_rounds=40, checkpoint_rounds=20, min_data_in_leaf=3, num_threads=1)
    card = train_ranker(quality_rows(600), out, TrainParams(), (params,), name="r")
    return out / "r.lgbm", card


def test_train_recipe_runs_on_a_small_labelled_sample(small_ranker):
    path, card = small_ranker
    assert path.is_file() and path.with_name("r.calibration.json").is_file()
    assert json.loads(path.with_name("r.card.json").read_text())["model_sha256"] == card["model_sha256"]
    assert "Feature importance" in path.with_name("r.card.md").read_text()
    assert card["metrics"]["test"]["unspecified"]["roc_auc"] > 0.9  # good replies explain, bad ones dodge
    assert card["rows"]["validation"]["rows"] > 0 and card["model_selection"][0]["curve"]


def test_user_trained_ranker_plugs_in_and_scores_in_unit_interval(small_ranker):
    path, _ = small_ranker
    clear_caches()
    model = load_model("quality", path)
    rows = quality_rows(40, seed=3)
    scores = calibrated_quality(model, [r["messages"] for r in rows])
    assert ((scores >= 0) & (scores <= 1)).all()
    good = np.array([r["label"] == 1.0 for r in rows])
    assert scores[good].mean() > scores[~good].mean()
    frame = pd.DataFrame({"sample_id": [str(i) for i in range(len(rows))], "messages": [r["messages"] for r in rows],
                          "meta": ["{}"] * len(rows)})
    out = annotate_frame(frame, AnnotateParams(quality_model=str(path)))
    np.testing.assert_allclose(out["quality"], scores.astype(np.float32), rtol=1e-6)
    assert set(out["quality_model"]) == {"r.lgbm"}


def test_a_ranker_file_is_validated(tmp_path, small_ranker):
    path, _ = small_ranker
    broken = tmp_path / "broken.lgbm"
    broken.write_text("not a model")
    (tmp_path / "broken.calibration.json").write_text(path.with_name("r.calibration.json").read_text())
    clear_caches()
    with pytest.raises(ModelError, match="LightGBM"):
        load_model("quality", broken)
    with pytest.raises(ModelError, match="quality rankers only"):
        load_model("task", path)


def test_shipped_ranker_is_small_loads_and_scores_in_unit_interval():
    text = RANKER_QUALITY_MODEL.with_name("quality_rank.text.npz")
    group = RANKER_QUALITY_MODEL.with_name("quality_rank.group.npz")
    # Three files: the trees (1.2 MB of LightGBM text), the text scorers (1.5 MB), the group idf (0.5 MB).
    assert sum(p.stat().st_size for p in (RANKER_QUALITY_MODEL, text, group)) <= 4 * 1024 * 1024
    card = json.loads(RANKER_QUALITY_MODEL.with_name("quality_rank.card.json").read_text())
    assert card["features"][:len(FEATURES)] == list(FEATURES)
    assert card["text_scorers"]["tags"] == ["gpt4_judge_ae1", "gpt4t_judge_ae2", "human_dolly_vs_templated_t0"]
    assert card["text_scorers"]["sha256"] == file_sha256(text)
    assert card["group_features"]["sha256"] == file_sha256(group)
    model = load_model("quality", RANKER_QUALITY_MODEL)
    assert model.model.booster.feature_name() == card["features"]
    scores = calibrated_quality(model, [[{"role": "user", "content": p}, {"role": "assistant", "content": r}]
                                        for p, r in zip(PROMPTS, REPLIES)])
    assert ((scores >= 0) & (scores <= 1)).all()


def test_length_control_is_the_documented_residual_and_changes_the_ranking():
    model = load_model("quality", RANKER_QUALITY_MODEL)
    lc = load_calibration(RANKER_QUALITY_MODEL).length_control
    base = "Gravity pulls masses together. "
    replies = [base * n for n in (1, 3, 10, 30, 60)] + ["- " + base * 2 + "\n- It keeps planets in orbit."]
    messages = [[{"role": "user", "content": "Explain gravity."}, {"role": "assistant", "content": r}]
                for r in replies]
    raw = model.model.raw_scores(["Explain gravity."] * len(replies), replies)
    plain = calibrated_quality(model, messages)
    controlled = calibrated_quality(model, messages, length_control=True)
    chars = np.array([len(r) for r in replies], dtype=float)
    expected = 1 / (1 + np.exp(-(lc.a * (raw - lc.intercept - lc.slope * np.log1p(chars)) + lc.b)))
    np.testing.assert_allclose(controlled, expected, rtol=1e-9)
    assert lc.slope > 0  # the plain score grows with length ...
    # ... so removing it moves long replies down relative to short ones
    assert (np.argsort(np.argsort(controlled)) != np.argsort(np.argsort(plain))).any()
    assert np.corrcoef(np.log1p(chars), controlled)[0, 1] < np.corrcoef(np.log1p(chars), plain)[0, 1]


def test_length_control_needs_a_model_that_has_it():
    frame = pd.DataFrame({"sample_id": ["a"], "messages": [[{"role": "user", "content": "hi"},
                                                            {"role": "assistant", "content": "hello there"}]],
                          "meta": ["{}"]})
    with pytest.raises(ModelError, match="length-controlled"):
        annotate_frame(frame, AnnotateParams(quality_model=str(FASTTEXT_QUALITY_MODEL), quality_length_control=True))
    plain = annotate_frame(frame, AnnotateParams())["quality"][0]
    controlled = annotate_frame(frame, AnnotateParams(quality_length_control=True))["quality"][0]
    assert 0 <= controlled <= 1 and controlled != plain
    fasttext = annotate_frame(frame, AnnotateParams(quality_model=str(FASTTEXT_QUALITY_MODEL)))
    assert fasttext["quality_model"][0] == FASTTEXT_QUALITY_MODEL.name  # the fastText path keeps working


def test_no_held_out_row_is_trained_on(shared_data_dir):
    """Every row the ranker learns from (train and validation parts) is outside quality_split's held-out rows, and
    every held-out row of the ranker data lands in its test part."""
    originals = {}
    for name in ("alpaca_eval1_gpt4_judged", "alpaca_eval2_gpt4t_judged", "dolly15k", "t0_p3_50k"):
        originals.update({r["id"]: r for r in defaults.read_dataset(shared_data_dir, name)})
    parts = split_rows(defaults.ranker_rows(shared_data_dir), TrainParams(), RankerParams())
    for part, rows in parts.items():
        held = np.array([is_held_out(originals[i]) for i in rows.ids])
        assert held.all() if part == "test" else not held.any(), part
    card = json.loads(RANKER_QUALITY_MODEL.with_name("quality_rank.card.json").read_text())
    assert card["rows"]["test"]["rows"] == len(parts["test"].ids)
    assert card["rows"]["train"]["rows"] == len(parts["train"].ids)


def test_postmix_train_lgbm_rank_writes_a_ranker_that_the_annotator_loads(tmp_path, capsys):
    from postmix.cli import main

    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in quality_rows(400)))
    args = ["train", "--kind", "quality", "--model", "lgbm-rank", "--data", str(data), "--name", "mine"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "model: " in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    model = tmp_path / "a" / "mine.lgbm"
    assert model.read_bytes() == (tmp_path / "b" / "mine.lgbm").read_bytes()  # deterministic recipe
    assert (tmp_path / "a" / "mine.text.npz").read_bytes() == (tmp_path / "b" / "mine.text.npz").read_bytes()
    card = json.loads((tmp_path / "a" / "mine.card.json").read_text())
    assert card["command"].startswith("postmix train --kind quality --model lgbm-rank")
    clear_caches()
    assert load_model("quality", model).calibration.length_control is not None
    assert main(["train", "--kind", "task", "--model", "lgbm-rank", "--data", str(data), "--out", str(tmp_path)]) != 0
