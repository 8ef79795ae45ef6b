"""Checking a quality model against human preferences: hh_rlhf chosen vs rejected pairs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from postmix.annotate import metrics
from postmix.annotate.conversation import last_exchange, normalise_messages, quality_input
from postmix.annotate.labelled import decode_label
from postmix.annotate.models import LoadedModel
from postmix.annotate.quality_rank import QualityRanker
from postmix.errors import ModelError

HH_DATASET = "hh_rlhf_harmless_test"


def calibrated_quality(model: LoadedModel, messages_list, max_chars: int = 4000,
                       length_control: bool = False, sources=None) -> np.ndarray:
    """Calibrated P(good) for conversations, exactly as the annotator computes it for non-empty responses."""
    return model_quality(model, [normalise_messages(m) for m in messages_list], max_chars, length_control, sources)


def model_quality(model: LoadedModel, turns_list, max_chars: int, length_control: bool = False,
                  sources=None) -> np.ndarray:
    """Calibrated quality in [0,1] for normalised conversations, from a fastText model or the LightGBM ranker;
    `length_control` gives the variant with reply length regressed out (ranker calibrations only). A ranker with
    request-group features scores each conversation among the others given here with the same last user turn and
    the same entry of `sources` (default: all one source), so pass whole groups."""
    if length_control and model.calibration.length_control is None:
        raise ModelError(f"quality model {model.path} has no length-controlled calibration "
                         "(annotate.quality_length_control needs a ranker trained by postmix train --model lgbm-rank)")
    if not isinstance(model.model, QualityRanker):
        return calibrated_good_probability(model, [quality_input(t, max_chars) for t in turns_list])
    prompts, responses = zip(*(last_exchange(t) for t in turns_list)) if turns_list else ((), ())
    raw = model.model.raw_scores(list(prompts), list(responses), sources)
    if length_control:
        return model.calibration.length_control.apply(raw, np.array([len(r) for r in responses], dtype=np.float64))
    return model.calibration.apply(raw)


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
    """Chosen against rejected, both scored in one pool (as an ingested hh_rlhf source is annotated: the two replies
    of a pair answer the same request, so they form one request group)."""
    chosen, rejected = hh_pairs(data_dir)
    scores = calibrated_quality(model, chosen + rejected, sources=[HH_DATASET] * (len(chosen) + len(rejected)))
    return metrics.pairwise_accuracy(scores[:len(chosen)], scores[len(chosen):])
