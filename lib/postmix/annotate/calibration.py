"""Platt scaling for the quality model: p_calibrated = sigmoid(a * logit(p_fasttext) + b).

Fitted on a calibration split the trainer holds out (never the test split), stored next to the model as
`<model>.calibration.json` and applied by the annotator. Platt scaling is monotone, so it changes no ranking (AUC)
and only makes the number a probability the judge would agree with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from postmix.errors import ModelError

_EPS = 1e-6


@dataclass(frozen=True)
class PlattCalibration:
    a: float
    b: float
    method: str = "platt"
    positive_label: str = "good"

    def apply(self, raw_probs: np.ndarray) -> np.ndarray:
        z = self.a * _logit(np.asarray(raw_probs, dtype=np.float64)) + self.b
        return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def fit_platt(raw_probs: np.ndarray, is_good: np.ndarray) -> PlattCalibration:
    """Logistic regression of the label on logit(raw prob); almost unregularised (C large), deterministic (lbfgs)."""
    x = _logit(np.asarray(raw_probs, dtype=np.float64)).reshape(-1, 1)
    y = np.asarray(is_good, dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration split holds only one class; use more data or a larger calibration_fraction")
    fit = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000).fit(x, y)
    return PlattCalibration(a=float(fit.coef_[0][0]), b=float(fit.intercept_[0]))


def calibration_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".calibration.json")


def save_calibration(calibration: PlattCalibration, model_path: Path) -> Path:
    path = calibration_path(model_path)
    path.write_text(json.dumps(asdict(calibration), indent=2, sort_keys=True) + "\n")
    return path


def load_calibration(model_path: Path) -> PlattCalibration:
    """The calibration stored next to a quality model; missing or malformed is a ModelError (no raw-score fallback)."""
    path = calibration_path(model_path)
    if not path.is_file():
        raise ModelError(f"quality model {model_path} has no calibration file {path} "
                         "(train quality models with `postmix train --kind quality`, which writes it)")
    try:
        data = json.loads(path.read_text())
        calibration = PlattCalibration(a=float(data["a"]), b=float(data["b"]), method=str(data["method"]),
                                       positive_label=str(data["positive_label"]))
    except (ValueError, KeyError, TypeError) as err:
        raise ModelError(f"calibration file {path} is malformed: {err}") from err
    if calibration.method != "platt" or not np.isfinite([calibration.a, calibration.b]).all():
        raise ModelError(f"calibration file {path}: expected finite Platt parameters, got {data}")
    return calibration
