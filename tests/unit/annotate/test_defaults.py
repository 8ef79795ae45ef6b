"""The shipped default models: small, documented, and their cards' numbers reproducible from the shared data."""

import json

import fasttext
import pytest
from sklearn.metrics import accuracy_score, f1_score

from postmix.annotate import defaults
from postmix.annotate.labelled import decode_label, split_part, to_examples
from postmix.annotate.models import DEFAULT_TASK_MODEL, FASTTEXT_QUALITY_MODEL, file_sha256
from postmix.annotate.taxonomy import MAGPIE_CATEGORIES, RULE_SUPERVISED


def _card(model_path):
    return json.loads(model_path.with_suffix(".card.json").read_text())


@pytest.mark.parametrize("path", [DEFAULT_TASK_MODEL, FASTTEXT_QUALITY_MODEL])
def test_shipped_models_are_small_and_match_their_cards(path):
    assert path.stat().st_size <= 3 * 1024 * 1024
    card = _card(path)
    assert card["model_sha256"] == file_sha256(path)
    assert card["command"].startswith("PYTHONPATH=lib python -m postmix.annotate.defaults")
    assert path.with_suffix(".card.md").is_file()


def test_task_card_names_the_vocabulary_and_the_rule_supervised_classes():
    card = _card(DEFAULT_TASK_MODEL)
    assert set(card["labels"]) <= set(MAGPIE_CATEGORIES)
    assert card["data"]["recipe"]["rule_supervised_classes"] == list(RULE_SUPERVISED)
    assert card["supervision_counts"]["Math"] == {"rule": sum(card["label_counts"][p].get("Math", 0)
                                                              for p in card["label_counts"])}


def test_task_card_accuracy_is_recomputed_from_the_data_recipe(shared_data_dir):
    card = _card(DEFAULT_TASK_MODEL)
    params = defaults.TASK_PARAMS
    test = [e for e in to_examples(defaults.task_rows(shared_data_dir), "task", 0.5, params.max_chars)
            if split_part(e.split_key, params.split_salt, params.test_fraction, 0.0) == "test"]
    model = fasttext.load_model(str(DEFAULT_TASK_MODEL))
    predicted = [decode_label(ls[0]) for ls in model.predict([e.text for e in test], k=1)[0]]
    truth = [e.label for e in test]
    human = [i for i, e in enumerate(test) if e.supervision == "human"]
    assert card["metrics"]["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-6)
    human_truth, human_pred = [truth[i] for i in human], [predicted[i] for i in human]
    assert card["metrics"]["by_supervision"]["human"]["accuracy"] == pytest.approx(
        accuracy_score(human_truth, human_pred), abs=1e-6)
    present = sorted(set(human_truth))
    assert card["metrics"]["by_supervision"]["human"]["macro_f1"] == pytest.approx(
        f1_score(human_truth, human_pred, labels=present, average="macro", zero_division=0), abs=1e-6)


def test_quality_card_auc_and_hh_pairwise_are_recomputed_from_the_data_recipe(shared_data_dir):
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from postmix.annotate.models import load_model
    from postmix.annotate.quality_eval import calibrated_good_probability, calibrated_quality, hh_pairs

    card = _card(FASTTEXT_QUALITY_MODEL)
    params = defaults.QUALITY_PARAMS
    test = [e for e in to_examples(defaults.quality_rows(shared_data_dir), "quality", params.quality_threshold,
                                   params.max_chars)
            if split_part(e.split_key, params.split_salt, params.test_fraction,
                          params.calibration_fraction) == "test"]
    assert card["metrics"]["test_rows"] == len(test)
    model = load_model("quality", FASTTEXT_QUALITY_MODEL)
    calibrated = calibrated_good_probability(model, [e.text for e in test])
    truth = np.array([e.label == "good" for e in test])
    assert card["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(truth, calibrated), abs=1e-6)
    chosen, rejected = hh_pairs(shared_data_dir)
    wins = calibrated_quality(model, chosen) - calibrated_quality(model, rejected)
    recorded = card["extra_metrics"]["hh_rlhf_harmless_test pairwise accuracy"]
    assert recorded["pairs"] == len(chosen)
    assert recorded["accuracy"] == pytest.approx(((wins > 0).sum() + 0.5 * (wins == 0).sum()) / len(wins), abs=1e-6)


def test_the_ranker_learns_group_features_on_request_groups_of_every_size():
    from collections import Counter

    queries = [f"alpaca_eval1_gpt4_judged/{i}" for i in range(600)]
    largest, groups = [], set()
    for query in queries:
        shares = Counter(defaults.pool_share(query, f"ae1-system{j}-{query}") for j in range(55))
        assert shares == Counter(defaults.pool_share(query, f"ae1-system{j}-{query}") for j in range(55))  # fixed
        largest.append(max(shares.values()))
        groups.add(len(shares))
    assert max(largest) == 55 and min(largest) <= 5  # whole prompts and prompts cut into groups of a few replies
    assert min(groups) == 1 and max(groups) >= 16
