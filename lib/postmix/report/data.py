"""ReportData: everything the report shows, as pandas frames the report stage reads from the tables.

| field | columns | from |
|---|---|---|
| pool | sample_id, task, source, quality | samples + annotations of the run's pool |
| selection | sample_id, rank, gain, objective_after | selections (run_id) |
| metrics | metric, selection, random, unit, description | postmix.mixture.metrics_frame |
| rejects | reason, count | rejects, counted by reason |
| near_duplicates | sample_id, duplicate_of, similarity | near_duplicates |
| runs | stage, status, duration_s, peak_rss_mb | runs (run_id) |
| embedding_map | EmbeddingMap (sample_id, x, y, selected) | postmix.report.embedding_map over a sample |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from postmix.errors import InputError
from postmix.report.projection import EmbeddingMap

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "pool": ("sample_id", "task", "source", "quality"),
    "selection": ("sample_id", "rank", "gain", "objective_after"),
    "metrics": ("metric", "selection", "random", "unit", "description"),
    "rejects": ("reason", "count"),
    "near_duplicates": ("sample_id", "duplicate_of", "similarity"),
    "runs": ("stage", "status", "duration_s", "peak_rss_mb"),
}


@dataclass(frozen=True)
class ReportData:
    """One run's report inputs (columns in the module table); `summary` is shown as the header's key facts
    (method, budget, config path, ...), in its own order."""

    run_id: str
    pool: pd.DataFrame
    selection: pd.DataFrame
    metrics: pd.DataFrame
    rejects: pd.DataFrame
    near_duplicates: pd.DataFrame
    runs: pd.DataFrame
    embedding_map: EmbeddingMap
    summary: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, columns in REQUIRED_COLUMNS.items():
            missing = [c for c in columns if c not in getattr(self, name).columns]
            if missing:
                raise InputError(f"report: {name} frame lacks column(s) {', '.join(missing)}")
        if self.pool["sample_id"].duplicated().any():
            raise InputError("report: pool sample_ids must be unique")
        unknown = ~self.selection["sample_id"].isin(self.pool["sample_id"])
        if unknown.any():
            raise InputError(f"report: selected sample_id {self.selection['sample_id'][unknown].iloc[0]!r} is not "
                             "in the pool")
        quality = self.pool["quality"].to_numpy(dtype=np.float64)
        if len(quality) and (np.isnan(quality).any() or quality.min() < 0 or quality.max() > 1):
            raise InputError("report: pool quality must be in [0, 1] without NaN")

    def selected_rows(self) -> pd.DataFrame:
        """The selection joined with its pool rows (task, source, quality), in rank order."""
        joined = self.selection.merge(self.pool, on="sample_id", how="left", validate="one_to_one")
        return joined.sort_values("rank", kind="mergesort").reset_index(drop=True)
