"""Settings the environment refuses (a warehouse that is a file, a Java option the JVM cannot parse) end in one
`postmix: error:` line, exit 2, never a Python or Java trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from postmix import cli

import reliability_corpus as corpus

SETTINGS = "faults: environment and settings"


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("postmix: error:")]


def test_a_warehouse_that_is_a_file_is_one_line(tmp_path, capsys, outcome):
    warehouse = tmp_path / "wh.txt"
    warehouse.write_text("not a folder\n", encoding="utf-8")
    source = corpus.write_jsonl(tmp_path, "c.jsonl", [corpus.good_chat("whf")])
    code = cli.main(["ingest", "--source", f"c={source}", "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    lines = error_lines(err)
    outcome(SETTINGS, "warehouse_is_a_file", "--warehouse names an existing file",
            "exit 2, one line saying it is a file, before Spark starts; the file untouched",
            f"exit {code}: {' / '.join(lines).replace(str(tmp_path), '<tmp>')[:200]}")
    assert code == 2 and len(lines) == 1 and "is an existing file" in lines[0], err
    assert "Traceback" not in err and warehouse.read_text(encoding="utf-8") == "not a folder\n"


def test_a_java_option_the_jvm_refuses_is_one_line(tmp_path, outcome):
    source = corpus.write_jsonl(tmp_path, "c.jsonl", [corpus.good_chat("jvm")])
    postmix = str(Path(sys.executable).parent / "postmix")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    done = subprocess.run([postmix, "ingest", "--source", f"c={source}", "--warehouse", str(tmp_path / "wh"),
                           "--conf", "spark.driver.extraJavaOptions=-Xss1q"],
                          capture_output=True, text=True, env=env, timeout=300)
    lines = error_lines(done.stderr)
    outcome(SETTINGS, "java_option_unparseable", "--conf spark.driver.extraJavaOptions=-Xss1q "
            "(an invalid stack size: the JVM exits at start, JAVA_GATEWAY_EXITED)", "exit 2, one line naming the setting, no trace",
            f"exit {done.returncode}: {' / '.join(lines)[:240]}")
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert "spark.driver.extraJavaOptions" in lines[0] and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "wh").exists()
