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


def matched_auc(positive_scores: np.ndarray, negative_scores: np.ndarray, positive_keys: np.ndarray,
                negative_keys: np.ndarray) -> float | None:
    """ROC AUC over only the (positive, negative) pairs whose keys are equal (ties half): with a reply-length bin as
    the key, how well a score separates two sets beyond what length alone does. None when no pair matches."""
    pos, neg = np.asarray(positive_scores, dtype=np.float64), np.asarray(negative_scores, dtype=np.float64)
    pos_keys, neg_keys = np.asarray(positive_keys), np.asarray(negative_keys)
    wins = pairs = 0.0
    for key in np.intersect1d(pos_keys, neg_keys):
        p, n = pos[pos_keys == key], neg[neg_keys == key]
        # one key's AUC is its share of won pairs (ties half); weighted by its pairs, they sum to the matched AUC
        wins += roc_auc_score(np.r_[np.ones(len(p)), np.zeros(len(n))], np.r_[p, n]) * len(p) * len(n)
        pairs += len(p) * len(n)
    return _r(wins / pairs) if pairs else None


def length_bin(chars: np.ndarray) -> np.ndarray:
    """Reply-length bins a factor of two wide: floor(log2(chars + 1))."""
    return np.floor(np.log2(np.asarray(chars, dtype=np.float64) + 1.0)).astype(int)


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


def within_query_pairwise(scores: np.ndarray, is_good: np.ndarray, query: np.ndarray) -> dict:
    """Over every pair of rows with the same query, one good and one bad: how often the good one scores higher
    (ties count half). Pairs are pooled over queries (micro average)."""
    scores, is_good, query = np.asarray(scores, dtype=np.float64), np.asarray(is_good, bool), np.asarray(query)
    wins = ties = pairs = 0.0
    order = np.argsort(query, kind="stable")
    _, starts = np.unique(query[order], return_index=True)
    for idx in np.split(order, starts[1:]):
        good, bad = scores[idx][is_good[idx]], scores[idx][~is_good[idx]]
        if len(good) and len(bad):
            diff = good[:, None] - bad[None, :]
            wins, ties, pairs = wins + (diff > 0).sum(), ties + (diff == 0).sum(), pairs + diff.size
    return {"pairs": int(pairs), "accuracy": _r((wins + 0.5 * ties) / pairs) if pairs else None, "ties": int(ties)}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return _r(spearmanr(a, b).statistic)


def score_report(scores: np.ndarray, label_score: np.ndarray, is_good: np.ndarray, query: np.ndarray) -> dict:
    """ROC AUC (None with one class), within-query pairwise accuracy, Spearman vs the label score."""
    one_class = len(set(np.asarray(is_good, bool).tolist())) < 2
    return {"rows": int(len(scores)), "roc_auc": None if one_class else roc_auc(is_good, scores),
            "pairwise": within_query_pairwise(scores, is_good, query),
            "spearman": None if np.ptp(label_score) == 0 else spearman(scores, label_score)}


def length_dependence(scores: np.ndarray, truth: np.ndarray, reply_chars: np.ndarray) -> dict:
    """How much of a score is reply length: R^2 of the score on log1p(chars), and the partial (Pearson)
    correlation of score and truth with log1p(chars) regressed out of both."""
    x = np.log1p(np.asarray(reply_chars, dtype=np.float64))
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(truth, dtype=np.float64)

    def residual(y):
        slope, intercept = np.polyfit(x, y, 1)
        return y - intercept - slope * x

    rs, rt = residual(s), residual(t)
    r2 = 1.0 - rs.var() / s.var() if s.var() > 0 else 0.0
    partial = float(np.corrcoef(rs, rt)[0, 1]) if rs.std() > 0 and rt.std() > 0 else 0.0
    return {"r2_on_log_length": _r(r2), "partial_corr_given_length": _r(partial),
            "corr": _r(np.corrcoef(s, t)[0, 1]) if s.std() > 0 else 0.0}
