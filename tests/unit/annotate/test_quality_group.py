"""Request-group features: agreement with and length against the other replies to the same request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from postmix.annotate.quality_group import (GROUP_FEATURES, GROUP_VECTORISER_ID, GroupModel, fit_idf,
                                            group_features, group_path, load_group_model, request_groups,
                                            save_group_model)
from postmix.annotate.quality_text import BUCKETS
from postmix.errors import ModelError
from postmix.spark.annotate import whole_groups

AGREEING = ["Paris is the capital of France, on the Seine.",
            "The capital of France is Paris, which lies on the Seine.",
            "France's capital city is Paris (on the river Seine)."]
ODD_ONE = "The capital of France is Lyon, famous for its silk weavers and its food."
COLUMN = {name: i for i, name in enumerate(GROUP_FEATURES)}


def idf_of(replies):
    return fit_idf(replies + ["unrelated words about gardening", "a note on tax forms"])


def test_the_reply_that_disagrees_with_its_siblings_has_the_lowest_agreement():
    replies = AGREEING + [ODD_ONE]
    x = group_features(request_groups(["s"] * 4, ["Capital of France?"] * 4), replies, idf_of(replies))
    agreement = x[:, COLUMN["group_agreement_mean"]]
    assert np.argmin(agreement) == 3 and agreement[3] < agreement[:3].min()
    assert x[3, COLUMN["group_agreement_rank"]] == 0.0 and x[3, COLUMN["group_agreement_z"]] < 0
    assert x[np.argmax([len(r) for r in replies]), COLUMN["group_length_rank"]] == 1.0
    assert np.isnan(x[:, COLUMN["group_weighted_agreement"]]).all()  # no prior, no weighted agreement


def test_weighted_agreement_follows_the_siblings_the_prior_rates_best():
    replies = AGREEING + [ODD_ONE, ODD_ONE.replace("silk weavers", "silk and its weavers")]
    keys = request_groups(["s"] * 5, ["Capital of France?"] * 5)
    idf = idf_of(replies)
    trust_paris = group_features(keys, replies, idf, np.array([3.0, 3.0, 3.0, -3.0, -3.0]))
    trust_lyon = group_features(keys, replies, idf, np.array([-3.0, -3.0, -3.0, 3.0, 3.0]))
    weighted = COLUMN["group_weighted_agreement"]
    assert trust_paris[0, weighted] > trust_lyon[0, weighted] and trust_paris[3, weighted] < trust_lyon[3, weighted]
    assert np.array_equal(trust_paris[:, :weighted], trust_lyon[:, :weighted])  # the prior moves nothing else
    pair = group_features(keys[:2], replies[:2], idf, np.array([1.0, 2.0]))
    assert np.isnan(pair[:, weighted:]).all()  # weighted agreement needs three replies


def test_a_reply_alone_has_no_agreement_and_middle_length_values():
    x = group_features(request_groups(["s"], ["Capital of France?"]), [ODD_ONE], idf_of([ODD_ONE]))
    assert np.isnan(x[0, :5]).all() and np.isnan(x[0, 7:]).all()
    assert x[0, COLUMN["group_length_rank"]] == 0.5 and x[0, COLUMN["group_length_z"]] == 0.0


def test_groups_are_source_and_request_and_do_not_see_each_other():
    replies = AGREEING + [ODD_ONE]
    idf = idf_of(replies)
    keys = request_groups(["a", "a", "b", "a"], ["Q"] * 4)
    assert keys[0] == keys[1] == keys[3] != keys[2]
    prior = np.array([0.5, -1.0, 2.0, 0.1])
    alone = group_features(request_groups(["a"] * 3, ["Q"] * 3), [replies[i] for i in (0, 1, 3)], idf,
                           prior[[0, 1, 3]])
    mixed = group_features(keys, replies, idf, prior)
    assert np.allclose(mixed[[0, 1, 3]], alone, equal_nan=True)  # the other source's reply changes nothing
    shuffled = group_features(keys[::-1], replies[::-1], idf, prior[::-1])[::-1]
    assert np.allclose(shuffled, mixed, equal_nan=True)  # row order inside the batch changes nothing


def test_group_model_file_round_trip_and_refusals(tmp_path):
    model = GroupModel(idf_of(AGREEING), "judge")
    path = group_path(tmp_path / "m.lgbm")
    assert path.name == "m.group.npz"
    save_group_model(model, path)
    loaded = load_group_model(path)
    assert np.array_equal(loaded.idf, model.idf) and loaded.prior_tag == "judge"
    scores = np.array([[1.0, 5.0], [2.0, 7.0]])
    assert np.array_equal(loaded.prior(scores, ("judge", "other")), [1.0, 2.0])
    assert np.array_equal(GroupModel(model.idf).prior(scores, ("judge", "other")), [6.0, 9.0])
    assert loaded.prior(None, ()) is None
    with open(tmp_path / "other.group.npz", "wb") as handle:
        np.savez(handle, idf=model.idf.astype(np.float16), prior_tag=np.array(""), vectoriser=np.array("else"))
    with pytest.raises(ModelError, match="vectoriser"):
        load_group_model(tmp_path / "other.group.npz")
    with open(tmp_path / "short.group.npz", "wb") as handle:
        np.savez(handle, idf=np.ones(10, np.float16), prior_tag=np.array(""), vectoriser=np.array(GROUP_VECTORISER_ID))
    with pytest.raises(ModelError, match=str(BUCKETS)):
        load_group_model(tmp_path / "short.group.npz")
    with pytest.raises(ModelError, match="cannot be read"):
        load_group_model(tmp_path / "missing.group.npz")


def test_whole_groups_never_split_a_key_across_batches():
    keys = [1, 1, 2, 2, 2, 3, 4, 4, 4, 4, 5]
    frame = pd.DataFrame({"k": keys, "i": range(len(keys))})
    batches = [frame.iloc[a:b] for a, b in ((0, 3), (3, 4), (4, 7), (7, 11))]
    out = list(whole_groups(iter(batches), "k"))
    assert pd.concat(out)["i"].tolist() == list(range(len(keys)))
    seen = [set(b["k"]) for b in out]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])
    assert list(whole_groups(iter([frame.iloc[:0]]), "k")) == []


def test_a_ranker_with_group_features_ships_the_idf_and_scores_a_reply_among_its_siblings(tmp_path):
    from annotate_small_data import quality_rows

    from postmix.annotate.models import clear_caches, load_model
    from postmix.annotate.params import RankerParams, TrainParams
    from postmix.annotate.quality_eval import calibrated_quality
    from postmix.annotate.quality_rank import feature_matrix, train_ranker

    rows = [dict(r, source="s") for r in quality_rows(300)]
    params = RankerParams(max_rounds=20, checkpoint_rounds=10, min_data_in_leaf=3, num_threads=1)
    card = train_ranker(rows, tmp_path, TrainParams(), (params,), name="r")
    assert card["features"][-len(GROUP_FEATURES):] == list(GROUP_FEATURES)
    assert card["group_features"]["file"] == "r.group.npz"
    clear_caches()
    model = load_model("quality", tmp_path / "r.lgbm")
    assert model.model.uses_groups
    prompt = "Explain the moon number 3 in detail."
    replies = ["Here is a clear explanation of the moon. First, it has a history.", "No.", "whatever"]
    conversations = [[{"role": "user", "content": prompt}, {"role": "assistant", "content": r}] for r in replies]
    together = feature_matrix([prompt] * 3, replies, model.model.text, model.model.group, ["s"] * 3)
    apart = np.vstack([feature_matrix([prompt], [r], model.model.text, model.model.group, ["s"]) for r in replies])
    hand = len(card["features"]) - len(GROUP_FEATURES)
    assert np.array_equal(together[:, :hand], apart[:, :hand])  # the rest of the features are the reply's own
    assert np.isnan(apart[:, hand]).all() and not np.isnan(together[:, hand]).any()
    assert calibrated_quality(model, conversations, sources=["s"] * 3).shape == (3,)
    fingerprint = model.sha256
    stored = load_group_model(group_path(tmp_path / "r.lgbm"))
    save_group_model(GroupModel(stored.idf * 2, stored.prior_tag), group_path(tmp_path / "r.lgbm"))
    clear_caches()
    assert load_model("quality", tmp_path / "r.lgbm").sha256 != fingerprint  # the idf is part of the model
    group_path(tmp_path / "r.lgbm").unlink()
    clear_caches()
    with pytest.raises(ModelError, match="cannot be read"):
        load_model("quality", tmp_path / "r.lgbm")
    plain = train_ranker(rows, tmp_path / "plain", TrainParams(), (RankerParams(
        max_rounds=20, checkpoint_rounds=10, min_data_in_leaf=3, num_threads=1, group_features=False),), name="r")
    assert plain["group_features"] is None and not group_path(tmp_path / "plain" / "r.lgbm").exists()


def brute_force_agreement(vectors: np.ndarray, siblings_of) -> np.ndarray:
    """mean, max and centroid cosine of each row against the rows siblings_of(i) names, from dense vectors."""
    out = []
    for i, v in enumerate(vectors):
        others = vectors[siblings_of(i)]
        centroid = others.sum(axis=0)
        out.append([float((others @ v).mean()), float((others @ v).max()),
                    float(centroid @ v / np.linalg.norm(centroid))])
    return np.array(out)


def test_agreement_is_against_every_sibling_and_against_the_first_max_siblings_in_a_larger_group(monkeypatch):
    from postmix.annotate import quality_group
    from postmix.annotate.quality_group import tfidf

    replies = AGREEING + [ODD_ONE, "Paris.", "It is Paris, of course, on the Seine in France."]
    idf = idf_of(replies)
    keys = request_groups(["s"] * 6, ["Q"] * 6)
    dense = tfidf(replies, idf).toarray().astype(np.float64)
    full = group_features(keys, replies, idf)[:, :3]
    assert np.allclose(full, brute_force_agreement(dense, lambda i: [j for j in range(6) if j != i]), atol=1e-6)
    monkeypatch.setattr(quality_group, "MAX_SIBLINGS", 3)
    monkeypatch.setattr(quality_group, "ROW_CHUNK", 2)  # chunks cut across the reference and the rest
    capped = group_features(keys, replies, idf)[:, :3]
    expected = brute_force_agreement(dense, lambda i: [j for j in range(3) if j != i])
    assert np.allclose(capped, expected, atol=1e-6)
