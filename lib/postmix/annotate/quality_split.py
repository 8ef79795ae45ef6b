"""Which shared rows the default quality scorer may learn from, and which it never sees (its held-out split).

One rule for the trainer, the quality evaluation and the curation benchmark: a row's split key is its group
(a prompt for AlpacaEval, so no prompt is in both parts; a P3 template for T0, so held-out templates are unseen
templates; the row itself for dolly), and the part is `labelled.split_part(key, salt, ...)` with the trainer's
defaults. Rows of datasets the scorer is not trained on are always held out.
"""

from __future__ import annotations

from typing import Optional

from postmix.annotate.labelled import split_part
from postmix.annotate.params import TrainParams

ALPACA_EVAL_DATASETS = ("alpaca_eval1_gpt4_judged", "alpaca_eval2_gpt4t_judged")
HUMAN_DATASET = "dolly15k"
TEMPLATED_DATASET = "t0_p3_50k"
TRAINED_DATASETS = ALPACA_EVAL_DATASETS + (HUMAN_DATASET, TEMPLATED_DATASET)
_SPLIT = TrainParams()


def dataset_of(row: dict) -> str:
    """The shared dataset a row comes from, by its id prefix (ae1-, ae2-, dolly-, t0-, ...)."""
    row_id = str(row.get("id", ""))
    for prefix, name in (("ae1-", ALPACA_EVAL_DATASETS[0]), ("ae2-", ALPACA_EVAL_DATASETS[1]),
                         ("dolly-", HUMAN_DATASET), ("t0-", TEMPLATED_DATASET)):
        if row_id.startswith(prefix):
            return name
    return "other"


def quality_group(row: dict) -> Optional[str]:
    """The split key of a row of a dataset the scorer trains on; None for every other row."""
    dataset, meta = dataset_of(row), row.get("meta") or {}
    if dataset in ALPACA_EVAL_DATASETS:
        return f"alpaca_eval-instruction-{meta['instruction_index']}"
    if dataset == HUMAN_DATASET:
        return f"dolly-{row['id']}"
    if dataset == TEMPLATED_DATASET:
        return f"t0-template-{meta['p3_dataset']}/{meta['p3_template']}"
    return None


def quality_part(row: dict) -> str:
    """'train', 'calibration' or 'test' for trained datasets; 'test' (never seen) for all others."""
    group = quality_group(row)
    if group is None:
        return "test"
    return split_part(group, _SPLIT.split_salt, _SPLIT.test_fraction, _SPLIT.calibration_fraction)


def is_held_out(row: dict) -> bool:
    """True when the default quality scorer never learned from this row (nor from its prompt or template)."""
    return quality_part(row) == "test"
