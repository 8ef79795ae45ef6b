"""Ingest on real Spark (local[2]) and real Delta: formats, dedup, rejects, reconciled counts, idempotent reruns."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import deltalake
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from postmix.config import load_config
from postmix.schemas.declared import load_schema, to_arrow_schema
from postmix.spark.ingest import run_ingest

HELLO = [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hello!"}]


def write_sources(root: Path, spark) -> list[str]:
    """Small files of every format and container, with duplicates across them and broken rows."""
    root.mkdir(parents=True, exist_ok=True)
    chat = [
        {"id": "c1", "messages": HELLO},
        {"id": "c2", "messages": [{"role": "system", "content": "Be terse."},
                                  {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
        {"id": "c3", "messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "x"}]},
        {"id": "c4", "messages": [{"role": "user", "content": "   "}, {"role": "assistant", "content": "x"}]},
    ]
    lines = [json.dumps(r) for r in chat] + ['{"id": "c5", "messages": [', json.dumps(chat[0])]
    (root / "chat.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sharegpt = [{"id": "s1", "conversations": [{"from": "human", "value": "Say  hello."},
                                                {"from": "gpt", "value": "Hello!"}]},
                {"id": "s2", "conversations": [{"from": "human", "value": "Name a colour."},
                                                {"from": "gpt", "value": "Blue."}]}]
    (root / "sharegpt.json").write_text(json.dumps(sharegpt), encoding="utf-8")
    alpaca = [{"instruction": "Translate to French", "input": "cat", "output": "chat",
               "history": [["What language is 'chat'?", "French."]]},
              {"instruction": "Write a haiku about rain", "input": "", "output": "Soft rain on the roof"}]
    with gzip.open(root / "alpaca.data", "wt", encoding="utf-8") as f:  # gzip found by magic bytes, not name
        f.write("\n".join(json.dumps(r) for r in alpaca) + "\n")
    dolly = pa.table({"instruction": ["Who wrote Hamlet?", "List two fruits"], "context": ["", ""],
                      "response": ["Shakespeare.", "Apple, pear."], "category": ["open_qa", "brainstorming"]})
    pq.write_table(dolly, root / "dolly.parquet")
    (root / "pairs.jsonl").write_text(
        json.dumps({"prompt": "Who wrote Hamlet?", "response": "Shakespeare.", "score": 0.9}) + "\n"
        + json.dumps({"prompt": "Capital of France?", "response": 42}) + "\n", encoding="utf-8")
    delta_rows = spark.createDataFrame(
        [("d1", [("user", "Capital of Italy?"), ("assistant", "Rome.")])],
        "id string, messages array<struct<role:string,content:string>>")
    delta_rows.write.format("delta").save(str(root / "delta_src"))
    return [f"chat={root / 'chat.jsonl'}", f"sharegpt={root / 'sharegpt.json'}",
            f"alpaca={root / 'alpaca.data'}", f"dolly={root / 'dolly.parquet'}",
            f"pairs={root / 'pairs.jsonl'}", f"tbl={root / 'delta_src'}"]


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("ingest")
    sources = write_sources(root / "src", spark)
    config = load_config(None, {"sources": sources, "warehouse": str(root / "wh")})
    outcome = run_ingest(spark, config)
    return config, outcome


def read(warehouse: str, table: str) -> pa.Table:
    return deltalake.DeltaTable(f"{warehouse}/{table}").to_pyarrow_table()


def test_counts_reconcile_and_match_the_tables(ingested):
    config, outcome = ingested
    c = outcome.counts
    assert c["rows_read"] == c["rows_accepted"] + c["rows_duplicate"] + c["rows_rejected"]
    assert c["rows_read"] == 15  # 6 chat lines + 2 sharegpt + 2 alpaca + 2 dolly + 2 pairs + 1 delta row
    samples, rejects = read(config.warehouse, "samples"), read(config.warehouse, "rejects")
    assert samples.num_rows == c["rows_accepted"]
    assert rejects.num_rows == c["rows_rejected"]


def test_runs_row_records_the_outcome_fingerprints_versions_and_timings(ingested):
    """Read without Spark; before any rerun in this module (the forced rerun below rewrites this row)."""
    config, outcome = ingested
    [row] = read(config.warehouse, "runs").to_pylist()
    assert (row["run_id"], row["stage"], row["status"], row["attempt"]) == \
        (config.effective_run_id, "ingest", "succeeded", 1), "a rerun ran before this test"
    counts = dict(row["counts"])
    assert counts == outcome.counts
    assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_duplicate"] + counts["rows_rejected"]
    assert counts["rows_rejected"] == sum(v for k, v in counts.items() if k.startswith("rejected."))
    assert row["params_fingerprint"] == config.stage_fingerprint("ingest")
    assert row["input_fingerprint"] and row["input_versions"] in (None, [], {})
    assert json.loads(row["params"])["sources"][0]["name"] == "chat"
    assert dict(row["output_versions"]) == {
        t: deltalake.DeltaTable(f"{config.warehouse}/{t}").version() for t in ("samples", "rejects")}
    assert row["code_version"].strip()
    assert row["started_at"] is not None and row["finished_at"] is not None
    assert row["started_at"] <= row["finished_at"]
    wall = (row["finished_at"] - row["started_at"]).total_seconds()
    assert 0 < row["duration_s"] <= wall + 0.05
    assert row["peak_rss_mb"] is not None and row["peak_rss_mb"] > 0
    assert row["error"] is None


def test_cli_ingest_prints_the_stage_and_reconciled_counts(spark, tmp_path, capsys):
    from pyspark.sql import SparkSession

    from postmix import cli

    good = [{"id": "g1", "messages": HELLO},
            {"id": "g2", "messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}]
    src = tmp_path / "tiny.jsonl"
    src.write_text(json.dumps(good[0]) + "\n" + '{"id": "g3", "messages": [' + "\n" + json.dumps(good[1]) + "\n",
                   encoding="utf-8")
    warehouse = tmp_path / "wh"
    code = cli.main(["ingest", "--source", f"tiny={src}", "--warehouse", str(warehouse)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert SparkSession.getActiveSession() is spark  # the CLI joined the running session
    run_id = load_config(None, {"sources": [f"tiny={src}"], "warehouse": str(warehouse)}).effective_run_id
    lines = out.splitlines()
    assert f"[ingest] run {run_id}: done" in lines
    printed = {}
    for line in lines:
        parts = line.split()
        if line.startswith("  ") and len(parts) == 2 and parts[1].replace(",", "").isdigit():
            printed[parts[0]] = int(parts[1].replace(",", ""))
    assert printed == {"rows_read": 3, "rows_accepted": 2, "rows_duplicate": 0, "rows_rejected": 1,
                       "rejected.malformed_json": 1, "samples_new": 2, "samples_already_present": 0}
    assert printed["rows_read"] == printed["rows_accepted"] + printed["rows_duplicate"] + printed["rows_rejected"]
    [row] = read(str(warehouse), "runs").to_pylist()
    assert row["run_id"] == run_id and dict(row["counts"]) == printed
    assert read(str(warehouse), "samples").num_rows == 2 and read(str(warehouse), "rejects").num_rows == 1


def test_duplicates_collapse_across_sources_and_keep_every_holder(ingested):
    config, _ = ingested
    rows = read(config.warehouse, "samples").to_pylist()
    hello = [r for r in rows if r["messages"][0]["content"].startswith("Say")]
    assert len(hello) == 1  # chat c1, the repeated chat line and sharegpt s1 (extra space) are one sample
    holders = {(s["source"], s["source_id"]) for s in hello[0]["sources"]}
    assert {("chat", "c1"), ("sharegpt", "s1")} <= holders and len(hello[0]["sources"]) == 3
    hamlet = [r for r in rows if r["messages"][0]["content"] == "Who wrote Hamlet?"]
    assert len(hamlet) == 1 and {s["source"] for s in hamlet[0]["sources"]} == {"dolly", "pairs"}


def test_each_format_lands_with_its_meta(ingested):
    config, _ = ingested
    rows = read(config.warehouse, "samples").to_pylist()
    formats = {r["format"] for r in rows}
    assert formats >= {"chat", "sharegpt", "alpaca", "dolly"}
    multi = [r for r in rows if r["source"] == "alpaca" and r["n_turns"] == 2]
    assert multi and multi[0]["messages"][0]["content"] == "What language is 'chat'?"
    dolly = [r for r in rows if r["source"] == "dolly"]
    assert all(json.loads(r["meta"]).get("category") for r in dolly)
    italy = [r for r in rows if r["source"] == "tbl"]
    assert italy and italy[0]["messages"][1]["content"] == "Rome."


def test_bad_rows_are_rejected_with_reason_location_and_raw(ingested):
    config, _ = ingested
    rejects = read(config.warehouse, "rejects").to_pylist()
    reasons = {r["reason"] for r in rejects}
    assert {"unknown_role", "empty_turn", "malformed_json", "wrong_type"} <= reasons
    malformed = next(r for r in rejects if r["reason"] == "malformed_json")
    assert malformed["location"].endswith("chat.jsonl:5") and malformed["raw"].startswith('{"id": "c5"')
    assert all(r["run_id"] == config.effective_run_id for r in rejects)


def test_tables_match_declared_schemas_and_read_without_spark(ingested):
    config, _ = ingested
    for table in ("samples", "rejects", "runs"):
        stored = pa.schema(deltalake.DeltaTable(f"{config.warehouse}/{table}").schema().to_arrow())
        declared = to_arrow_schema(load_schema(table))
        assert [f.name for f in stored] == [f.name for f in declared]
        for got, want in zip(stored, declared):
            assert got.nullable == want.nullable, (table, got, want)
            assert _plain_type(got.type) == _plain_type(want.type), (table, got, want)


def _plain_type(dtype: pa.DataType) -> str:
    """Type text without the storage variants readers may pick (large/view strings, timestamp zone)."""
    return (str(dtype).replace("large_", "").replace("string_view", "string").replace("list<element:", "list<item:")
            .replace('tz=UTC', 'tz=+00:00').replace("timestamp[us]", "timestamp[us, tz=+00:00]"))


def test_new_samples_land_by_an_insert_only_merge(ingested, merge_kinds):
    """None of the samples was in the table, so the MERGE has no update clause (Delta skips the matching pass)."""
    config, _ = ingested
    assert merge_kinds(f"{config.warehouse}/samples") == ["insert"]


def test_a_commit_between_the_count_and_the_insert_only_merge_still_gets_its_holders(spark, ingested, tmp_path):
    """Another job adds a sample after this one counted the table at version v: the insert-only MERGE then skips that
    sample and commits after v + 1, so the full MERGE must run and add this job's holder to it."""
    from pyspark.sql import functions as F

    from postmix.spark.ingest import merge_samples
    from postmix.storage.delta import written_version

    config, _ = ingested
    warehouse = str(tmp_path / "wh")
    samples = spark.read.format("delta").load(f"{config.warehouse}/samples").limit(1)
    merge_samples(spark, warehouse, samples.withColumn("sample_id", F.lit("f" * 32)))  # the table: version 1
    counted_at = written_version(spark, f"{warehouse}/samples")
    holder = F.array(F.struct(F.lit("late").alias("source"), F.lit("l1").alias("source_id"),
                              F.lit("late.jsonl:1").alias("location")))
    new = samples.withColumn("sample_id", F.lit("e" * 32))
    merge_samples(spark, warehouse, new)  # the other job, after the count
    merge_samples(spark, warehouse, new.withColumn("sources", holder), none_present_at=counted_at)
    [row] = [r for r in read(warehouse, "samples").to_pylist() if r["sample_id"] == "e" * 32]
    assert ("late", "l1") in {(s["source"], s["source_id"]) for s in row["sources"]}
    assert len(row["sources"]) == len(samples.first()["sources"]) + 1


def test_commits_carry_run_id_and_stage(ingested):
    config, _ = ingested
    history = deltalake.DeltaTable(f"{config.warehouse}/samples").history()
    tagged = [json.loads(h["userMetadata"]) for h in history if h.get("userMetadata")]
    assert {"run_id": config.effective_run_id, "stage": "ingest"} in tagged


def test_rerun_is_skipped_and_forced_rerun_changes_nothing(spark, ingested):
    config, _ = ingested
    before = {t: read(config.warehouse, t).sort_by("sample_id" if t == "samples" else "location").to_pylist()
              for t in ("samples", "rejects")}
    assert run_ingest(spark, config).skipped
    forced = run_ingest(spark, config, force=True)
    assert forced.counts["samples_new"] == 0
    after = {t: read(config.warehouse, t).sort_by("sample_id" if t == "samples" else "location").to_pylist()
             for t in ("samples", "rejects")}
    assert after == before
    runs = read(config.warehouse, "runs").to_pylist()
    assert [(r["stage"], r["status"], r["attempt"]) for r in runs] == [("ingest", "succeeded", 2)]


def test_missing_path_and_unknown_format_fail_before_writing(spark, tmp_path):
    from postmix.errors import ConfigError, InputError

    with pytest.raises(ConfigError, match="does not exist"):
        load_config(None, {"sources": [f"x={tmp_path / 'nope.jsonl'}"], "warehouse": str(tmp_path / "wh")})
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({"foo": 1, "bar": 2}) + "\n")
    config = load_config(None, {"sources": [f"odd={odd}"], "warehouse": str(tmp_path / "wh")})
    with pytest.raises(InputError, match="foo"):
        run_ingest(spark, config)
    assert not (tmp_path / "wh").exists()
