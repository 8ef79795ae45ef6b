"""Where the mixture stands against random: each metric better, worse or tied, and one plain sentence.

Reads a metrics frame (`metrics_frame`, or the run's mixture_metrics rows: metric, selection, random) and the
direction declared per metric in `postmix.mixture.metrics.METRIC_BETTER`; the report and the console print this
same verdict. Neutral metrics, metrics without a declared direction and non-finite values are not judged. Values
equal up to floating-point noise (relative 1e-9) are a tie, and a tie is never "worse".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from postmix.mixture.metrics import HIGHER, METRIC_BETTER, NEUTRAL

BETTER, WORSE, TIE, UNJUDGED = "better", "worse", "tie", ""
TIE_RELATIVE, TIE_ABSOLUTE = 1e-9, 1e-12  # recomputing a metric moves it by rounding only, never by this much


def outcome_of(selection: float, random: float, better: str) -> str:
    """BETTER, WORSE or TIE for the selection against random; UNJUDGED for a neutral metric or a non-finite value."""
    if better == NEUTRAL or not (math.isfinite(selection) and math.isfinite(random)):
        return UNJUDGED
    if math.isclose(selection, random, rel_tol=TIE_RELATIVE, abs_tol=TIE_ABSOLUTE):
        return TIE
    wins = selection > random if better == HIGHER else selection < random
    return BETTER if wins else WORSE


@dataclass(frozen=True)
class MetricOutcome:
    metric: str
    selection: float
    random: float
    outcome: str

    @property
    def comparison(self) -> str:
        return f"{self.metric} ({self.selection:.6g} vs {self.random:.6g})"


@dataclass(frozen=True)
class Verdict:
    """One outcome per row of the metrics frame, in its order."""

    outcomes: tuple[MetricOutcome, ...]

    def of(self, metric: str) -> str:
        return next(o.outcome for o in self.outcomes if o.metric == metric)

    def _with(self, outcome: str) -> tuple[MetricOutcome, ...]:
        return tuple(o for o in self.outcomes if o.outcome == outcome)

    @property
    def judged(self) -> int:
        return sum(o.outcome != UNJUDGED for o in self.outcomes)

    @property
    def worse(self) -> tuple[MetricOutcome, ...]:
        return self._with(WORSE)

    def sentence(self) -> str:
        """The verdict in one line, naming every metric on which the selection is worse than random."""
        worse, ties, wins = self.worse, self._with(TIE), len(self._with(BETTER))
        if not self.judged:
            return "No measure to compare with a random sample of the same budget."
        if worse:
            rest = f"better on {wins}" + (f", tied on {len(ties)}" if ties else "")
            return (f"Worse than a random sample of the same budget on {len(worse)} of {self.judged} measures: "
                    + ", ".join(o.comparison for o in worse) + f"; {rest}.")
        if ties:
            return (f"The selection beats a random sample of the same budget on {wins} of {self.judged} measures "
                    f"and ties on {len(ties)} ({', '.join(o.metric for o in ties)}); it is worse on none.")
        return f"The selection beats a random sample of the same budget on all {self.judged} measures."


def verdict_of(metrics: pd.DataFrame) -> Verdict:
    """The verdict of a metrics frame (columns metric, selection, random)."""
    return Verdict(tuple(
        MetricOutcome(str(row.metric), float(row.selection), float(row.random),
                      outcome_of(float(row.selection), float(row.random), METRIC_BETTER.get(str(row.metric), NEUTRAL)))
        for row in metrics.itertuples(index=False)))
