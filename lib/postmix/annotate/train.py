"""`postmix train`: a fastText classifier from labelled JSONL, evaluated on a held-out split, with a model card.

Outputs in out_dir, for a model named N: N.ftz (quantized), N.card.json, N.card.md and, for quality models,
N.calibration.json (Platt scaling fitted on the calibration split; the annotator applies it).
The split is a deterministic hash of each row's split key (labelled.split_part), so anyone can rebuild the test
split from the data and the card, and recompute every number in the card.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import fasttext
import numpy as np

from postmix.annotate import metrics
from postmix.annotate.calibration import fit_platt, save_calibration
from postmix.annotate.card import render_markdown
from postmix.annotate.labelled import (KINDS, Example, decode_label, encode_label, file_sha256, read_jsonl,
                                       split_part, to_examples)
from postmix.annotate.params import TrainParams
from postmix.errors import ConfigError, InputError

TEXT_RECIPES = {
    "task": "first user turn; lower-cased, punctuation split off, whitespace collapsed, cut to max_chars",
    "quality": "last user turn (cut to max_chars/4) + ' __response__ ' + last assistant turn (cut to max_chars); "
               "lower-cased, punctuation split off, whitespace collapsed",
}


@dataclass(frozen=True)
class ModelCard:
    """What `train` produced: the file paths and the card's content (the JSON written to json_path)."""

    model_path: str
    json_path: str
    markdown_path: str
    content: dict


def train_command(kind: str, data_path: str | Path, out_dir: str | Path, params: TrainParams = TrainParams(),
                  name: Optional[str] = None, command: Optional[str] = None,
                  recipe: Optional[dict] = None) -> ModelCard:
    """Train from a labelled JSONL file (format: labelled.py). `command` and `recipe` are recorded in the card."""
    data = Path(data_path)
    if not data.is_file():
        raise InputError(f"labelled data not found: {data}")
    source = {"path": str(data), "sha256": file_sha256(data)}
    if recipe is not None:
        source["recipe"] = recipe
    shown = command or default_command_line(kind, data, Path(out_dir), params)
    return train_classifier(read_jsonl(data), kind, out_dir, params, name=name, data=source, command=shown)


def default_command_line(kind: str, data: Path, out_dir: Path, params: TrainParams) -> str:
    """The CLI call that reproduces a training run: explicit flags for every parameter that differs from default."""
    flags = [f"--{key.replace('_', '-')} {value}" for key, value in asdict(params).items()
             if value != getattr(TrainParams(), key)]
    return " ".join([f"postmix train --kind {kind} --data {data} --out {out_dir}", *flags])


def train_classifier(rows: Iterable[dict], kind: str, out_dir: str | Path, params: TrainParams = TrainParams(),
                     name: Optional[str] = None, data: Optional[dict] = None,
                     command: Optional[str] = None) -> ModelCard:
    """Split, train, quantize, calibrate (quality), evaluate on the test part, write the model and its card."""
    _check_kind_and_params(kind, params)
    examples = list(to_examples(rows, kind, params.quality_threshold, params.max_chars))
    parts = _split(examples, kind, params)
    _check_parts(parts, kind)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / f"{name or kind}.ftz"
    model = _fit_quantized(parts["train"], params, model_path)
    content = _card_content(kind, model, model_path, parts, params, data or {}, command or "")
    if kind == "quality":
        calibration = fit_platt(_good_probs(model, parts["calibration"]), _is_good(parts["calibration"]))
        save_calibration(calibration, model_path)
        content["calibration"] = asdict(calibration)
        content["metrics"].update(_quality_metrics(model, parts["test"], calibration))
    return _write_card(model_path, content)


def _check_kind_and_params(kind: str, params: TrainParams) -> None:
    if kind not in KINDS:
        raise ConfigError(f"train: kind must be one of {KINDS}, got {kind!r}")
    if not 0 < params.test_fraction < 1 or not 0 <= params.calibration_fraction < 1 \
            or params.test_fraction + params.calibration_fraction >= 1:
        raise ConfigError("train: need 0 < test_fraction, 0 <= calibration_fraction, and their sum < 1 "
                          f"(got {params.test_fraction}, {params.calibration_fraction})")


def _split(examples: Sequence[Example], kind: str, params: TrainParams) -> dict[str, list[Example]]:
    # Task models need no calibration split: its rows train the model.
    calibration_fraction = params.calibration_fraction if kind == "quality" else 0.0
    parts: dict[str, list[Example]] = {"train": [], "calibration": [], "test": []}
    for example in examples:
        parts[split_part(example.split_key, params.split_salt, params.test_fraction, calibration_fraction)] \
            .append(example)
    return parts


def _check_parts(parts: dict[str, list[Example]], kind: str) -> None:
    needed = ("train", "test", "calibration") if kind == "quality" else ("train", "test")
    for part in needed:
        if len({e.label for e in parts[part]}) < 2:
            raise InputError(f"train: the {part} split has fewer than 2 labels ({len(parts[part])} rows); "
                             "more labelled data is needed")


def _fit_quantized(train: Sequence[Example], params: TrainParams, model_path: Path):
    """fastText supervised on one thread with a fixed seed, then quantized, in a fresh child process.

    Why a child process: fasttext-numpy2 0.10.4 carries state between runs inside one process; after other fastText
    work a run can abort with "Encountered NaN." or give different bytes. A fresh process gives the same bytes for
    the same data and params every time.
    """
    with tempfile.TemporaryDirectory(prefix="postmix-train-") as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("".join(f"{encode_label(e.label)} {e.text}\n" for e in train), encoding="utf-8")
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            error = pool.submit(_train_and_save, str(train_file), params, str(model_path)).result()
    if error:
        raise ConfigError(f"train: fastText failed ({error}) with {params}; try another lr, dim or bucket")
    return fasttext.load_model(str(model_path))


def _train_and_save(train_file: str, params: TrainParams, model_path: str) -> str:
    """Runs in the child: train, quantize (no retraining, a second run), save. Returns an error message or ''."""
    try:
        model = fasttext.train_supervised(
            input=train_file, epoch=params.epoch, lr=params.lr, dim=params.dim, wordNgrams=params.word_ngrams,
            minCount=params.min_count, bucket=params.bucket, seed=params.seed, thread=1, verbose=0, loss=params.loss)
    except RuntimeError as err:
        return str(err)
    model.quantize(cutoff=params.quantize_cutoff, qnorm=True, retrain=False)
    model.save_model(model_path)
    return ""


def predict_probabilities(model, examples: Sequence[Example], labels: Sequence[str]) -> np.ndarray:
    """rows x labels matrix of fastText probabilities, columns in the order of `labels` (decoded)."""
    column = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(examples), len(labels)), dtype=np.float64)
    if not examples:
        return out
    predicted_labels, predicted_probs = model.predict([e.text for e in examples], k=-1)
    for i, (row_labels, row_probs) in enumerate(zip(predicted_labels, predicted_probs)):
        for token, prob in zip(row_labels, row_probs):
            out[i, column[decode_label(token)]] = prob
    return out


def model_labels(model) -> list[str]:
    return sorted(decode_label(token) for token in model.get_labels())


def _good_probs(model, examples: Sequence[Example]) -> np.ndarray:
    labels = model_labels(model)
    return predict_probabilities(model, examples, labels)[:, labels.index("good")]


def _is_good(examples: Sequence[Example]) -> np.ndarray:
    return np.array([e.label == "good" for e in examples])


def _card_content(kind: str, model, model_path: Path, parts: dict, params: TrainParams, data: dict,
                  command: str) -> dict:
    labels = model_labels(model)
    test = parts["test"]
    predicted = [labels[j] for j in predict_probabilities(model, test, labels).argmax(axis=1)]
    truth = [e.label for e in test]
    return {
        "kind": kind,
        "model_file": model_path.name,
        "model_sha256": file_sha256(model_path),
        "model_bytes": model_path.stat().st_size,
        "command": command,
        "data": data,
        "text_recipe": TEXT_RECIPES[kind],
        "split": {"method": "sha256(salt + NUL + key) as a fraction u in [0,1): test if u < test_fraction, "
                            "calibration if u < test_fraction + calibration_fraction (quality only), else train",
                  "key": "the row's 'group' field when present, else the model input text",
                  "salt": params.split_salt, "test_fraction": params.test_fraction,
                  "calibration_fraction": params.calibration_fraction if kind == "quality" else 0.0},
        "params": asdict(params),
        "labels": labels,
        "label_counts": {part: _counts(rows, labels) for part, rows in parts.items() if rows},
        "supervision_counts": _supervision_counts(parts),
        "metrics": {**metrics.classification_report(truth, predicted, labels),
                    "by_supervision": _by_supervision(test, predicted, labels)},
    }


def _counts(examples: Sequence[Example], labels: Sequence[str]) -> dict[str, int]:
    return {label: sum(e.label == label for e in examples) for label in labels}


def _supervision_counts(parts: dict) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for examples in parts.values():
        for e in examples:
            table.setdefault(e.label, {}).setdefault(e.supervision, 0)
            table[e.label][e.supervision] += 1
    return {label: dict(sorted(sources.items())) for label, sources in sorted(table.items())}


def _by_supervision(test: Sequence[Example], predicted: Sequence[str], labels: Sequence[str]) -> dict:
    report = {}
    for tag in sorted({e.supervision for e in test}):
        idx = [i for i, e in enumerate(test) if e.supervision == tag]
        truth, pred = [test[i].label for i in idx], [predicted[i] for i in idx]
        present = [label for label in labels if label in set(truth)]
        report[tag] = {"rows": len(idx), "accuracy": metrics.accuracy(truth, pred),
                       "macro_f1": metrics.macro_f1(truth, pred, present)}
    return report


def _quality_metrics(model, test: Sequence[Example], calibration) -> dict:
    calibrated = calibration.apply(_good_probs(model, test))
    is_good = _is_good(test)
    return {"roc_auc": metrics.roc_auc(is_good, calibrated),
            "brier": metrics.brier(is_good, calibrated),
            "calibration_table": metrics.calibration_table(is_good, calibrated, bins=10)}


def _write_card(model_path: Path, content: dict) -> ModelCard:
    stem = model_path.with_suffix("")
    json_path, markdown_path = Path(f"{stem}.card.json"), Path(f"{stem}.card.md")
    json_path.write_text(json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown_path.write_text(render_markdown(content), encoding="utf-8")
    return ModelCard(str(model_path), str(json_path), str(markdown_path), content)
