"""Spark session parameters (engine-free, so config loading never needs a JVM)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    log_level: str = "WARN"
