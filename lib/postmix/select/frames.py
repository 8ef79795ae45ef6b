"""Pool rows as a pandas frame (the Spark path's batch format) and pools on disk as .npz (for the benchmark).

Frame columns: sample_id, quality, label_ids (list of int), label_weights (list of float), cost, one column per
group, optionally near_duplicate (bool) and response_chars (characters of the assistant turns). Label ids index
`label_names`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from postmix.errors import InputError
from postmix.select.pool import LabelGraph, SelectionPool

FRAME_COLUMNS = ("sample_id", "quality", "label_ids", "label_weights", "cost")


def pool_from_frame(frame: pd.DataFrame, label_names: tuple[str, ...], group_columns: tuple[str, ...]) -> SelectionPool:
    missing = [c for c in FRAME_COLUMNS + tuple(group_columns) if c not in frame.columns]
    if missing:
        raise InputError(f"pool rows: missing columns {', '.join(missing)}")
    lengths = frame["label_ids"].map(len).to_numpy()
    if not np.array_equal(lengths, frame["label_weights"].map(len).to_numpy()):
        raise InputError("pool rows: label_ids and label_weights differ in length on some rows")
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate([np.asarray(v, dtype=np.int64) for v in frame["label_ids"]]) if len(frame) else []
    weights = np.concatenate([np.asarray(v, dtype=np.float64) for v in frame["label_weights"]]) if len(frame) else []
    labels = sp.csr_matrix((weights, indices, indptr), shape=(len(frame), len(label_names)))
    near_duplicate = frame["near_duplicate"].to_numpy(dtype=bool) if "near_duplicate" in frame.columns else None
    response_chars = (frame["response_chars"].to_numpy(dtype=np.float64) if "response_chars" in frame.columns
                      else None)
    return SelectionPool(
        sample_ids=frame["sample_id"].to_numpy(dtype=str), quality=frame["quality"].to_numpy(dtype=np.float64),
        labels=labels, costs=frame["cost"].to_numpy(dtype=np.float64), label_names=label_names,
        groups={column: frame[column].to_numpy(dtype=str) for column in group_columns},
        near_duplicate=near_duplicate, response_chars=response_chars)


def pool_to_frame(pool: SelectionPool) -> pd.DataFrame:
    labels = pool.labels
    columns = {
        "sample_id": pool.sample_ids.astype(object), "quality": pool.quality,
        "label_ids": [labels.indices[labels.indptr[i]:labels.indptr[i + 1]].tolist() for i in range(len(pool))],
        "label_weights": [labels.data[labels.indptr[i]:labels.indptr[i + 1]].tolist() for i in range(len(pool))],
        "cost": pool.costs,
    }
    columns.update({column: values.astype(object) for column, values in pool.groups.items()})
    if pool.near_duplicate is not None:
        columns["near_duplicate"] = pool.near_duplicate
    if pool.response_chars is not None:
        columns["response_chars"] = pool.response_chars
    return pd.DataFrame(columns)


def save_pool_npz(path: str | Path, pool: SelectionPool, graph: LabelGraph) -> None:
    """One .npz holding the pool and its label graph (keys documented in load_pool_npz)."""
    arrays = {"sample_ids": pool.sample_ids, "quality": pool.quality, "costs": pool.costs,
              "labels_indptr": pool.labels.indptr, "labels_indices": pool.labels.indices,
              "labels_data": pool.labels.data, "label_names": np.asarray(pool.label_names),
              "graph_indptr": graph.weights.indptr, "graph_indices": graph.weights.indices,
              "graph_data": graph.weights.data}
    arrays.update({f"group_{column}": values for column, values in pool.groups.items()})
    if pool.near_duplicate is not None:
        arrays["near_duplicate"] = pool.near_duplicate
    if pool.embeddings is not None:
        arrays["embeddings"] = pool.embeddings
    if pool.response_chars is not None:
        arrays["response_chars"] = pool.response_chars
    np.savez_compressed(path, **arrays)


def load_pool_npz(path: str | Path) -> tuple[SelectionPool, LabelGraph]:
    """Keys: sample_ids, quality, costs, labels_{indptr,indices,data}, label_names, graph_{indptr,indices,data},
    group_<column> per group column, optional near_duplicate, embeddings and response_chars."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"pool file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        names = tuple(data["label_names"].tolist())
        k = len(names)
        labels = sp.csr_matrix((data["labels_data"], data["labels_indices"], data["labels_indptr"]),
                               shape=(len(data["sample_ids"]), k))
        graph = LabelGraph(sp.csr_matrix((data["graph_data"], data["graph_indices"], data["graph_indptr"]),
                                         shape=(k, k)), names)
        pool = SelectionPool(
            sample_ids=data["sample_ids"], quality=data["quality"], labels=labels, costs=data["costs"],
            label_names=names,
            groups={key[len("group_"):]: data[key] for key in data.files if key.startswith("group_")},
            embeddings=data["embeddings"] if "embeddings" in data.files else None,
            near_duplicate=data["near_duplicate"] if "near_duplicate" in data.files else None,
            response_chars=data["response_chars"] if "response_chars" in data.files else None)
    return pool, graph
