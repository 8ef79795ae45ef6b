"""The ranker's linear text scorers: pairs within queries, out-of-fold scores, the file format, the fingerprint."""

import numpy as np
import pytest

from postmix.annotate import quality_text
from postmix.annotate.models import clear_caches, load_model
from postmix.annotate.params import RankerParams, TrainParams
from postmix.annotate.quality_features import FEATURES
from postmix.annotate.quality_rank import train_ranker
from postmix.annotate.quality_text import (BUCKETS, TextScorers, fit_pairwise, fit_text_scorers,
                                           load_text_scorers, sample_pairs, save_text_scorers, text_path, vectorise)
from postmix.errors import ModelError

from annotate_small_data import quality_rows

GOOD = ["Here is a step by step answer: first, measure; second, compare; finally, decide.",
        "A clear answer: the reason is physics, and here is why it matters.",
        "Step by step: first, read the question; second, answer it; finally, check."]
BAD = ["I don't know.", "No.", "Ask someone else, I guess."]


def _rows(n_queries: int):
    responses, good, query = [], [], []
    for q in range(n_queries):
        for text, is_good in ((GOOD[q % 3], True), (BAD[q % 3], False), (BAD[(q + 1) % 3], False)):
            responses.append(f"{text} (case {q})"), good.append(is_good), query.append(f"q{q}")
    return responses, np.array(good), np.array(query)


def test_pairs_are_one_good_and_one_bad_row_of_the_same_query():
    _, good, query = _rows(6)
    better, worse = sample_pairs(good, query, pairs_per_query=4, seed=0)
    assert len(better) == 6 * 2  # two (good, bad) combinations per query, fewer than 4
    assert good[better].all() and not good[worse].any() and (query[better] == query[worse]).all()
    assert sample_pairs(np.ones(3, bool), np.array(["a", "a", "b"]), 4, 0)[0].size == 0


def test_pairwise_model_ranks_the_good_reply_first_on_unseen_queries():
    responses, good, query = _rows(30)
    w = fit_pairwise(vectorise(responses), good, query, RankerParams())
    test_responses, test_good, test_query = _rows(40)
    scores = vectorise(test_responses[90:]) @ w  # queries 30..39 were never trained on
    top = [np.argmax(scores[i:i + 3]) for i in range(0, len(scores), 3)]
    assert top == [0] * 10
    assert fit_pairwise(vectorise(["a", "b"]), np.array([True, True]), np.array(["x", "y"]), RankerParams()) is None


def test_out_of_fold_scores_come_from_models_that_never_saw_the_fold():
    responses, good, query = _rows(30)
    x, tag = vectorise(responses), np.array(["judge"] * len(good))
    fold = np.array([int(q[1:]) % 5 for q in query])
    scorers, oof = fit_text_scorers(x, good, query, tag, fold, RankerParams())
    assert scorers.tags == ("judge",) and oof.shape == (len(good), 1)
    held = fold == 2
    w = fit_pairwise(x[~held], good[~held], query[~held], RankerParams())
    np.testing.assert_allclose(oof[held, 0], x[held] @ w, rtol=1e-6)
    assert not np.allclose(oof[:, 0], scorers.scores(x)[:, 0])  # the full model differs from the folds' models


def test_one_scorer_per_tag_with_pairs_and_none_without():
    responses, good, query = _rows(12)
    tag = np.array(["a_judge" if int(q[1:]) < 6 else "b judge" for q in query])
    scorers, oof = fit_text_scorers(vectorise(responses), good, query, tag, np.zeros(len(good), int), RankerParams())
    assert scorers.tags == ("a_judge", "b judge") and oof.shape == (len(good), 2)
    assert scorers.feature_names == ("text_pairwise__a_judge", "text_pairwise__b_judge")  # LightGBM-safe names
    none, empty = fit_text_scorers(vectorise(["x", "y"]), np.array([True, False]), np.array(["p", "q"]),
                                   np.array(["t", "t"]), np.zeros(2, int), RankerParams())
    assert none is None and empty.shape == (2, 0)


def test_file_round_trips_and_a_foreign_file_is_refused(tmp_path, monkeypatch):
    scorers = TextScorers(("t",), np.linspace(-1, 1, BUCKETS, dtype=np.float32).astype(np.float16)
                          .astype(np.float32).reshape(BUCKETS, 1))
    path = tmp_path / "m.text.npz"
    save_text_scorers(scorers, path)
    again = load_text_scorers(path)
    assert again.tags == ("t",) and np.array_equal(again.weights, scorers.weights)
    first = path.read_bytes()
    save_text_scorers(scorers, path)
    assert path.read_bytes() == first  # byte for byte: the model fingerprint is stable across rebuilds
    monkeypatch.setattr(quality_text, "VECTORISER_ID", "another-vectoriser")
    with pytest.raises(ModelError, match="vectoriser"):
        load_text_scorers(path)
    (tmp_path / "bad.text.npz").write_text("garbage")
    with pytest.raises(ModelError, match="cannot be read"):
        load_text_scorers(tmp_path / "bad.text.npz")
    with pytest.raises(ModelError, match="clashing"):
        TextScorers(("a b", "a_b"), np.zeros((BUCKETS, 2), np.float32))


def test_ranker_loads_its_text_scorers_and_they_are_part_of_the_fingerprint(tmp_path):
    params = RankerParams(max_rounds=20, checkpoint_rounds=10, min_data_in_leaf=3, num_threads=1)
    card = train_ranker(quality_rows(300), tmp_path, TrainParams(), (params,), name="r")
    model_path = tmp_path / "r.lgbm"
    assert text_path(model_path).is_file() and card["text_scorers"]["tags"] == ["unspecified"]
    assert card["features"][len(FEATURES)] == "text_pairwise__unspecified"  # after the hand features
    clear_caches()
    loaded = load_model("quality", model_path)
    assert loaded.model.text is not None and loaded.sha256 != card["model_sha256"]  # lgbm + text file
    scorers = loaded.model.text
    save_text_scorers(TextScorers(scorers.tags, scorers.weights * 0.5), text_path(model_path))
    clear_caches()
    assert load_model("quality", model_path).sha256 != loaded.sha256
    text_path(model_path).unlink()
    clear_caches()
    with pytest.raises(ModelError, match="cannot be read"):
        load_model("quality", model_path)
    no_text = train_ranker(quality_rows(300), tmp_path / "plain", TrainParams(),
                           (RankerParams(max_rounds=20, checkpoint_rounds=10, min_data_in_leaf=3, num_threads=1,
                                         text_features=False),), name="r")
    assert no_text["text_scorers"] is None and not text_path(tmp_path / "plain" / "r.lgbm").exists()
    clear_caches()
    assert load_model("quality", tmp_path / "plain" / "r.lgbm").model.text is None
