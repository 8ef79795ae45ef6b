"""embed.backend torch and torch-bf16 on CPU without sentence-transformers in the worker: the model's whole pipeline
(transformer, pooling, normalisation) traced once per machine to TorchScript, its tokenizer saved beside it.

Why: a Spark worker that loads the model through sentence-transformers first imports it and transformers (4-8 s per
worker on this project's 2-core machine, docs/BENCHMARKS.md); the traced file needs only torch and tokenizers. The
trace is checked when it is built: on probe texts of many lengths and batch sizes its outputs must equal
sentence-transformers' bit for bit, so a traced vector is the vector the sentence-transformers path gives (the model
fingerprint does not change). A model whose pipeline does not trace, or traces to other numbers, is noted as such in
the cache and keeps running through sentence-transformers.

TorchScript is deprecated upstream in favour of torch.export, whose loader imports torch._dynamo and took 3-18 s here
against 0.1 s; the cache key holds the torch, transformers and sentence-transformers versions, so an upgrade traces
again (and a torch without TorchScript falls back to sentence-transformers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

from postmix.embed.cache_dir import user_cache_dir
from postmix.embed.export_cache import ensure_built
from postmix.embed.text import rust_tokenizer
from postmix.errors import ModelError

log = logging.getLogger("postmix.embed")

# The backends traced on CPU (each in its own dtype: float32, bfloat16).
TRACED_BACKENDS = ("torch", "torch-bf16")
# Bump when the traced pipeline or its check changes: it is in the cache key.
TRACE_RECIPE_VERSION = "v1"
TRACED_FILE = "model.pt"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "export.json"
# The tokenizer outputs the traced module takes, and where a tokenizers.Encoding keeps each.
ENCODING_FIELDS = {"input_ids": "ids", "token_type_ids": "type_ids", "attention_mask": "attention_mask"}
# What the trace decides on: the libraries whose code it records.
TRACED_PACKAGES = ("torch", "transformers", "sentence-transformers", "tokenizers")

_PROBE_WORDS = ("the of and to in is was for on that with as by at from this data model a an it be are or what "
                "résumé naïve 東京 emoji 🙂 code() {x: 1} #include <stdio.h> λ").split()


def cache_root() -> Path:
    """$XDG_CACHE_HOME/postmix/traced, else ~/.cache/postmix/traced."""
    return user_cache_dir() / "traced"


def export_key(weights: str, backend: str) -> str:
    """Folder name of a trace: the weights' digest, the backend and a hash of the recipe and the libraries' versions."""
    parts = {"weights": weights, "backend": backend, "recipe": TRACE_RECIPE_VERSION, **_versions()}
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    return f"{weights}-{backend}-{digest}"


def _versions() -> dict[str, str]:
    found = {}
    for package in TRACED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "none"
    return found


@dataclass(frozen=True)
class TracedPipeline:
    """The traced model and the tokenizer that feeds it (pads to a batch's longest text, truncates at the limit)."""

    module: Any
    tokenizer: Any
    input_names: tuple[str, ...]
    dim: int
    max_seq_length: int

    def pooled(self, texts: Sequence[str]) -> Any:
        """The pipeline's output for one batch: what sentence-transformers' encode gives before postmix's float32
        normalisation."""
        return self.module(*_tensors(self.tokenizer, self.input_names, texts))


def _tensors(tokenizer: Any, input_names: Sequence[str], texts: Sequence[str]) -> list[Any]:
    """The module's inputs for a batch, in its order: one int64 tensor per tokenizer output."""
    import torch

    encodings = tokenizer.encode_batch(list(texts))
    return [torch.tensor([getattr(e, ENCODING_FIELDS[name]) for e in encodings], dtype=torch.long)
            for name in input_names]


def load_traced(weights: str, backend: str, load_st_model: Callable[[], Any],
                max_seq_length: int | None) -> TracedPipeline | None:
    """The traced pipeline of these weights, traced from `load_st_model()` (the SentenceTransformer in the backend's
    dtype) when this machine has no trace of them yet; None when the model does not trace, or the trace cannot be
    written or read here (a read-only or damaged cache): the model then runs through sentence-transformers, as it
    did before traces existed, and a warning says why."""
    final = cache_root() / export_key(weights, backend)
    # Loaded before the try: a model that cannot load is the user's error to see, not a reason to fall back.
    st_model = None if (final / MANIFEST_FILE).is_file() else load_st_model()
    try:
        ensure_built(final, MANIFEST_FILE, lambda folder: _build(st_model, folder), f"embed.backend {backend!r}")
        manifest = json.loads((final / MANIFEST_FILE).read_text(encoding="utf-8"))
        if not manifest["traced"]:
            log.info("embed: the model does not trace (%s); running it through sentence-transformers",
                     manifest["reason"])
            return None
        return _load(final, manifest, max_seq_length)
    except (ModelError, OSError, ValueError, KeyError) as exc:
        log.warning("embed: no usable trace of the model (%s); running it through sentence-transformers", exc)
        return None


def _load(folder: Path, manifest: dict, max_seq_length: int | None) -> TracedPipeline:
    from tokenizers import Tokenizer

    try:
        module = _jit_load(folder / TRACED_FILE)
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    except Exception as exc:  # a damaged cache: say which folder to delete
        raise ModelError(f"embed: cannot load the traced model in {folder} ({exc}); delete that folder to trace "
                         f"it again") from exc
    limit = max_seq_length or int(manifest["max_seq_length"])
    tokenizer.enable_truncation(limit)
    return TracedPipeline(module, tokenizer, tuple(manifest["input_names"]), int(manifest["dim"]), limit)


class TraceRefused(Exception):
    """The model's pipeline cannot be traced to the same numbers; the reason goes into the manifest."""


def _build(st_model: Any, folder: Path) -> None:
    try:
        pipeline = _trace(st_model, folder)
        _check_against(st_model, pipeline)
        manifest = {"traced": True, "input_names": list(pipeline.input_names), "dim": pipeline.dim,
                    "max_seq_length": pipeline.max_seq_length}
    except TraceRefused as refused:
        for leftover in (TRACED_FILE, TOKENIZER_FILE):
            (folder / leftover).unlink(missing_ok=True)
        manifest = {"traced": False, "reason": str(refused)}
    manifest.update(recipe=TRACE_RECIPE_VERSION, **_versions())
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")


def _trace(st_model: Any, folder: Path) -> TracedPipeline:
    import torch

    tokenizer = _feeding_tokenizer(st_model)
    input_names = tuple(st_model.tokenizer.model_input_names)
    if not set(input_names) <= set(ENCODING_FIELDS):
        raise TraceRefused(f"the tokenizer gives inputs {list(input_names)}, beyond {sorted(ENCODING_FIELDS)}")

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = st_model

        def forward(self, *tensors):
            return self.inner(dict(zip(input_names, tensors)))["sentence_embedding"]

    inputs = tuple(_tensors(tokenizer, input_names, ["a short example", "a longer example with padding in its batch"]))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings: the check against sentence-transformers decides
            torch.jit.trace(Pipeline().eval(), inputs, check_trace=False).save(str(folder / TRACED_FILE))
    except Exception as exc:
        raise TraceRefused(f"torch.jit.trace failed: {type(exc).__name__}: {exc}") from exc
    tokenizer.save(str(folder / TOKENIZER_FILE))
    # The module checked is the one read back from the file the workers will load.
    return TracedPipeline(_jit_load(folder / TRACED_FILE), tokenizer, input_names,
                          int(st_model.get_embedding_dimension()), int(st_model.max_seq_length))


def _jit_load(file: Path) -> Any:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation: see the module docstring
        return torch.jit.load(str(file), map_location="cpu").eval()


def _feeding_tokenizer(st_model: Any) -> Any:
    """The model's own Rust tokenizer, set up as sentence-transformers calls it: pad to the batch's longest text,
    truncate at the model's limit."""
    hf = st_model.tokenizer
    try:
        tokenizer = rust_tokenizer(hf)
    except ModelError as exc:
        raise TraceRefused(str(exc)) from exc
    tokenizer.enable_padding(direction=hf.padding_side, pad_id=hf.pad_token_id, pad_type_id=hf.pad_token_type_id,
                             pad_token=hf.pad_token)
    tokenizer.enable_truncation(int(st_model.max_seq_length), direction=hf.truncation_side)
    return tokenizer


def _probe_texts(limit: int) -> list[str]:
    """Texts of every length up to past the token limit, with accents, CJK, emoji, code and stray whitespace."""
    texts = ["  leading and trailing spaces  ", "UPPER case Words", "x", "tab\tand\nnewline"]
    for n in range(1, 2 * limit, 23):
        words = [_PROBE_WORDS[(i * 7 + n) % len(_PROBE_WORDS)] for i in range(n)]
        texts.append(" ".join(words))
    return texts


def _check_against(st_model: Any, pipeline: TracedPipeline) -> None:
    """The trace must give sentence-transformers' bits on batches of several sizes and lengths."""
    import torch

    texts = _probe_texts(pipeline.max_seq_length)
    with torch.inference_mode():
        for size in (1, 3, 8, 32):
            for start in range(0, len(texts), size * 3):
                batch = texts[start : start + size]
                expected = st_model.encode(batch, batch_size=len(batch), normalize_embeddings=False,
                                           convert_to_tensor=True, show_progress_bar=False)
                try:
                    got = pipeline.pooled(batch)
                except Exception as exc:  # a shape the trace baked in, an op TorchScript cannot run
                    raise TraceRefused(f"the trace fails on a batch of {len(batch)}: {exc}") from exc
                if got.dtype != expected.dtype or not torch.equal(got, expected.to(got.device)):
                    raise TraceRefused(f"the trace differs from sentence-transformers on a batch of {len(batch)}")
