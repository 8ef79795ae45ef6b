"""The 2-D map of the embedding space: PCA (numpy SVD) over a seeded sample of selected and unselected rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from postmix.errors import InputError

MAP_COLUMNS = ("sample_id", "x", "y", "selected")


@dataclass(frozen=True)
class EmbeddingMap:
    """Points (sample_id, x, y, selected) and the share of variance of the sample each axis explains."""

    points: pd.DataFrame
    explained_variance: tuple[float, float]

    def __post_init__(self) -> None:
        missing = [c for c in MAP_COLUMNS if c not in self.points.columns]
        if missing:
            raise InputError(f"report: embedding map points lack column(s) {', '.join(missing)}")


def map_sample(selected: np.ndarray, per_group: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices, in row order: at most per_group selected rows and at most per_group unselected rows."""
    chosen = []
    for members in (np.flatnonzero(selected), np.flatnonzero(~selected)):
        if len(members) > per_group:
            members = rng.choice(members, size=per_group, replace=False)
        chosen.append(members)
    return np.sort(np.concatenate(chosen))


def principal_axes(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(top-2 unit axes as rows, their explained-variance shares); signs fixed so the largest component is
    positive, which makes the map the same on every run."""
    centred = matrix - matrix.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2].copy()
    for axis in axes:
        if axis[np.argmax(np.abs(axis))] < 0:
            axis *= -1
    variance = singular ** 2
    total = variance.sum()
    shares = variance[:2] / total if total > 0 else np.zeros(2)
    return axes, np.pad(shares, (0, 2 - len(shares)))


def embedding_map(sample_ids, embeddings: np.ndarray, selected: np.ndarray, per_group: int,
                  seed: int) -> EmbeddingMap:
    """Project a seeded sample of the rows onto the sample's first two principal components."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    selected = np.asarray(selected, dtype=bool)
    sample_ids = np.asarray(sample_ids).astype(str)
    if embeddings.ndim != 2 or len(embeddings) != len(sample_ids) or selected.shape != (len(sample_ids),):
        raise InputError(f"report: embedding map needs aligned sample_ids ({len(sample_ids)}), embeddings "
                         f"{embeddings.shape} and a selected mask {selected.shape}")
    if len(sample_ids) < 2 or embeddings.shape[1] < 2:
        raise InputError("report: the embedding map needs at least 2 rows of at least 2 dimensions")
    if not np.all(np.isfinite(embeddings)):
        raise InputError("report: embeddings for the map contain NaN or infinity")
    rows = map_sample(selected, per_group, np.random.default_rng(seed))
    axes, shares = principal_axes(embeddings[rows])
    coordinates = (embeddings[rows] - embeddings[rows].mean(axis=0)) @ axes.T
    points = pd.DataFrame({"sample_id": sample_ids[rows], "x": coordinates[:, 0],
                           "y": coordinates[:, 1] if coordinates.shape[1] > 1 else 0.0,
                           "selected": selected[rows]})
    return EmbeddingMap(points, (float(shares[0]), float(shares[1])))
