"""Parameters of the report (mapped from the `report:` config section by the generic loader)."""

from __future__ import annotations

from dataclasses import dataclass

from postmix.errors import ConfigError


@dataclass(frozen=True)
class ReportParams:
    """What the report samples and how much it lists.

    map_points_per_group: the 2-D map shows at most this many selected and this many unselected pool rows
        (seeded samples; the projection is fitted on the points shown).
    seed: seeds the map's samples.
    quality_bins: equal-width bins over [0, 1] for the quality histograms.
    gain_checkpoints: ranks listed in the gain-curve table (evenly spaced, first and last included).
    top_near_duplicates: the most similar near-duplicate pairs listed.
    """

    map_points_per_group: int = 2_000
    seed: int = 0
    quality_bins: int = 20
    gain_checkpoints: int = 11
    top_near_duplicates: int = 10

    def __post_init__(self) -> None:
        minimums = {"map_points_per_group": 1, "quality_bins": 1, "gain_checkpoints": 2, "top_near_duplicates": 0}
        for name, minimum in minimums.items():
            if getattr(self, name) < minimum:
                raise ConfigError(f"report.{name} must be >= {minimum}, got {getattr(self, name)}")
