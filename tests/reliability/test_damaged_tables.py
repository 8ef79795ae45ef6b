"""A table deleted, rolled back (its latest commit file removed) or truncated under a finished stage: the stage
must not report "skipped (already done)". The writer reruns when it can rebuild the table; a damaged log stops
the command with one `postmix: error:` line naming the table and what to run, never a Java trace or an empty read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import deltalake
import pytest

from postmix import cli

import reliability_corpus as corpus

DAMAGED = "faults: missing, truncated and rolled-back tables"


def forget_delta_logs(spark) -> None:
    """What a new `postmix` process sees: no cached Delta snapshots (each CLI command is its own process)."""
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()


def latest_commit(table: Path) -> Path:
    return sorted((table / "_delta_log").glob("*.json"))[-1]


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    """A warehouse after `postmix ingest` and `postmix annotate` of one small chat source (the tests below damage
    it in turn, each leaving it whole again but the last)."""
    tmp_path = tmp_path_factory.mktemp("damaged")
    source = corpus.write_jsonl(tmp_path, "chat.jsonl", [corpus.good_chat(f"dmg{i}") for i in range(40)])
    config = tmp_path / "run.yaml"
    config.write_text(f"sources:\n  - {{name: chat, path: {source}}}\nwarehouse: {tmp_path / 'wh'}\n",
                      encoding="utf-8")
    args = ["--config", str(config), "--conf", "spark.sql.shuffle.partitions=2"]
    assert cli.main(["ingest", *args]) == 0
    assert cli.main(["annotate", *args]) == 0
    return {"args": args, "wh": tmp_path / "wh"}


def run(capsys, command: str, args: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main([command, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(table: Path) -> int:
    return deltalake.DeltaTable(str(table)).to_pyarrow_table().num_rows


def test_deleted_annotations_folder_is_annotated_again(spark, ingested, capsys, outcome):
    before = rows(ingested["wh"] / "annotations")
    shutil.rmtree(ingested["wh"] / "annotations")
    forget_delta_logs(spark)
    code, out, err = run(capsys, "annotate", ingested["args"])
    after = rows(ingested["wh"] / "annotations") if (ingested["wh"] / "annotations").exists() else 0
    outcome(DAMAGED, "annotations_folder_deleted", "annotations/ deleted after a finished annotate, then "
            "`postmix annotate` again", "exit 0, the stage runs (not 'skipped'), the table is rebuilt",
            f"exit {code}; {'skipped' if 'skipped' in out else 'ran'}; {after} of {before} rows back")
    assert code == 0 and "skipped" not in out and after == before, out + err


def test_a_rolled_back_samples_table_is_ingested_again(spark, ingested, capsys, outcome):
    table = ingested["wh"] / "samples"
    before = rows(table)
    latest_commit(table).unlink()
    forget_delta_logs(spark)
    code, out, err = run(capsys, "ingest", ingested["args"])
    forget_delta_logs(spark)
    after = rows(table)
    outcome(DAMAGED, "samples_latest_commit_deleted", "the latest samples/_delta_log/*.json deleted after a "
            "finished ingest, then `postmix ingest` again", "exit 0, the stage runs (not 'skipped'), rows back",
            f"exit {code}; {'skipped' if 'skipped' in out else 'ran'}; {after} of {before} rows")
    assert code == 0 and "skipped" not in out and after == before, out + err


def test_a_truncated_samples_commit_stops_later_stages_with_one_line(spark, ingested, capsys, outcome):
    commit = latest_commit(ingested["wh"] / "samples")
    commit.write_bytes(commit.read_bytes()[: commit.stat().st_size // 2])
    forget_delta_logs(spark)
    results = {command: run(capsys, command, ingested["args"]) for command in ("annotate", "ingest")}
    lines = {command: [line for line in err.splitlines() if line.startswith("postmix: error:")]
             for command, (_, _, err) in results.items()}
    outcome(DAMAGED, "samples_latest_commit_truncated", "the latest samples/_delta_log/*.json cut in half, then "
            "`postmix annotate` and `postmix ingest`", "exit 2 each, one line naming samples and what to run",
            "; ".join(f"{c}: exit {r[0]}: {' / '.join(lines[c])[:200]}" for c, r in results.items()))
    for command, (code, out, err) in results.items():
        assert code == 2 and "skipped" not in out, (command, out, err)
        assert len(lines[command]) == 1 and "'samples'" in lines[command][0], (command, err)
        assert "postmix ingest" in lines[command][0] and "Traceback" not in err, (command, err)
