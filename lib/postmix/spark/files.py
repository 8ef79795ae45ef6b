"""Files the executors need (user model paths): shipped with SparkContext.addFile when they are local to the driver,
so a cluster's executors find them even without a shared filesystem."""

from __future__ import annotations

import os


def ship_local_file(spark, path: str | None) -> None:
    if path and "://" not in path and os.path.isfile(path):
        spark.sparkContext.addFile(path)


def resolve_on_executor(path: str | None) -> str | None:
    """The path as given where it exists (local mode, shared filesystems), else the copy addFile shipped."""
    if path is None or "://" in path or os.path.exists(path):
        return path
    from pyspark import SparkFiles

    shipped = SparkFiles.get(os.path.basename(path))
    return shipped if os.path.exists(shipped) else path
