"""Parameters of the mixture metrics (mapped from the `mixture:` config section by the generic loader)."""

from __future__ import annotations

from dataclasses import dataclass

from postmix.errors import ConfigError


@dataclass(frozen=True)
class MixtureParams:
    """How the mixture metrics are measured (docs/REPORT.md defines each metric).

    seed: seeds the random baseline selection and the semantic-coverage sample of the pool.
    coverage_sample_rows: semantic coverage is the mean, over at most this many pool rows (a seeded sample), of the
        highest cosine to any selected row.
    near_duplicate_threshold: two selected rows whose cosine is >= this count as near-duplicates (the semantic
        stage's dedup_threshold by default).
    threads: faiss / BLAS threads for the similarity searches; pinned so results do not move in the last bits.
    """

    seed: int = 0
    coverage_sample_rows: int = 10_000
    near_duplicate_threshold: float = 0.95
    threads: int = 1

    def __post_init__(self) -> None:
        if self.coverage_sample_rows < 1:
            raise ConfigError(f"mixture.coverage_sample_rows must be >= 1, got {self.coverage_sample_rows}")
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise ConfigError(f"mixture.near_duplicate_threshold must be in (0, 1], got "
                              f"{self.near_duplicate_threshold}")
        if self.threads < 1:
            raise ConfigError(f"mixture.threads must be >= 1, got {self.threads}")
