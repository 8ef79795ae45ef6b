"""Request-group features of the quality ranker: how a reply stands among the other replies to the same request.

A request group is every reply in the pool to the same request from the same source: the same last user turn
(conversation.last_exchange) under the same `source` name. AlpacaEval-style data holds dozens of systems' answers
to one instruction, preference data two or more; most rows of most pools are alone in their group.

Why agreement: facts that many independent writers state recur across their answers, while a hallucinated list or a
wrong result is idiosyncratic; how close a reply sits to the others (minimum-Bayes-risk style consensus) carries
correctness that no feature of the reply alone can see. Why length inside the group: judges compare answers to one
request, so a reply's length against its siblings says more than its length against every request.

Features per reply i of a group of n, from its TF-IDF vector v_i (word unigrams of the first SCAN_CHARS characters,
hashed into quality_text.BUCKETS buckets, sublinear tf, idf fitted on the training replies and shipped with the
model, L2-normalised) and S = V V^T over the group:
  group_agreement_mean      mean_{j != i} S_ij
  group_agreement_max       max_{j != i} S_ij
  group_agreement_centroid  cosine of v_i to the mean of the other replies' vectors
  group_agreement_z         group_agreement_mean standardised inside the group (0 when all agree equally)
  group_agreement_rank      percentile rank of group_agreement_mean inside the group
  group_length_rank         percentile rank of log1p(reply chars) inside the group (0.5 when alone)
  group_length_z            log1p(reply chars) standardised inside the group (0 when alone)
and, with a prior score p per reply (the ranker's text scorers, summed over tags) standardised inside the group
as z, agreement with the replies the prior rates best (groups of 3 or more):
  group_weighted_agreement    sum_{j != i} e^{z_j} S_ij / sum_{j != i} e^{z_j}
  group_top5_agreement        mean S_ij over the 5 siblings with the highest prior
  group_weighted_agreement_z  group_weighted_agreement standardised inside the group
A reply alone in its group has no agreement: those features are missing (NaN; LightGBM routes them as it learned
to), the length ones take their alone values. No feature describes the group itself (its size, its mean length or
agreement): in the training data those name the judge (every AlpacaEval 1 prompt has 53 replies, every AlpacaEval 2
prompt 58), which a pool's groups would not.

The file beside a ranker N.lgbm that uses them: N.group.npz (the idf as float16, the vectoriser id). The features
of a reply depend on its group, so the annotate stage scores whole groups together (spark/annotate.py) and
re-scores a group's members when it gains one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from scipy import sparse
from scipy.stats import rankdata
from sklearn.feature_extraction.text import HashingVectorizer

from postmix.annotate.quality_text import BUCKETS, SCAN_CHARS, TOKEN_PATTERN, companion_path
from postmix.errors import ModelError

GROUP_SUFFIX = ".group.npz"
GROUP_VECTORISER_ID = f"hashing-word-1gram-sublinear-tfidf-l2-{BUCKETS}-{SCAN_CHARS}-v1"
GROUP_FEATURES = (
    "group_agreement_mean", "group_agreement_max", "group_agreement_centroid", "group_agreement_z",
    "group_agreement_rank", "group_length_rank", "group_length_z", "group_weighted_agreement",
    "group_top5_agreement", "group_weighted_agreement_z",
)
_AGREEMENT, _LENGTH, _WEIGHTED = slice(0, 5), slice(5, 7), slice(7, 10)
TOP_SIBLINGS = 5
# Each reply is compared with at most this many replies of its group (the first ones in the group's row order), in
# chunks of ROW_CHUNK replies: memory and time stay linear in the group's size.
MAX_SIBLINGS = 512
ROW_CHUNK = 2048

_UNIGRAMS = HashingVectorizer(n_features=BUCKETS, ngram_range=(1, 1), token_pattern=TOKEN_PATTERN,
                              alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)


def request_groups(sources: Sequence[str], prompts: Sequence[str]) -> np.ndarray:
    """One key per row: replies with the same source and the same last user turn share it."""
    return np.array([hashlib.sha256(f"{s}\x00{p}".encode("utf-8", "surrogatepass")).hexdigest()
                     for s, p in zip(sources, prompts)], dtype=object)


def _counts(responses: Sequence[str]) -> sparse.csr_matrix:
    return _UNIGRAMS.transform(["" if r is None else str(r)[:SCAN_CHARS] for r in responses]).tocsr()


def fit_idf(responses: Sequence[str]) -> np.ndarray:
    """Smoothed idf per bucket over these replies, rounded to float16 (what the model file keeps)."""
    counts = _counts(responses)
    df = np.bincount(counts.indices, minlength=BUCKETS)
    idf = np.log((counts.shape[0] + 1) / (df + 1)) + 1
    return idf.astype(np.float16).astype(np.float32)


def tfidf(responses: Sequence[str], idf: np.ndarray) -> sparse.csr_matrix:
    """L2-normalised sublinear TF-IDF rows."""
    counts = _counts(responses)
    counts.data = 1 + np.log(counts.data)
    weighted = (counts @ sparse.diags(idf)).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return (sparse.diags(1 / np.maximum(norms, 1e-12)) @ weighted).tocsr()


def group_features(groups: np.ndarray, responses: Sequence[str], idf: np.ndarray,
                   prior: Optional[np.ndarray] = None) -> np.ndarray:
    """rows x len(GROUP_FEATURES), every group taken as it is in these rows (pass whole groups); without a prior
    the weighted columns are missing."""
    out = np.full((len(responses), len(GROUP_FEATURES)), np.nan)
    if not len(responses):
        return out
    log_len = np.log1p(np.array([len(r or "") for r in responses], dtype=np.float64))
    order = np.argsort(groups, kind="stable")
    _, starts = np.unique(groups[order], return_index=True)
    members = [np.sort(rows) for rows in np.split(order, starts[1:])]  # each group in row order
    shared = [rows for rows in members if len(rows) > 1]
    vectors = tfidf([responses[i] for rows in shared for i in rows], idf) if shared else None
    offset = 0
    for rows in members:
        out[rows, _LENGTH] = np.column_stack([_percentile_rank(log_len[rows]), _standardised(log_len[rows])])
        if len(rows) < 2:
            continue
        block = vectors[offset:offset + len(rows)]
        offset += len(rows)
        agreement, weighted = _group_columns(block, None if prior is None else prior[rows])
        out[rows, _AGREEMENT] = agreement
        if weighted is not None:
            out[rows, _WEIGHTED] = weighted
    return out


def _group_columns(block: sparse.csr_matrix,
                   prior: Optional[np.ndarray]) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """The agreement columns of one group's replies, and the weighted ones (None without a prior or under 3 replies).

    Why a reference: every reply is compared with the group's first MAX_SIBLINGS replies (all of them in any group
    up to that size), so a request answered 100,000 times costs 100,000 x MAX_SIBLINGS products, computed in row
    chunks, not a 100,000-square matrix."""
    n, m = block.shape[0], min(block.shape[0], MAX_SIBLINGS)
    reference = block[:m].T.tocsc()
    gram_total = float((block[:m] @ reference).sum())
    weights = np.exp(_standardised(prior[:m])) if prior is not None and n > 2 else None
    ranked = np.argsort(-prior[:m], kind="stable") if weights is not None else None
    agreement = np.zeros((n, 5))
    weighted = np.zeros((n, 3)) if weights is not None else None
    for first in range(0, n, ROW_CHUNK):
        chunk = np.arange(first, min(n, first + ROW_CHUNK))
        similarity = np.asarray((block[chunk] @ reference).todense(), dtype=np.float64)
        is_self = np.zeros_like(similarity, dtype=bool)
        inside = chunk < m
        is_self[np.flatnonzero(inside), chunk[inside]] = True
        agreement[chunk, :3] = _agreement(similarity, is_self, gram_total)
        if weighted is not None:
            weighted[chunk, :2] = _weighted_agreement(similarity, is_self, weights, ranked)
    agreement[:, 3], agreement[:, 4] = _standardised(agreement[:, 0]), _percentile_rank(agreement[:, 0])
    if weighted is not None:
        weighted[:, 2] = _standardised(weighted[:, 0])
    return agreement, weighted


def _agreement(similarity: np.ndarray, is_self: np.ndarray, gram_total: float) -> np.ndarray:
    """Mean and max cosine to the siblings and cosine to their centroid, for rows whose cosines to the reference
    replies are `similarity` (`is_self` marks a row's own column)."""
    self_similarity = np.where(is_self, similarity, 0.0).sum(axis=1)
    row_sums = similarity.sum(axis=1)
    siblings = similarity.shape[1] - is_self.sum(axis=1)
    mean = (row_sums - self_similarity) / siblings
    maximum = np.where(is_self, -np.inf, similarity).max(axis=1)
    # |sum of the siblings' vectors|^2 from the reference's Gram sum: G - 2 rowsum_i + S_ii for a reference reply
    in_reference = is_self.any(axis=1)
    norm2 = gram_total - np.where(in_reference, 2 * row_sums - self_similarity, 0.0)
    centroid = (row_sums - self_similarity) / np.sqrt(np.maximum(norm2, 1e-12))
    return np.column_stack([mean, maximum, centroid])


def _weighted_agreement(similarity: np.ndarray, is_self: np.ndarray, weights: np.ndarray,
                        ranked: np.ndarray) -> np.ndarray:
    """Softmax-prior-weighted mean cosine to the siblings, and mean cosine to the TOP_SIBLINGS best-rated ones."""
    w = np.where(is_self, 0.0, weights[None, :])
    weighted = (w * similarity).sum(axis=1) / w.sum(axis=1)
    # Ties in the prior are broken by row order inside the group (the stage sorts a group by sample_id).
    top = np.array([similarity[i, [j for j in ranked if not is_self[i, j]][:TOP_SIBLINGS]].mean()
                    for i in range(len(similarity))])
    return np.column_stack([weighted, top])


def _percentile_rank(values: np.ndarray) -> np.ndarray:
    n = len(values)
    return (rankdata(values) - 1) / (n - 1) if n > 1 else np.full(n, 0.5)


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def group_path(model_path: Path | str) -> Path:
    """N.group.npz beside N.lgbm."""
    return companion_path(model_path, GROUP_SUFFIX)


@dataclass(frozen=True)
class GroupModel:
    """What a ranker's group features need beyond the replies: the idf, and which text scorer's score weighs the
    siblings in the weighted columns ("": the text scores summed over tags)."""

    idf: np.ndarray
    prior_tag: str = ""

    def __post_init__(self) -> None:
        if self.idf.shape != (BUCKETS,) or not np.all(np.isfinite(self.idf)):
            raise ModelError(f"group features: idf of shape {self.idf.shape} (need {BUCKETS} finite values)")

    def prior(self, text_scores: Optional[np.ndarray], tags: Sequence[str]) -> Optional[np.ndarray]:
        if text_scores is None or not text_scores.shape[1]:
            return None
        if self.prior_tag in tags:
            return text_scores[:, list(tags).index(self.prior_tag)]
        return text_scores.sum(axis=1)


def save_group_model(model: GroupModel, path: Path) -> None:
    # Uncompressed for the same reason as the text scorers: a rebuilt model must hash the same.
    with open(path, "wb") as handle:
        np.savez(handle, idf=model.idf.astype(np.float16), prior_tag=np.array(model.prior_tag),
                 vectoriser=np.array(GROUP_VECTORISER_ID))


def load_group_model(path: Path) -> GroupModel:
    """The group model in `path`; a missing file, another vectoriser or a damaged array is a ModelError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            vectoriser, idf, prior_tag = str(data["vectoriser"]), data["idf"], str(data["prior_tag"])
    except (OSError, KeyError, ValueError) as err:
        raise ModelError(f"quality model group features {path} cannot be read: {err}") from err
    if vectoriser != GROUP_VECTORISER_ID:
        raise ModelError(f"quality model group features {path} were built with vectoriser {vectoriser!r}, this "
                         f"postmix uses {GROUP_VECTORISER_ID!r} (retrain with `postmix train --model lgbm-rank`)")
    try:
        return GroupModel(np.ascontiguousarray(idf, dtype=np.float32), prior_tag)
    except ModelError as err:
        raise ModelError(f"quality model group features {path}: {err}") from None
