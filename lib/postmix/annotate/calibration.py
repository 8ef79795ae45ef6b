"""Platt scaling for the quality model: p_calibrated = sigmoid(a * logit(p_fasttext) + b).

For the LightGBM ranker (method "platt_score") the input is the raw ranking score: sigmoid(a * score + b). A
ranker's calibration also carries its length-controlled variant (`LengthControl`): the residual of the score
after an OLS fit on log1p(reply characters), Platt-scaled on the same calibration split.

Fitted on a calibration split the trainer holds out (never the test split), stored next to the model as
`<model>.calibration.json` and applied by the annotator. Platt scaling is monotone, so it changes no ranking (AUC)
and only makes the number a probability the judge would agree with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from sklearn.linear_model import LogisticRegression

from postmix.errors import ModelError

_EPS = 1e-6
METHODS = ("platt", "platt_score")


@dataclass(frozen=True)
class LengthControl:
    """score_lc = sigmoid(a * (score - intercept - slope * log1p(reply chars)) + b)."""

    intercept: float
    slope: float
    a: float
    b: float

    def apply(self, scores: np.ndarray, reply_chars: np.ndarray) -> np.ndarray:
        residual = np.asarray(scores, dtype=np.float64) - self.intercept - self.slope * np.log1p(reply_chars)
        return _sigmoid(self.a * residual + self.b)


@dataclass(frozen=True)
class PlattCalibration:
    a: float
    b: float
    method: str = "platt"
    positive_label: str = "good"
    length_control: Optional[LengthControl] = None

    def apply(self, raw: np.ndarray) -> np.ndarray:
        x = np.asarray(raw, dtype=np.float64)
        return _sigmoid(self.a * (_logit(x) if self.method == "platt" else x) + self.b)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def fit_platt(raw_probs: np.ndarray, is_good: np.ndarray, method: str = "platt") -> PlattCalibration:
    """Logistic regression of the label on logit(raw prob) ("platt") or on the raw score ("platt_score");
    almost unregularised (C large), deterministic (lbfgs)."""
    x = np.asarray(raw_probs, dtype=np.float64)
    a, b = _fit_logistic(_logit(x) if method == "platt" else x, is_good)
    return PlattCalibration(a=a, b=b, method=method)


def _fit_logistic(x: np.ndarray, is_good: np.ndarray) -> tuple[float, float]:
    y = np.asarray(is_good, dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration split holds only one class; use more data or a larger calibration_fraction")
    fit = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000).fit(x.reshape(-1, 1), y)
    return float(fit.coef_[0][0]), float(fit.intercept_[0])


def fit_length_control(scores: np.ndarray, reply_chars: np.ndarray, is_good: np.ndarray) -> LengthControl:
    """OLS of the raw score on log1p(reply chars), then Platt on the residual (why: a length-neutral quality)."""
    x, y = np.log1p(np.asarray(reply_chars, dtype=np.float64)), np.asarray(scores, dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    a, b = _fit_logistic(y - intercept - slope * x, is_good)
    return LengthControl(intercept=float(intercept), slope=float(slope), a=a, b=b)


def calibration_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".calibration.json")


def save_calibration(calibration: PlattCalibration, model_path: Path) -> Path:
    path = calibration_path(model_path)
    content = {k: v for k, v in asdict(calibration).items() if v is not None}  # fastText files stay as before
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    return path


def load_calibration(model_path: Path) -> PlattCalibration:
    """The calibration stored next to a quality model; missing or malformed is a ModelError (no raw-score fallback)."""
    path = calibration_path(model_path)
    if not path.is_file():
        raise ModelError(f"quality model {model_path} has no calibration file {path} "
                         "(train quality models with `postmix train --kind quality`, which writes it)")
    try:
        data = json.loads(path.read_text())
        length = data.get("length_control")
        calibration = PlattCalibration(a=float(data["a"]), b=float(data["b"]), method=str(data["method"]),
                                       positive_label=str(data["positive_label"]),
                                       length_control=None if length is None else LengthControl(
                                           **{k: float(length[k]) for k in ("intercept", "slope", "a", "b")}))
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"calibration file {path} is malformed: {err}") from err
    if calibration.method not in METHODS or not np.isfinite([calibration.a, calibration.b]).all():
        raise ModelError(f"calibration file {path}: expected finite Platt parameters, got {data}")
    return calibration
