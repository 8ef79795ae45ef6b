"""The label space of one semantic fit as the selection reads it: K labels, their graph, the task labels' ids.

Built from plain rows (label rows: label_id, kind, name, fit_id; edges: src, dst, weight), so every engine that
reads the semantic tables applies the same checks: ids 0..K-1 without gaps, one fit, edges inside the label range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from postmix.errors import InputError
from postmix.select.pool import LabelGraph


@dataclass(frozen=True)
class LabelSpace:
    """The K labels of one semantic fit, their graph, and which label id each task name has."""

    graph: LabelGraph
    task_label_ids: dict[str, int]
    fit_id: str

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.graph.label_names


def check_label_rows(labels: Sequence[Mapping]) -> str:
    """The fit id of the semantic_labels rows (in label_id order), after checking they form one label space."""
    if not labels:
        raise InputError("semantic_labels is empty: run `postmix semantic` first")
    ids = [int(r["label_id"]) for r in labels]
    if ids != list(range(len(ids))):
        raise InputError(f"semantic_labels: label ids must be 0..{len(ids) - 1} without gaps, got {ids[:10]}...")
    fits = sorted({r["fit_id"] for r in labels})
    if len(fits) != 1:
        raise InputError(f"semantic_labels holds several fits ({', '.join(fits)}): rerun `postmix semantic`")
    return fits[0]


def label_space(labels: Sequence[Mapping], edges: Sequence[Mapping]) -> LabelSpace:
    """`labels` in label_id order (the semantic_labels rows), `edges` the label_graph rows."""
    fit_id = check_label_rows(labels)
    names = tuple(str(r["name"]) for r in labels)
    tasks = {str(r["name"]): int(r["label_id"]) for r in labels if r["kind"] == "task"}
    return LabelSpace(LabelGraph(graph_weights(len(names), edges), names), tasks, fit_id)


def graph_weights(n_labels: int, edges: Sequence[Mapping]) -> sp.csr_matrix:
    """Identity plus each undirected edge (src < dst) in both directions."""
    src = np.array([int(e["src"]) for e in edges], dtype=np.int64)
    dst = np.array([int(e["dst"]) for e in edges], dtype=np.int64)
    weight = np.array([float(e["weight"]) for e in edges], dtype=np.float64)
    if len(src) and (np.any(src >= dst) or src.min() < 0 or dst.max() >= n_labels):
        raise InputError(f"label_graph: edges must have 0 <= src < dst < {n_labels}")
    rows = np.concatenate([np.arange(n_labels), src, dst])
    cols = np.concatenate([np.arange(n_labels), dst, src])
    data = np.concatenate([np.ones(n_labels), weight, weight])
    return sp.csr_matrix((data, (rows, cols)), shape=(n_labels, n_labels))


def check_same_fit(table: str, fits: Iterable[str], fit_id: str) -> None:
    """Labels, graph, sample labels and near-duplicates of different fits do not describe one label space."""
    other = sorted(f for f in set(fits) if f != fit_id)
    if other:
        raise InputError(f"{table} holds rows of fit(s) {', '.join(other)} but semantic_labels is fit {fit_id}: "
                         "rerun `postmix semantic` so every semantic table comes from one fit")
