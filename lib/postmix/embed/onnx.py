"""ONNX Runtime backends of the encoder: a local export of the configured model, cached, swapped into the model.

sentence-transformers' own backend="onnx" needs optimum-onnx, whose releases all require transformers < 4.58; the
pinned transformers is 5.x, so the export is done here with torch.onnx and onnxruntime's own quantizer instead. Only
the transformer module runs in ONNX Runtime: tokenisation, pooling and normalisation stay sentence-transformers'
own modules, so an ONNX vector goes through exactly the pipeline a torch vector does.

The export is never downloaded: it is built from the model on disk into a user cache folder named by the digest of
the source weights, the backend, the export recipe and the torch/onnxruntime versions, so a changed model or
toolchain builds a new one; once per machine, atomically (postmix.embed.export_cache).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from postmix.embed.cache_dir import user_cache_dir
from postmix.embed.export_cache import ensure_built
from postmix.errors import ModelError

# Bump when the export or quantization settings change: it is in the cache key and in the model fingerprint.
ONNX_RECIPE_VERSION = "v1"
ONNX_FILE = "model.onnx"
OPSET = 17


def cache_root() -> Path:
    """$POSTMIX_ONNX_CACHE, else $XDG_CACHE_HOME/postmix/onnx, else ~/.cache/postmix/onnx."""
    explicit = os.environ.get("POSTMIX_ONNX_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return user_cache_dir() / "onnx"


def _toolchain() -> dict[str, str]:
    import onnxruntime
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def export_key(weights: str, backend: str) -> str:
    """Folder name of an export: the source weights' digest (not the model's name or path, which differ between
    a driver and an executor's shipped copy), the backend, and a hash of what else the exported bytes depend on."""
    parts = {"weights": weights, "backend": backend, "recipe": ONNX_RECIPE_VERSION, **_toolchain()}
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    return f"{weights}-{backend}-{digest}"


def _export_fp32(st_model: Any, target: Path) -> None:
    import torch

    hf_model = st_model[0].model
    sample = st_model.tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = list(sample.keys())

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf_model

        def forward(self, *tensors):
            return self.inner(**dict(zip(names, tensors))).last_hidden_state

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    with torch.no_grad():
        # The TorchScript exporter: the dynamo one needs onnxscript, and this graph has no control flow to lose.
        torch.onnx.export(Wrapper().eval(), tuple(sample[n] for n in names), str(target), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def _quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic: activation scales come from each batch, so a vector depends (slightly) on its batch; postmix's
    # batches are deterministic, so reruns still give the same bits. Per-channel int8 weights keep cosine near
    # 0.99; reduce_range (7-bit weights) avoids the u8*s8 overflow of CPUs without VNNI (such as this project's
    # AMD EPYC test machine, AVX2 only) and gives the same model on every CPU, so one fingerprint holds on a cluster.
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)


def _build(st_model: Any, backend: str, folder: Path) -> None:
    if backend == "onnx":
        _export_fp32(st_model, folder / ONNX_FILE)
        return
    fp32 = folder / "fp32.onnx"
    _export_fp32(st_model, fp32)
    _quantize_int8(fp32, folder / ONNX_FILE)
    fp32.unlink()


def ensure_export(st_model: Any, weights: str, backend: str) -> Path:
    """The cached ONNX file of this model and backend, built (atomically, once per machine) when it is not there."""

    def build(folder: Path) -> None:
        _build(st_model, backend, folder)
        meta = {"weights": weights, "backend": backend, "recipe": ONNX_RECIPE_VERSION, **_toolchain()}
        (folder / "export.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

    final = cache_root() / export_key(weights, backend)
    return ensure_built(final, ONNX_FILE, build, f"embed.backend {backend!r}") / ONNX_FILE


def _session(onnx_file: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        # As many threads as the Spark task owns, like torch: more would oversubscribe the executor's cores.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def _ort_module(onnx_file: Path, config: Any, threads: int | None) -> Any:
    """A torch module in place of the Hugging Face model: same keyword inputs, last_hidden_state out."""
    import torch

    class OrtTransformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.session = _session(onnx_file, threads)
            self.input_names = [i.name for i in self.session.get_inputs()]
            self.config = config  # sentence-transformers reads the model config (hidden size, output flags)

        def forward(self, **features):
            feed = {name: features[name].cpu().numpy().astype(np.int64) for name in self.input_names}
            return {"last_hidden_state": torch.from_numpy(self.session.run(None, feed)[0])}

    return OrtTransformer()


def attach_onnx(st_model: Any, weights: str, backend: str, threads: int | None) -> Path:
    """Run st_model's transformer in ONNX Runtime from the cached export; returns the ONNX file used."""
    from sentence_transformers.base.modules.transformer import Transformer

    first = st_model[0]
    if not isinstance(first, Transformer):
        raise ModelError(f"embed.backend {backend!r} needs a model whose first module is a Transformer, "
                         f"got {type(first).__name__}")
    onnx_file = ensure_export(st_model, weights, backend)
    first.model = _ort_module(onnx_file, first.model.config, threads)
    return onnx_file
