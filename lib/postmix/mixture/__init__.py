"""Mixture metrics: how good a selection is, measured next to a random selection of the same budget.

`compare_with_random(MetricsInputs, selected_rows, MixtureParams) -> MetricsComparison` and
`metrics_frame(comparison)` (one row per metric) are what the mixture stage calls; docs/REPORT.md defines each
metric. `verdict_of(frame)` says on which metrics the selection is worse than random (report and console).
Engine-free: numpy, scipy, faiss; no Spark.
"""

from postmix.mixture.metrics import (METRIC_BETTER, METRIC_INFO, METRICS_FRAME_COLUMNS, MetricsComparison,
                                     MetricsContext, MetricsInputs, MixtureMetrics, compare_with_random,
                                     in_metric_order, metrics_frame, random_baseline_rows, rows_of)
from postmix.mixture.params import MixtureParams
from postmix.mixture.verdict import Verdict, verdict_of

__all__ = ["METRIC_BETTER", "METRIC_INFO", "METRICS_FRAME_COLUMNS", "MetricsComparison", "MetricsContext",
           "MetricsInputs", "MixtureMetrics", "MixtureParams", "Verdict", "compare_with_random", "in_metric_order",
           "metrics_frame", "random_baseline_rows", "rows_of", "verdict_of"]
