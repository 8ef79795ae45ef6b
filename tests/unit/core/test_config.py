"""Config loading, generic parameter building, fingerprints, schemas, CLI errors: no Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from postmix.config import load_config
from postmix.errors import ConfigError, SchemaError
from postmix.params import fingerprint
from postmix.schemas.declared import declared_tables, load_schema, parse_type, to_arrow_schema

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "conf.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sections_map_onto_stage_params_and_paths_resolve_against_the_file(tmp_path):
    (tmp_path / "data.jsonl").write_text("{}\n")
    config = load_config(write(tmp_path, "warehouse: wh\nsources: [{name: a, path: data.jsonl}]\n"
                                         "ingest: {max_messages: 10}\nselect: {budget: 5, quotas: ['task:Math>=0.1']}\n"
                                         "spark: {conf: {spark.executor.cores: 2}}\n"))
    assert config.warehouse == str(tmp_path / "wh")
    assert config.sources[0].path == str(tmp_path / "data.jsonl")
    assert config.ingest.max_messages == 10 and config.select.quotas == ("task:Math>=0.1",)
    assert config.spark.conf == {"spark.executor.cores": "2"}


@pytest.mark.parametrize("text, fragment", [
    ("ingest: {max_mesages: 3}\n", "unknown key 'ingest.max_mesages'"),
    ("bogus: 1\n", "unknown key 'bogus'"),
    ("ingest: {max_messages: 'x'}\n", "ingest.max_messages must be int"),
    ("ingest: {max_messages: true}\n", "ingest.max_messages must be int"),
    ("sources: [{name: a, path: /definitely/not/here}]\n", "/definitely/not/here"),
    ("select: {budget: 1, budget_tokens: 5}\n", "exactly one of budget"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("ingest: [1, 2]\n", "ingest must be a mapping"),
    ("embed: {recipe: assistant_only}\n", "embed.recipe: unknown recipe 'assistant_only'"),
    ("embed: {device: gpu}\n", "embed.device must be 'cpu' or 'cuda'"),
])
def test_bad_config_is_an_error_naming_the_key_and_file(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert fragment in str(error.value)
    assert str(path) in str(error.value) or "exactly one" in str(error.value)


def test_yaml_tags_that_build_objects_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "warehouse: !!python/object/apply:os.system ['echo hi']\n"))


def test_fingerprint_is_stable_and_sensitive():
    a = load_config(None, {"select": {"budget": 5}})
    b = load_config(None, {"select": {"budget": 5}})
    c = load_config(None, {"select": {"budget": 6}})
    assert a.effective_run_id == b.effective_run_id != c.effective_run_id
    assert a.stage_fingerprint("ingest") == c.stage_fingerprint("ingest")
    assert fingerprint({"x": 1, "y": [1, 2]}) == fingerprint({"y": [1, 2], "x": 1})
    # the run id ignores where tables live and how Spark runs: the same work, the same id
    d = load_config(None, {"select": {"budget": 5}, "warehouse": "/elsewhere", "spark": {"master": "local[4]"}})
    assert d.effective_run_id == a.effective_run_id
    assert d.result_fingerprint == a.result_fingerprint != c.result_fingerprint
    # an explicit run id names the run; the result fingerprint still describes the work
    e = load_config(None, {"select": {"budget": 5}, "run_id": "nightly"})
    assert e.effective_run_id == "nightly" and e.result_fingerprint == a.result_fingerprint


def test_every_declared_schema_parses_and_has_its_keys():
    assert {"samples", "rejects", "runs", "annotations", "embeddings", "selections", "mixtures"} <= set(declared_tables())
    for table in declared_tables():
        schema = load_schema(table)
        assert set(schema.keys) <= set(schema.names), table
        assert len(to_arrow_schema(schema)) == len(schema.columns)


def test_type_parser_round_trips_and_rejects_garbage():
    for text in ("string", "array<struct<role:string,content:string>>", "map<string,bigint>", "array<float>"):
        assert parse_type(text).ddl() == text
    with pytest.raises(SchemaError):
        parse_type("array<strin>")


def test_config_reference_is_current():
    from postmix.config_doc import render

    assert (REPO / "docs" / "CONFIG.md").read_text(encoding="utf-8") == render(), \
        "docs/CONFIG.md is stale: run `python -m postmix.config_doc > docs/CONFIG.md`"


def test_cli_prints_one_line_errors(capsys, tmp_path):
    from postmix.cli import main

    code = main(["ingest", "--source", f"x={tmp_path / 'missing.jsonl'}", "--warehouse", str(tmp_path / "wh")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("postmix: error:") and "missing.jsonl" in err and "Traceback" not in err
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("section, key", [
    ("select: {budget: 10, quotas: ['source:x<0.2']}\n", "select.quotas[0]: quota 'source:x<0.2'"),
    ("select: {budget: 10, quota: 'source:x<=0.2'}\n", "unknown key 'select.quota'"),
    ("semantic: {dedup_threshold: 1.7}\nselect: {budget: 10}\n", "semantic.dedup_threshold"),
    ("annotate: {quality_mode: column}\nselect: {budget: 10}\n", "annotate.quality_mode 'column'"),
    ("annotate: {quality_mod: column}\nselect: {budget: 10}\n", "unknown key 'annotate.quality_mod'"),
], ids=["select_quota_syntax", "select_unknown_key", "semantic_dedup_threshold", "annotate_mode_without_column",
        "annotate_unknown_key"])
def test_run_refuses_a_bad_section_before_spark_or_any_stage(tmp_path, capsys, monkeypatch, section, key):
    """`postmix run` with one bad select / semantic / annotate value: exit 2, one line naming the key and the file,
    before the Spark session (so before any stage) starts."""
    import time

    import postmix.spark.session
    from postmix.cli import main

    def no_session(*args, **kwargs):
        raise AssertionError("the Spark session was started: the config error came too late")

    monkeypatch.setattr(postmix.spark.session, "build_session", no_session)
    source = tmp_path / "c.jsonl"
    source.write_text('{"prompt": "hi", "response": "hello"}\n', encoding="utf-8")
    config, warehouse = write(tmp_path, section), tmp_path / "wh"
    started = time.perf_counter()
    code = main(["run", "--config", str(config), "--source", f"c={source}", "--warehouse", str(warehouse)])
    elapsed = time.perf_counter() - started
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("postmix: error:")]
    assert code == 2 and len(lines) == 1, lines
    assert str(config) in lines[0] and key in lines[0], lines[0]
    assert not warehouse.exists()  # no stage ran, so no table (not even the runs table) was created
    assert elapsed < 5.0, f"{elapsed:.1f} s: a config error must not wait for any work"
