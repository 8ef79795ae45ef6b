"""The whole pipeline as one command: every stage in order, each skipped when its work is already done.

A crashed run resumes when the same command runs again: the run id derives from the config, each stage checks
the `runs` table, and the incremental stages only process samples they have not seen.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("postmix.pipeline")

# (stage, "module:function" taking (spark, config, force) and returning a StageOutcome), in run order.
STAGES: list[tuple[str, str]] = [
    ("ingest", "postmix.spark.ingest:run_ingest"),
    ("annotate", "postmix.spark.annotate:run_annotate"),
    ("embed", "postmix.spark.embed:run_embed"),
    ("semantic", "postmix.spark.semantic:run_semantic"),
    ("select", "postmix.spark.select:run_select"),
    ("mixture", "postmix.spark.mixture:run_mixture"),
    ("report", "postmix.spark.report:run_report"),
]


def stage_runner(target: str):
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def run_pipeline(spark, config, force: bool = False, on_stage_done=None) -> dict:
    """Run every stage; returns {stage: StageOutcome}."""
    outcomes = {}
    for stage, target in STAGES:
        log.info("stage %s: starting", stage)
        outcome = stage_runner(target)(spark, config, force=force)
        outcomes[stage] = outcome
        if on_stage_done:
            on_stage_done(stage, outcome)
    return outcomes
