"""The console settings (postmix.console, postmix.spark.session.console_conf), without a JVM."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from postmix import console
from postmix.spark.session import QUIET_LOG4J, console_conf

LOG4J_OPTION = "-Dlog4j2.configurationFile="


@pytest.fixture(autouse=True)
def restore_console(monkeypatch):
    """Each test's verbosity and library logger levels are its own."""
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)
    for key in console.LIBRARY_ENV:
        monkeypatch.delenv(key, raising=False)
    levels = {name: logging.getLogger(name).level for name in (*console.LIBRARY_LOGGERS, "postmix")}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_quiet_driver_reads_the_shipped_log4j_file_and_executors_get_the_switches():
    conf = console_conf({"spark.driver.extraJavaOptions": "-Xss4m"}, verbose=False)
    java = conf["spark.driver.extraJavaOptions"]
    assert java.startswith("-Xss4m ") and java.count(LOG4J_OPTION) == 1  # the user's options stay, first
    path = Path(unquote(urlparse(java.split(LOG4J_OPTION)[1]).path))
    assert path == QUIET_LOG4J and "rootLogger.level = fatal" in path.read_text(encoding="utf-8")
    assert conf["spark.executorEnv.POSTMIX_VERBOSE"] == "0"
    assert conf["spark.executorEnv.HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_verbose_and_a_users_own_log4j_configuration_are_left_alone(monkeypatch):
    assert "spark.driver.extraJavaOptions" not in console_conf({}, verbose=True)
    own = {"spark.driver.extraJavaOptions": "-Dlog4j2.configurationFile=file:/etc/mine.properties",
           "spark.executorEnv.HF_HUB_DISABLE_PROGRESS_BARS": "0"}
    conf = console_conf(own, verbose=False)
    assert conf == {**own, **{k: v for k, v in conf.items() if k not in own}}  # every user setting as given


def test_default_logging_quiets_the_libraries_and_verbose_does_not(monkeypatch):
    logging.getLogger("faiss").setLevel(logging.NOTSET)  # an earlier cli.main in this process may have quieted it
    console.set_verbose(True)
    console.quiet_libraries()
    assert logging.getLogger("faiss").level == logging.NOTSET
    console.set_verbose(False)
    console.quiet_libraries()
    assert logging.getLogger("faiss").getEffectiveLevel() == logging.ERROR
    assert logging.getLogger("transformers").getEffectiveLevel() == logging.ERROR
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and os.environ["TRANSFORMERS_VERBOSITY"] == "error"
    assert console.worker_env()["POSTMIX_VERBOSE"] == "0"


def test_postmix_lines_are_short():
    formatter = console.ConsoleFormatter()
    info = logging.LogRecord("postmix.pipeline", logging.INFO, __file__, 1, "stage %s: starting", ("ingest",), None)
    warn = logging.LogRecord("postmix.stage", logging.WARNING, __file__, 1, "ran again", (), None)
    assert formatter.format(info).split(" ", 1)[1] == "stage ingest: starting"
    assert formatter.format(warn).split(" ", 1)[1] == "warning: ran again"
