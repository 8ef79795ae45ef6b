"""Fixtures shared by unit-test areas: the real packaged MiniLM, loaded once per process (embed, semantic)."""

from __future__ import annotations

import pytest

from postmix.embed.encoder import Encoder, get_encoder, load_sentence_transformer
from postmix.embed.params import EmbedParams


@pytest.fixture(scope="session")
def embed_params() -> EmbedParams:
    return EmbedParams(batch_size=16, torch_threads=2, sort_window=64)


@pytest.fixture(scope="session")
def encoder(embed_params: EmbedParams) -> Encoder:
    return get_encoder(embed_params)


@pytest.fixture(scope="session")
def st_model(embed_params: EmbedParams):
    """The same model as a plain SentenceTransformer: the reference postmix's vectors are compared with."""
    return load_sentence_transformer(embed_params)
