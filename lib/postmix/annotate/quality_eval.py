"""Checking a quality model against human preferences: hh_rlhf chosen vs rejected pairs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from postmix.annotate import metrics
from postmix.annotate.conversation import normalise_messages, quality_input
from postmix.annotate.labelled import decode_label
from postmix.annotate.models import LoadedModel

HH_DATASET = "hh_rlhf_harmless_test"


def calibrated_quality(model: LoadedModel, messages_list, max_chars: int = 4000) -> np.ndarray:
    """Calibrated P(good) for conversations, exactly as the annotator computes it for non-empty responses."""
    return calibrated_good_probability(model, [quality_input(normalise_messages(m), max_chars) for m in messages_list])


def calibrated_good_probability(model: LoadedModel, lines: list[str]) -> np.ndarray:
    """Platt-calibrated P(good) for quality-model input lines (one fastText call for all)."""
    labels, probs = model.model.predict(lines, k=2)
    raw = np.array([dict(zip(map(decode_label, ls), ps))["good"] for ls, ps in zip(labels, probs)])
    return model.calibration.apply(np.clip(raw, 0.0, 1.0))


def hh_pairs(data_dir: Path) -> tuple[list, list]:
    """(chosen messages, rejected messages) per pair_id, pairs in file order; meta.preferred marks the human pick."""
    by_pair: dict[str, dict[bool, list]] = {}
    with gzip.open(data_dir / HH_DATASET / f"{HH_DATASET}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            by_pair.setdefault(row["meta"]["pair_id"], {})[bool(row["meta"]["preferred"])] = row["messages"]
    complete = [pair for pair in by_pair.values() if True in pair and False in pair]
    return [p[True] for p in complete], [p[False] for p in complete]


def hh_pairwise_accuracy(model: LoadedModel, data_dir: Path) -> dict:
    chosen, rejected = hh_pairs(data_dir)
    return metrics.pairwise_accuracy(calibrated_quality(model, chosen), calibrated_quality(model, rejected))
