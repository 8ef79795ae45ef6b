"""Spark session parameters (engine-free, so config loading never needs a JVM)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from postmix.errors import ConfigError

# The master URL forms Spark accepts (SparkContext's own parser, plus the cluster managers' schemes).
MASTER_PATTERN = re.compile(r"local(\[(\*|\d+)(,\s*\d+)?\])?|local-cluster\[\d+,\s*\d+,\s*\d+\]|yarn"
                            r"|(spark|k8s|mesos)://\S+")


@dataclass(frozen=True)
class SparkParams:
    """How to build the Spark session; every value can come from the config file or the CLI.

    `conf` passes arbitrary Spark settings through unchanged (cluster settings, credentials, memory). The local
    defaults suit a 2-core laptop; on a cluster `master` and `conf` come from the user or spark-submit.
    """

    master: str | None = None  # None: keep what spark-submit set, else local[2]
    app_name: str = "postmix"
    conf: dict[str, str] = field(default_factory=dict)
    jars_dir: str | None = None  # folder of delta jars; None: $POSTMIX_JARS_DIR or <repo>/.jars
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    log_level: str | None = None  # None: FATAL, so the console shows postmix's lines only; WARN with --verbose

    def __post_init__(self) -> None:
        if self.master is not None and not MASTER_PATTERN.fullmatch(self.master):
            raise ConfigError(f"spark.master {self.master!r} is not a Spark master URL (local, local[N], local[*], "
                              "spark://HOST:PORT, yarn, k8s://URL)")
        if self.shuffle_partitions < 1:
            raise ConfigError(f"spark.shuffle_partitions must be >= 1, got {self.shuffle_partitions!r}")
