"""Held-out metrics for model cards, via scikit-learn; every float rounded to 6 decimals so cards are stable."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score


def _r(x: float) -> float:
    return round(float(x), 6)


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return _r(accuracy_score(truth, predicted)) if truth else 0.0


def macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    """Macro-F1 over `labels` (the classes the caller evaluates), zero for a class never predicted."""
    if not truth:
        return 0.0
    return _r(f1_score(truth, predicted, labels=list(labels), average="macro", zero_division=0))


def classification_report(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1 (over labels present in truth), per-class P/R/F1/support, confusion matrix."""
    present = [label for label in labels if label in set(truth)]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(labels), zero_division=0)
    matrix = confusion_matrix(truth, predicted, labels=list(labels))
    return {
        "test_rows": len(truth),
        "accuracy": accuracy(truth, predicted),
        "macro_f1": macro_f1(truth, predicted, present),
        "per_class": {label: {"precision": _r(precision[j]), "recall": _r(recall[j]), "f1": _r(f1[j]),
                              "support": int(support[j])} for j, label in enumerate(labels)},
        "confusion_matrix": {"rows": "true label", "columns": "predicted label", "labels": list(labels),
                             "matrix": matrix.astype(int).tolist()},
    }


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    return _r(roc_auc_score(np.asarray(is_positive, dtype=int), scores))


def brier(is_positive: np.ndarray, scores: np.ndarray) -> float:
    return _r(np.mean((np.asarray(scores, dtype=np.float64) - np.asarray(is_positive, dtype=np.float64)) ** 2))


def calibration_table(is_positive: np.ndarray, scores: np.ndarray, bins: int = 10) -> list[dict]:
    """Equal-width score bins [lo, hi) (the last closed): rows, mean score, observed positive rate."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(is_positive, dtype=np.float64)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        rows = int(mask.sum())
        table.append({"bin_lo": _r(b / bins), "bin_hi": _r((b + 1) / bins), "rows": rows,
                      "mean_score": _r(scores[mask].mean()) if rows else None,
                      "positive_rate": _r(positive[mask].mean()) if rows else None})
    return table


def pairwise_accuracy(chosen_scores: np.ndarray, rejected_scores: np.ndarray) -> dict:
    """How often chosen scores above rejected; ties count half (and are reported)."""
    chosen, rejected = np.asarray(chosen_scores), np.asarray(rejected_scores)
    wins, ties = float((chosen > rejected).sum()), float((chosen == rejected).sum())
    return {"pairs": int(len(chosen)), "accuracy": _r((wins + 0.5 * ties) / max(len(chosen), 1)), "ties": int(ties)}
