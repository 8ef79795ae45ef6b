"""deploy/jars/class_archive.py, the `make env` step that builds the driver JVM's class archive: the parts that need
no JVM run (the archive itself is checked against the session's JVM in tests/spark/test_session_jvm.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "jars" / "class_archive.py"


@pytest.fixture(scope="module")
def class_archive():
    spec = importlib.util.spec_from_file_location("class_archive", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_java(home: Path, exit_code: int) -> Path:
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho \"Unrecognized VM option\" >&2\nexit {exit_code}\n")
    java.chmod(0o755)
    return home


def test_the_java_spark_would_start_is_the_one_probed(class_archive, tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path / "jdk", 0)))
    assert class_archive.java_command() == str(tmp_path / "jdk" / "bin" / "java")
    assert class_archive.jvm_can_archive(str(tmp_path))
    monkeypatch.delenv("JAVA_HOME")
    assert class_archive.java_command() == "java"


def test_a_jvm_that_cannot_archive_gets_no_archive_and_one_line(class_archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path / "jdk", 1)))
    out = tmp_path / "jvm" / "postmix-classes.jsa"
    assert class_archive.main([str(out)]) == 0  # set-up goes on: the archive only ever changes start-up time
    assert not out.exists() and not list(out.parent.iterdir())  # no partial file either
    assert capsys.readouterr().out.strip().startswith("no class archive: ")


def test_usage_error(class_archive, capsys):
    assert class_archive.main([]) == 2
    assert "usage:" in capsys.readouterr().err
