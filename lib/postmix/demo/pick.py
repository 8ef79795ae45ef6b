"""Seeded choices from a numpy Generator (never the global random state)."""

from __future__ import annotations


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def sample(rng, options, k: int) -> list:
    return [options[int(i)] for i in rng.choice(len(options), size=min(k, len(options)), replace=False)]
