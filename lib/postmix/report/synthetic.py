"""A complete ReportData from a seeded synthetic pool (postmix.select.synthetic), through the real selection,
metrics, near-duplicate search and projection: for tests, the browser check and trying the report out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from postmix.mixture import MetricsInputs, MixtureParams, compare_with_random, metrics_frame
from postmix.report.data import ReportData
from postmix.report.projection import embedding_map
from postmix.select import select
from postmix.select.params import SelectParams
from postmix.select.synthetic import synthetic_pool
from postmix.semantic.dedup import find_near_duplicates

SYNTHETIC_REJECTS = {"malformed_json": 41, "empty_turn": 17, "no_assistant_answer": 12, "turn_order": 7,
                     "control_characters": 3, "invalid_utf8": 2}
SYNTHETIC_RUNS = (("ingest", 41.2, 612.0), ("annotate", 88.9, 930.5), ("embed", 254.3, 2210.0),
                  ("semantic", 37.0, 1480.2), ("select", 12.6, 1702.9), ("mixture", 9.8, 1540.0))


def synthetic_report_data(n_rows: int = 3000, budget: int = 300, seed: int = 0) -> ReportData:
    pool, graph = synthetic_pool(n_rows, 60, np.random.default_rng(seed), embedding_dim=32)
    select_params = SelectParams(budget=budget, progress=False, seed=seed)
    result = select(pool, graph, select_params)
    comparison = compare_with_random(MetricsInputs(pool, graph, select_params, pool.groups["task"]), result.index,
                                     MixtureParams(seed=seed))
    selected = np.zeros(len(pool), dtype=bool)
    selected[result.index] = True
    pairs = find_near_duplicates(pool.sample_ids, pool.embeddings, pool.quality, threshold=0.95,
                                 max_cluster_rows=n_rows)
    return ReportData(
        run_id=f"synthetic-{seed}",
        pool=pd.DataFrame({"sample_id": pool.sample_ids, "task": pool.groups["task"],
                           "source": pool.groups["source"], "quality": pool.quality}),
        selection=pd.DataFrame({"sample_id": result.sample_id, "rank": result.rank, "gain": result.gain,
                                "objective_after": result.objective_after}),
        metrics=metrics_frame(comparison),
        rejects=pd.DataFrame({"reason": list(SYNTHETIC_REJECTS), "count": list(SYNTHETIC_REJECTS.values())}),
        near_duplicates=pairs[["sample_id", "duplicate_of", "similarity"]],
        runs=pd.DataFrame(list(SYNTHETIC_RUNS), columns=["stage", "duration_s", "peak_rss_mb"]).assign(
            status="succeeded"),
        embedding_map=embedding_map(pool.sample_ids, pool.embeddings, selected, per_group=1500, seed=seed),
        summary={"method": "mig (lazy greedy)", "budget": f"{budget:,} samples", "data": "synthetic pool"},
    )
