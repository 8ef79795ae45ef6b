import json
from pathlib import Path

import fasttext
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

from postmix.annotate.calibration import calibration_path, fit_platt, load_calibration
from postmix.annotate.labelled import decode_label, split_part, to_examples
from postmix.annotate.params import TrainParams
from postmix.annotate.train import train_classifier, train_command
from postmix.errors import ConfigError, InputError

from annotate_small_data import quality_rows, task_rows

PARAMS = TrainParams(epoch=10, lr=0.5, dim=16, bucket=20000, quantize_cutoff=2000, min_count=1)
QUALITY_PARAMS = TrainParams(epoch=10, lr=0.1, dim=16, bucket=20000, quantize_cutoff=2000, min_count=1)


def _held_out(rows, kind, params):
    """Rebuild the test split from the data and the split recipe alone (not from anything the trainer saved)."""
    examples = to_examples(rows, kind, params.quality_threshold, params.max_chars)
    cal = params.calibration_fraction if kind == "quality" else 0.0
    return [e for e in examples if split_part(e.split_key, params.split_salt, params.test_fraction, cal) == "test"]


@pytest.fixture(scope="module")
def task_card(tmp_path_factory):
    return train_classifier(task_rows(300), "task", tmp_path_factory.mktemp("task"), PARAMS, name="t")


@pytest.fixture(scope="module")
def quality_card(tmp_path_factory):
    return train_classifier(quality_rows(400), "quality", tmp_path_factory.mktemp("quality"), QUALITY_PARAMS,
                            name="q")


def test_task_card_numbers_are_recomputed_from_the_held_out_split(task_card):
    test = _held_out(task_rows(300), "task", PARAMS)
    model = fasttext.load_model(task_card.model_path)
    predicted = [decode_label(labels[0]) for labels in model.predict([e.text for e in test], k=1)[0]]
    truth = [e.label for e in test]
    m = json.loads(Path(task_card.json_path).read_text())["metrics"]
    assert m["test_rows"] == len(test)
    assert m["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-6)
    assert m["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-6)
    labels = m["confusion_matrix"]["labels"]
    assert m["confusion_matrix"]["matrix"] == confusion_matrix(truth, predicted, labels=labels).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    for j, label in enumerate(labels):
        assert m["per_class"][label] == pytest.approx(
            {"precision": precision[j], "recall": recall[j], "f1": f1[j], "support": support[j]}, abs=1e-6)
    human = [i for i, e in enumerate(test) if e.supervision == "human"]
    assert m["by_supervision"]["human"]["accuracy"] == pytest.approx(
        accuracy_score([truth[i] for i in human], [predicted[i] for i in human]), abs=1e-6)
    assert m["accuracy"] > 0.9  # the three template families are easy to tell apart


def test_task_card_lists_labels_counts_and_per_class_scores(task_card):
    card = task_card.content
    assert card["labels"] == ["Coding & Debugging", "Creative writing", "Math"]
    assert sum(card["label_counts"]["train"].values()) + sum(card["label_counts"]["test"].values()) == 300
    assert set(card["metrics"]["per_class"]["Math"]) == {"precision", "recall", "f1", "support"}
    assert card["supervision_counts"]["Math"].keys() <= {"human", "rule"}
    markdown = Path(task_card.markdown_path).read_text()
    assert "Confusion matrix" in markdown and "Coding & Debugging" in markdown
    assert task_card.model_path.endswith(".ftz")


def test_quality_card_numbers_are_recomputed_with_the_stored_calibration(quality_card):
    test = _held_out(quality_rows(400), "quality", QUALITY_PARAMS)
    model = fasttext.load_model(quality_card.model_path)
    labels, probs = model.predict([e.text for e in test], k=2)
    raw = np.array([dict(zip(map(decode_label, ls), ps))["good"] for ls, ps in zip(labels, probs)])
    calibrated = load_calibration(Path(quality_card.model_path)).apply(raw)
    truth = np.array([e.label == "good" for e in test])
    m = quality_card.content["metrics"]
    assert m["roc_auc"] == pytest.approx(roc_auc_score(truth, calibrated), abs=1e-6)
    assert m["brier"] == pytest.approx(np.mean((calibrated - truth) ** 2), abs=1e-6)
    # every bin of the calibration table, from the calibrated scores (equal-width bins, the last one closed)
    bins = np.minimum((calibrated * 10).astype(int), 9)
    for b, row in enumerate(m["calibration_table"]):
        members = bins == b
        assert row["rows"] == int(members.sum())
        if members.any():
            assert row["mean_score"] == pytest.approx(calibrated[members].mean(), abs=1e-6)
            assert row["positive_rate"] == pytest.approx(truth[members].mean(), abs=1e-6)
    # the card's accuracy is the raw model's top label (the classifier's own decision), recomputed the same way
    top = ["good" if p >= 0.5 else "bad" for p in raw]
    assert m["accuracy"] == pytest.approx(accuracy_score(["good" if t else "bad" for t in truth], top), abs=1e-6)
    assert m["roc_auc"] > 0.9
    assert calibration_path(Path(quality_card.model_path)).is_file()


def test_platt_scaling_corrects_overconfident_scores():
    # truth ~ Bernoulli(sigmoid(z)) while the raw model says sigmoid(3 z): Platt must find a ~ 1/3, b ~ 0,
    # and the calibrated scores must have a lower Brier score than the raw ones
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 20000)
    truth = rng.random(20000) < 1 / (1 + np.exp(-z))
    raw = 1 / (1 + np.exp(-3 * z))
    calibration = fit_platt(raw, truth)
    assert calibration.a == pytest.approx(1 / 3, abs=0.03) and calibration.b == pytest.approx(0, abs=0.05)
    brier = lambda p: np.mean((p - truth) ** 2)  # noqa: E731
    assert brier(calibration.apply(raw)) < brier(raw) - 0.01


def test_quality_split_keeps_each_prompt_in_one_part(quality_card):
    # rows of one prompt (the `group` field) share a part, so no prompt is in both train and test
    rows = quality_rows(400)
    examples = list(to_examples(rows, "quality", 0.5, QUALITY_PARAMS.max_chars))
    assert [e.split_key for e in examples] == [r["group"] for r in rows]
    parts = {}
    for e in examples:
        parts.setdefault(e.split_key, set()).add(split_part(e.split_key, QUALITY_PARAMS.split_salt,
                                                            QUALITY_PARAMS.test_fraction,
                                                            QUALITY_PARAMS.calibration_fraction))
    assert all(len(p) == 1 for p in parts.values())
    # and the trainer used exactly that split: its per-part counts follow from split_part
    counted = {}
    for e in examples:
        part = next(iter(parts[e.split_key]))
        counted.setdefault(part, {}).setdefault(e.label, 0)
        counted[part][e.label] += 1
    card_counts = {part: {k: v for k, v in counts.items() if v} for part, counts in
                   quality_card.content["label_counts"].items()}
    assert card_counts == counted


def test_training_is_byte_for_byte_reproducible(tmp_path):
    a = train_classifier(task_rows(150), "task", tmp_path / "a", PARAMS)
    b = train_classifier(task_rows(150), "task", tmp_path / "b", PARAMS)
    assert Path(a.model_path).read_bytes() == Path(b.model_path).read_bytes()
    assert Path(a.json_path).read_text() == Path(b.json_path).read_text()


def test_train_command_reads_jsonl_and_records_the_command(tmp_path):
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in task_rows(120)))
    card = train_command("task", data, tmp_path / "out", PARAMS)
    assert card.content["data"]["path"] == str(data) and len(card.content["data"]["sha256"]) == 64
    assert card.content["command"].startswith(f"postmix train --kind task --data {data}")
    assert "--epoch 10" in card.content["command"]


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        train_command("task", tmp_path / "missing.jsonl", tmp_path)
    with pytest.raises(ConfigError, match="kind"):
        train_classifier(task_rows(30), "sentiment", tmp_path, PARAMS)
    with pytest.raises(InputError, match="fewer than 2 labels"):
        train_classifier([{"text": f"x {i}", "label": "a"} for i in range(50)], "task", tmp_path, PARAMS)


def test_postmix_train_command_line_writes_a_card_whose_command_reproduces_the_model(tmp_path, capsys):
    import shlex

    from postmix.cli import main

    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in task_rows(120)))
    flags = ["--epoch", "10", "--lr", "0.5", "--dim", "16", "--bucket", "20000", "--quantize-cutoff", "2000",
             "--min-count", "1"]
    assert main(["train", "--kind", "task", "--data", str(data), "--out", str(tmp_path / "a"), *flags]) == 0
    printed = capsys.readouterr().out
    model = tmp_path / "a" / "task.ftz"
    assert f"model: {model}" in printed and '"accuracy"' in printed
    card = json.loads((tmp_path / "a" / "task.card.json").read_text())
    assert card["params"] == {**card["params"], "epoch": 10, "dim": 16, "bucket": 20000, "min_count": 1}
    # the recorded command, run as it is (into another folder), rebuilds the same bytes
    recorded = shlex.split(card["command"])
    assert recorded[:2] == ["postmix", "train"]
    recorded[recorded.index("--out") + 1] = str(tmp_path / "b")
    assert main(recorded[1:]) == 0
    assert (tmp_path / "b" / "task.ftz").read_bytes() == model.read_bytes()
    assert main(["train", "--kind", "task", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)]) != 0
