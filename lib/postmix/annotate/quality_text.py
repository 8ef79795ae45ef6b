"""Linear text scorers inside the LightGBM quality ranker: hashed word n-grams of the reply, one pairwise logistic
model per supervision tag, stacked into the ranker as features.

Why: the hand-made features (quality_features.py) see length and structure, not wording. Judges prefer some ways
of writing (the phrasing of strong assistants, worked steps, no filler) that no count captures; a linear model on
the reply's word uni- and bigrams learns them from within-prompt pairs (a better and a worse judged answer to the
same prompt), so it learns what separates answers to one prompt, not what separates prompts.
Why one model per tag: judges differ (GPT-4 against text-davinci-003 in AlpacaEval 1, GPT-4-Turbo against itself in
AlpacaEval 2, human-written against templated rows), and the ranker combines the tags' scores as it needs.
Why hashing: no vocabulary to store or ship; the vectoriser is fixed here, so the weights are a plain array.

Training is out of fold: the ranker trains on scores the text models produced without seeing the row's group.
The file beside a ranker N.lgbm: N.text.npz (tags, weights float16 of shape buckets x tags, the vectoriser id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from postmix.annotate.params import RankerParams
from postmix.errors import ModelError

TEXT_SUFFIX = ".text.npz"
BUCKETS = 2 ** 18
SCAN_CHARS = 4000
# Words, plus the markdown marks judges react to (bold, headers, code fences, table bars, bullets).
TOKEN_PATTERN = r"(?u)\b\w+\b|[*#`|\-]{1,3}"
# Written into every weights file: a file made with another vectoriser is refused, not silently misread.
VECTORISER_ID = f"hashing-word-1-2gram-l2-{BUCKETS}-{SCAN_CHARS}-v1"
FEATURE_PREFIX = "text_pairwise__"
# LightGBM refuses JSON punctuation in feature names: a tag's feature name keeps letters, digits and "_".
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]")

_VECTORISER = HashingVectorizer(n_features=BUCKETS, ngram_range=(1, 2), token_pattern=TOKEN_PATTERN,
                                alternate_sign=False, norm="l2", lowercase=True, dtype=np.float32)


def vectorise(responses: Sequence[str]) -> sparse.csr_matrix:
    """rows x BUCKETS L2-normalised n-gram counts of the first SCAN_CHARS characters of each reply."""
    return _VECTORISER.transform(["" if r is None else str(r)[:SCAN_CHARS] for r in responses])


@dataclass(frozen=True)
class TextScorers:
    """One weight vector per supervision tag; `scores` gives rows x tags."""

    tags: tuple[str, ...]
    weights: np.ndarray  # float32, BUCKETS x len(tags)

    def __post_init__(self) -> None:
        if self.weights.shape != (BUCKETS, len(self.tags)) or not len(self.tags):
            raise ModelError(f"text scorers: weights of shape {self.weights.shape} for {len(self.tags)} tags "
                             f"(need {BUCKETS} x tags, at least one tag)")
        if len(set(self.feature_names)) != len(self.tags):
            raise ModelError(f"text scorers: supervision tags {list(self.tags)} give clashing feature names "
                             f"{list(self.feature_names)} (tags may differ only in letters, digits and '_')")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(FEATURE_PREFIX + _NAME_UNSAFE.sub("_", tag) for tag in self.tags)

    def scores(self, vectors: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(vectors @ self.weights, dtype=np.float64)


def companion_path(model_path: Path | str, suffix: str) -> Path:
    """N<suffix> beside N.lgbm (a ranker's text scorers, its group model)."""
    stem = str(model_path)[: -len(".lgbm")] if str(model_path).endswith(".lgbm") else str(model_path)
    return Path(stem + suffix)


def text_path(model_path: Path | str) -> Path:
    """N.text.npz beside N.lgbm."""
    return companion_path(model_path, TEXT_SUFFIX)


def save_text_scorers(scorers: TextScorers, path: Path) -> None:
    # Why uncompressed: np.savez_compressed embeds zip timestamps, and a rebuilt model must hash the same.
    with open(path, "wb") as handle:
        np.savez(handle, tags=np.array(scorers.tags), weights=scorers.weights.astype(np.float16),
                 vectoriser=np.array(VECTORISER_ID))


def load_text_scorers(path: Path) -> TextScorers:
    """The scorers in `path`; a missing file, another vectoriser or a damaged array is a ModelError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            vectoriser, tags, weights = str(data["vectoriser"]), tuple(str(t) for t in data["tags"]), data["weights"]
    except (OSError, KeyError, ValueError) as err:
        raise ModelError(f"quality model text scorers {path} cannot be read: {err}") from err
    if vectoriser != VECTORISER_ID:
        raise ModelError(f"quality model text scorers {path} were built with vectoriser {vectoriser!r}, this postmix "
                         f"uses {VECTORISER_ID!r} (retrain with `postmix train --model lgbm-rank`)")
    return TextScorers(tags, np.ascontiguousarray(weights, dtype=np.float32))


def sample_pairs(good: np.ndarray, query: np.ndarray, pairs_per_query: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(better, worse) row indices: up to pairs_per_query random (good, bad) pairs inside each query."""
    rng = np.random.default_rng(seed)
    better, worse = [], []
    order = np.argsort(query, kind="stable")
    _, starts = np.unique(query[order], return_index=True)
    for rows in np.split(order, starts[1:]):
        goods, bads = rows[good[rows]], rows[~good[rows]]
        if len(goods) and len(bads):
            n = min(pairs_per_query, len(goods) * len(bads))
            better.append(rng.choice(goods, n)), worse.append(rng.choice(bads, n))
    if not better:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(better), np.concatenate(worse)


def fit_pairwise(vectors: sparse.csr_matrix, good: np.ndarray, query: np.ndarray,
                 params: RankerParams) -> np.ndarray | None:
    """Weights w with w.(better - worse) > 0 for the sampled pairs (logistic loss, no intercept: a pair model is
    symmetric; RankerParams.text_pairs_per_query, text_c, seed); None when the rows hold no pair."""
    better, worse = sample_pairs(good, query, params.text_pairs_per_query, params.seed)
    if not len(better):
        return None
    diff = vectors[better] - vectors[worse]
    x = sparse.vstack([diff, -diff]).tocsr()
    y = np.r_[np.ones(len(better)), np.zeros(len(better))]
    model = LogisticRegression(C=params.text_c, fit_intercept=False, solver="liblinear", max_iter=2000,
                               random_state=params.seed)
    # Why float16: the shipped file halves (0.5 MB per tag); rounded here, so the ranker trains and is measured on
    # exactly the weights it ships with.
    return model.fit(x, y).coef_.ravel().astype(np.float16).astype(np.float32)


def fit_text_scorers(vectors: sparse.csr_matrix, good: np.ndarray, query: np.ndarray, tag: np.ndarray,
                     fold: np.ndarray, params: RankerParams) -> tuple[TextScorers | None, np.ndarray]:
    """One pairwise model per tag on all given rows, and each row's out-of-fold scores (rows x tags): the score of
    a row comes from models fitted without its fold (`fold` in 0..text_folds-1, by split key, so a prompt never
    scores itself).
    Tags without a single pair get no model; (None, rows x 0) when no tag has one."""
    tags, columns, oof = [], [], []
    for name in sorted(set(tag.tolist())):
        mine = tag == name
        full = fit_pairwise(vectors[mine], good[mine], query[mine], params)
        if full is None:
            continue
        scores = np.zeros(len(good))
        for k in range(params.text_folds):
            held = fold == k
            w = fit_pairwise(vectors[mine & ~held], good[mine & ~held], query[mine & ~held], params)
            scores[held] = vectors[held] @ w if w is not None else 0.0
        tags.append(name), columns.append(full), oof.append(scores)
    if not tags:
        return None, np.zeros((len(good), 0))
    return TextScorers(tuple(tags), np.column_stack(columns)), np.column_stack(oof)
