"""The driver JVM postmix launches: it maps the class archive `make env` built, and the archive fits it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from postmix.spark.session import class_archive


def test_the_driver_jvm_maps_a_class_archive_that_fits_it(spark):
    archive = class_archive()
    if archive is None:
        pytest.skip("no class archive in .jvm/: `make env` builds it (deploy/jars/class_archive.py)")
    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert f"-XX:SharedArchiveFile={archive}" in arguments
    # -Xshare:on refuses to start where the archive does not fit this JVM build and class path (the session's
    # -Xshare:auto would silently load classes the slow way instead).
    java = Path(jvm.java.lang.System.getProperty("java.home")) / "bin" / "java"
    classpath = jvm.java.lang.System.getProperty("java.class.path")
    modules = [a for a in arguments if a.startswith("--add-modules")]
    check = subprocess.run([str(java), "-Xshare:on", f"-XX:SharedArchiveFile={archive}", *modules, "-cp", classpath,
                            "-version"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
