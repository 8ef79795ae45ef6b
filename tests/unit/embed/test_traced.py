"""torch and torch-bf16 on CPU through the traced pipeline (postmix.embed.traced): the same bits as
sentence-transformers, loaded without it, and a model that does not trace kept on sentence-transformers."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from postmix.embed import encoder as encoder_module
from postmix.embed import traced
from postmix.embed.encoder import encode_texts, get_encoder
from postmix.embed.text import copy_tokenizer
from postmix.errors import ModelError

TEXTS = [
    "How do I reverse a list in Python?",
    "  Ünïcode café 東京 🙂 with stray spaces  ",
    "Explain the difference between TCP and UDP in detail, with examples. " * 40,  # past the token limit
    "x",
    "Write a haiku about autumn leaves.",
]


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    """An empty cache and no encoder loaded in this process yet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(encoder_module, "_ENCODERS", {})


@pytest.fixture
def bf16(embed_params, fresh_cache):
    return dataclasses.replace(embed_params, backend="torch-bf16")


@pytest.fixture(params=traced.TRACED_BACKENDS)
def each_backend(request, embed_params, fresh_cache):
    return dataclasses.replace(embed_params, backend=request.param)


def _trace_folder() -> Path:
    [folder] = [p for p in traced.cache_root().iterdir() if p.is_dir()]
    return folder


def test_the_traced_pipeline_gives_the_bits_of_sentence_transformers(each_backend, monkeypatch):
    assert isinstance(get_encoder(each_backend).model, traced.TracedPipeline)
    vectors = encode_texts(TEXTS, each_backend)
    monkeypatch.setattr(encoder_module, "_ENCODERS", {})
    monkeypatch.setattr(encoder_module, "load_traced", lambda *args: None)  # as for a model that does not trace
    assert isinstance(get_encoder(each_backend).model, SentenceTransformer)
    assert np.array_equal(vectors, encode_texts(TEXTS, each_backend))


def test_a_worker_with_the_trace_cached_does_not_import_sentence_transformers(each_backend, tmp_path):
    vectors = encode_texts(TEXTS, each_backend)  # traces into tmp_path's cache
    program = ("import json, sys, numpy as np\n"
               "from postmix.embed.encoder import encode_texts\n"
               "from postmix.embed.params import EmbedParams\n"
               "v = encode_texts(json.loads(sys.argv[1]), EmbedParams(**json.loads(sys.argv[2])))\n"
               "np.save(sys.argv[3], v)\n"
               "print(sorted(m for m in ('sentence_transformers', 'transformers') if m in sys.modules))\n")
    out = tmp_path / "worker.npy"
    done = subprocess.run([sys.executable, "-c", program, json.dumps(TEXTS),
                           json.dumps(dataclasses.asdict(each_backend)), str(out)],
                          capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert np.array_equal(np.load(out), vectors)


def test_the_check_refuses_a_trace_fed_other_tokens(bf16):
    get_encoder(bf16)
    pipeline = get_encoder(bf16).model
    st_model = encoder_module.load_sentence_transformer(bf16, get_encoder(bf16).path)
    traced._check_against(st_model, pipeline)  # the trace as built passes
    short = dataclasses.replace(pipeline, tokenizer=copy_tokenizer(pipeline.tokenizer))
    short.tokenizer.enable_padding()
    short.tokenizer.enable_truncation(16)  # cuts the probe texts sentence-transformers reads up to 256 tokens
    with pytest.raises(traced.TraceRefused, match="differs"):
        traced._check_against(st_model, short)


def test_a_model_that_does_not_trace_is_noted_once_and_runs_through_sentence_transformers(bf16, monkeypatch):
    def refuse(st_model, pipeline):
        raise traced.TraceRefused("the trace differs from sentence-transformers on a batch of 3")

    monkeypatch.setattr(traced, "_check_against", refuse)
    assert isinstance(get_encoder(bf16).model, SentenceTransformer)
    manifest = json.loads((_trace_folder() / traced.MANIFEST_FILE).read_text())
    assert manifest["traced"] is False and "batch of 3" in manifest["reason"]
    assert sorted(p.name for p in _trace_folder().iterdir()) == [traced.MANIFEST_FILE]
    monkeypatch.setattr(encoder_module, "_ENCODERS", {})
    monkeypatch.setattr(traced, "_build", lambda *args: pytest.fail("traced a model noted as not tracing"))
    assert isinstance(get_encoder(bf16).model, SentenceTransformer)


def test_a_damaged_trace_runs_through_sentence_transformers_and_names_the_folder(bf16, monkeypatch, caplog):
    get_encoder(bf16)
    (_trace_folder() / traced.TRACED_FILE).write_bytes(b"not a TorchScript archive")
    monkeypatch.setattr(encoder_module, "_ENCODERS", {})
    with caplog.at_level("WARNING", logger="postmix.embed"):
        assert isinstance(get_encoder(bf16).model, SentenceTransformer)
    assert re.search(r"cannot load the traced model in .*delete that folder", caplog.text), caplog.text


def test_a_cache_that_cannot_be_written_runs_through_sentence_transformers(bf16, monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    loads = []
    load = encoder_module.load_sentence_transformer
    monkeypatch.setattr(encoder_module, "load_sentence_transformer", lambda *args: loads.append(1) or load(*args))
    with caplog.at_level("WARNING", logger="postmix.embed"):
        vectors = encode_texts(TEXTS, bf16)
    assert isinstance(get_encoder(bf16).model, SentenceTransformer) and vectors.shape == (len(TEXTS), 384)
    assert "cannot write its export" in caplog.text, caplog.text
    assert len(loads) == 1  # the model loaded for the trace build is the one the fallback runs


def test_the_trace_key_changes_with_the_weights_the_backend_and_the_libraries(monkeypatch):
    first = traced.export_key("aaaa", "torch-bf16")
    assert traced.export_key("bbbb", "torch-bf16") != first and traced.export_key("aaaa", "torch") != first
    monkeypatch.setattr(traced, "_versions", lambda: {"torch": "99.0"})
    assert traced.export_key("aaaa", "torch-bf16") != first


def test_a_model_that_cannot_load_is_a_model_error_not_a_fallback(bf16, tmp_path, caplog):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "modules.json").write_text("[not json")
    with caplog.at_level("WARNING", logger="postmix.embed"), pytest.raises(ModelError, match="cannot load from"):
        get_encoder(dataclasses.replace(bf16, model=str(broken)))
    assert "no usable trace" not in caplog.text
