"""What a user sees on the console (docs/ARCHITECTURE.md, "The console"): by default postmix's own lines only, from
the JVM's start on; with --verbose the libraries' logs are back. Two one-file ingests, run side by side as real
commands (the whole pipeline's console is checked by test_pipeline_demo.py, in process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def start_ingest(project, tmp_path, name, *flags):
    source = tmp_path / "rows.jsonl"
    if not source.exists():
        rows = [{"messages": [{"role": "user", "content": f"Question {i}?"},
                              {"role": "assistant", "content": f"Answer number {i}."}]} for i in range(3)]
        source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = dict(os.environ, PYSPARK_PYTHON=str(project["python"]), PYSPARK_DRIVER_PYTHON=str(project["python"]),
               POSTMIX_JARS_DIR=str(project["jars_dir"]), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("POSTMIX_VERBOSE", None)
    command = [str(project["python"]), "-m", "postmix.cli", "ingest", "--source", f"rows={source}",
               "--warehouse", str(tmp_path / f"wh-{name}"), *flags]
    return subprocess.Popen(command, cwd=project["repo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")


def test_default_console_is_postmix_only_and_verbose_brings_the_libraries_back(project, tmp_path, noise_in):
    quiet = start_ingest(project, tmp_path, "quiet")
    verbose = start_ingest(project, tmp_path, "verbose", "--verbose")
    quiet_out, _ = quiet.communicate(timeout=900)
    verbose_out, _ = verbose.communicate(timeout=900)
    assert quiet.returncode == 0, quiet_out[-3000:]
    assert verbose.returncode == 0, verbose_out[-3000:]

    assert "[ingest] run " in quiet_out and "rows_accepted" in quiet_out
    noise = noise_in(quiet_out)
    assert not noise, "lines that are not postmix's:\n" + "\n".join(noise[:20])

    assert "[ingest] run " in verbose_out
    library_lines = noise_in(verbose_out)
    assert any(" WARN " in line or "log4j" in line for line in library_lines), verbose_out[-3000:]
    assert any("incubator modules" in line for line in library_lines), verbose_out[-3000:]  # the JVM's own
