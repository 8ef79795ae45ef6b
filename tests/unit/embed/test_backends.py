import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from postmix.config import load_config
from postmix.embed import onnx
from postmix.embed.encoder import encode_texts, get_encoder
from postmix.embed.params import EmbedParams
from postmix.errors import ConfigError

TEXTS = [
    "How do I reverse a list in Python?",
    "Write a haiku about autumn leaves.",
    "Explain the difference between TCP and UDP in detail, with examples of protocols built on each. " * 3,
    "Summarise the plot of Hamlet in three sentences.",
    "What are the health benefits of green tea, and are there any side effects?",
]

# Float32 ONNX is the same computation as torch; int8 trades a little cosine (about 0.99 on average) for speed;
# bfloat16 keeps about 0.99996 (its pooled output is normalised in float32).
MIN_COSINE = {"onnx": (0.9999, 0.9999), "onnx-int8": (0.99, 0.98), "torch-bf16": (0.9999, 0.9995)}  # (mean, each)


@pytest.fixture(scope="module")
def torch_vectors(embed_params):
    return encode_texts(TEXTS, embed_params)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "torch-bf16"])
def test_backend_vectors_are_close_to_torch_float32(backend, embed_params, torch_vectors):
    vectors = encode_texts(TEXTS, dataclasses.replace(embed_params, backend=backend))
    assert vectors.dtype == np.float32 and vectors.shape == torch_vectors.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(vectors * torch_vectors, axis=1)
    mean_floor, each_floor = MIN_COSINE[backend]
    assert cosine.mean() >= mean_floor and cosine.min() >= each_floor, cosine


def test_fingerprint_names_the_backend_and_differs_per_backend(embed_params, encoder):
    prints = {b: get_encoder(dataclasses.replace(embed_params, backend=b)).fingerprint
              for b in ("onnx", "onnx-int8", "torch-bf16")}
    # torch keeps the form from before backends existed, so stored torch vectors stay current
    assert encoder.fingerprint.count(":") == 2
    assert prints["onnx"] == f"{encoder.fingerprint}:onnx/{onnx.ONNX_RECIPE_VERSION}"
    assert prints["onnx-int8"] == f"{encoder.fingerprint}:onnx-int8/{onnx.ONNX_RECIPE_VERSION}"
    assert prints["torch-bf16"] == f"{encoder.fingerprint}:torch-bf16/v1"


def test_bf16_vectors_are_unit_length_float32_and_the_same_on_every_call(embed_params):
    params = dataclasses.replace(embed_params, backend="torch-bf16")
    first, again = encode_texts(TEXTS, params), encode_texts(TEXTS, params)
    assert first.dtype == np.float32 and np.array_equal(first, again)
    # normalised in float32: bfloat16 normalisation would leave norms off by ~1e-3
    assert np.abs(np.linalg.norm(first, axis=1) - 1.0).max() < 1e-6


def test_a_bad_backend_is_refused_at_config_load():
    with pytest.raises(ConfigError, match=r"embed\.backend must be one of 'torch', 'torch-bf16', 'onnx', 'onnx-int8'"):
        load_config(overrides={"embed": {"backend": "tensorrt"}})


def test_onnx_backends_refuse_a_gpu_device():
    with pytest.raises(ConfigError, match=r"embed\.backend 'onnx-int8' runs on CPU only"):
        EmbedParams(backend="onnx-int8", device="cuda")
    with pytest.raises(ConfigError, match=r"embed\.backend"):
        EmbedParams(backend="openvino")
    assert EmbedParams(backend="torch-bf16", device="cuda").device == "cuda"  # bfloat16 runs on GPUs too


def test_export_key_changes_with_weights_and_backend():
    keys = {onnx.export_key(w, b) for w in ("d384-aaaa", "d384-bbbb") for b in ("onnx", "onnx-int8")}
    assert len(keys) == 4


def _fake_build(calls):
    def build(st_model, backend, folder: Path) -> None:
        calls.append(folder)
        (folder / onnx.ONNX_FILE).write_bytes(b"model")

    return build


def test_export_is_built_once_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTMIX_ONNX_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(onnx, "_build", _fake_build(calls))
    first = onnx.ensure_export(None, "d384-aaaa", "onnx-int8")
    second = onnx.ensure_export(None, "d384-aaaa", "onnx-int8")
    assert first == second and first.read_bytes() == b"model" and len(calls) == 1
    assert (first.parent / "export.json").is_file()
    assert _folders(tmp_path) == [first.parent.name]  # no staging folder left behind


def _folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def test_a_concurrent_winner_is_used_and_the_loser_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTMIX_ONNX_CACHE", str(tmp_path))
    final = tmp_path / onnx.export_key("d384-aaaa", "onnx")

    def build_while_another_finishes(st_model, backend, folder: Path) -> None:
        (folder / onnx.ONNX_FILE).write_bytes(b"mine")
        final.mkdir()
        (final / onnx.ONNX_FILE).write_bytes(b"theirs")  # the other worker renames first

    monkeypatch.setattr(onnx, "_build", build_while_another_finishes)
    assert onnx.ensure_export(None, "d384-aaaa", "onnx").read_bytes() == b"theirs"
    assert _folders(tmp_path) == [final.name]


def test_a_killed_builds_staging_folder_is_removed_by_the_next_build(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTMIX_ONNX_CACHE", str(tmp_path))
    key = onnx.export_key("d384-aaaa", "onnx")
    dead = tmp_path / f".{key}.k1ll3d"
    dead.mkdir()
    (dead / "fp32.onnx").write_bytes(b"half an export")  # SIGKILL mid-build: no finally ran
    other = tmp_path / f".{onnx.export_key('d384-bbbb', 'onnx')}.live"
    other.mkdir()  # another export's staging folder is not this build's to remove
    monkeypatch.setattr(onnx, "_build", _fake_build([]))
    onnx.ensure_export(None, "d384-aaaa", "onnx")
    assert _folders(tmp_path) == sorted([key, other.name])


def test_concurrent_builders_of_one_export_build_it_once(tmp_path, monkeypatch):
    """Two processes (fork: they share the monkeypatched builder) ask for the same export at once: one builds while
    holding the lock, the other waits and reuses it."""
    import multiprocessing
    import time

    monkeypatch.setenv("POSTMIX_ONNX_CACHE", str(tmp_path))
    log = tmp_path / "builds.log"

    def slow_build(st_model, backend, folder: Path) -> None:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(1.0)
        (folder / onnx.ONNX_FILE).write_bytes(b"model")

    monkeypatch.setattr(onnx, "_build", slow_build)
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=onnx.ensure_export, args=(None, "d384-aaaa", "onnx")) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert len(log.read_text().splitlines()) == 1
    assert _folders(tmp_path) == [onnx.export_key("d384-aaaa", "onnx")]
