"""The numbers each report section shows, computed from ReportData: the plots draw these same frames and the
HTML tables print them, so plot and table cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def category_shares(pool_values: pd.Series, selected_values: pd.Series) -> pd.DataFrame:
    """Rows and shares per category, pool vs selection; most frequent in the pool first (ties by name)."""
    pool_counts = pool_values.astype(str).value_counts()
    selected_counts = selected_values.astype(str).value_counts().reindex(pool_counts.index, fill_value=0)
    frame = pd.DataFrame({"value": pool_counts.index.astype(str), "pool_rows": pool_counts.to_numpy(np.int64),
                          "selected_rows": selected_counts.to_numpy(np.int64)})
    frame["pool_share"] = frame["pool_rows"] / max(int(frame["pool_rows"].sum()), 1)
    frame["selected_share"] = frame["selected_rows"] / max(int(frame["selected_rows"].sum()), 1)
    frame = frame.sort_values(["pool_rows", "value"], ascending=[False, True], kind="mergesort")
    return frame[["value", "pool_rows", "pool_share", "selected_rows", "selected_share"]].reset_index(drop=True)


def quality_histogram(pool_quality: np.ndarray, selected_quality: np.ndarray, bins: int) -> pd.DataFrame:
    """Rows per equal-width quality bin over [0, 1] (the last bin includes 1.0), pool and selection."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    pool_counts, _ = np.histogram(np.asarray(pool_quality, dtype=np.float64), bins=edges)
    selected_counts, _ = np.histogram(np.asarray(selected_quality, dtype=np.float64), bins=edges)
    return pd.DataFrame({"bin_low": edges[:-1], "bin_high": edges[1:], "pool_rows": pool_counts.astype(np.int64),
                         "selected_rows": selected_counts.astype(np.int64)})


def gain_checkpoints(selected: pd.DataFrame, count: int) -> pd.DataFrame:
    """rank, gain and objective_after at `count` evenly spaced ranks (first and last included)."""
    if selected.empty:
        return pd.DataFrame({"rank": [], "gain": [], "objective_after": []})
    positions = np.unique(np.linspace(0, len(selected) - 1, count).round().astype(np.int64))
    return selected.iloc[positions][["rank", "gain", "objective_after"]].reset_index(drop=True)


@dataclass(frozen=True)
class NearDuplicateSummary:
    pairs: int
    pairs_in_selection: int
    duplicates_selected: int
    top_pairs: pd.DataFrame


def near_duplicate_summary(pairs: pd.DataFrame, selected_ids: pd.Series, top: int) -> NearDuplicateSummary:
    """pairs: all near-duplicate pairs; pairs_in_selection: both members selected; duplicates_selected: selected
    rows marked as a duplicate (the member dedup would drop); top_pairs: the most similar pairs with flags."""
    chosen = set(selected_ids.astype(str))
    first_in = pairs["sample_id"].astype(str).isin(chosen)
    second_in = pairs["duplicate_of"].astype(str).isin(chosen)
    flagged = pairs.assign(sample_selected=first_in.to_numpy(), duplicate_of_selected=second_in.to_numpy())
    ordered = flagged.sort_values(["similarity", "sample_id"], ascending=[False, True], kind="mergesort")
    columns = ["sample_id", "duplicate_of", "similarity", "sample_selected", "duplicate_of_selected"]
    return NearDuplicateSummary(pairs=len(pairs), pairs_in_selection=int((first_in & second_in).sum()),
                                duplicates_selected=int(pairs.loc[first_in, "sample_id"].nunique()),
                                top_pairs=ordered[columns].head(top).reset_index(drop=True))


def rejects_by_reason(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows per reason code, most first (ties by code)."""
    counts = rejects.groupby("reason", sort=True)["count"].sum().astype(np.int64).reset_index()
    return counts.sort_values(["count", "reason"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def stage_timings(runs: pd.DataFrame) -> pd.DataFrame:
    """stage, status, duration_s, peak_rss_mb in the order given (the report stage passes them by start time)."""
    return runs[["stage", "status", "duration_s", "peak_rss_mb"]].reset_index(drop=True)
