import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from postmix.embed.encoder import (
    EMBEDDING_SCHEMA,
    embed_frame,
    encode_texts,
    get_encoder,
    length_sorted_batches,
    resolve_model_path,
)
from postmix.errors import ConfigError, ModelError

TEXTS = [
    "How do I reverse a list in Python?",
    "Write a haiku about autumn leaves.",
    "Explain the difference between TCP and UDP in detail, with examples of protocols built on each. " * 3,
    "2+2?",
    "Summarise the plot of Hamlet in three sentences.",
]


def test_vectors_equal_plain_sentence_transformer_encode(st_model, embed_params):
    ours = encode_texts(TEXTS, embed_params)
    reference = st_model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(ours * reference, axis=1)) >= 0.999


def test_truncated_text_embeds_like_the_full_text(st_model, embed_params):
    long_text = "The quick brown fox jumps over the lazy dog near the riverbank. " * 80
    ours = encode_texts([long_text], embed_params)
    reference = st_model.encode([long_text], normalize_embeddings=True)
    assert float(ours[0] @ reference[0]) >= 0.999


def test_same_inputs_give_byte_identical_vectors(embed_params):
    assert encode_texts(TEXTS, embed_params).tobytes() == encode_texts(TEXTS, embed_params).tobytes()


def test_model_is_loaded_once_per_process(embed_params):
    assert get_encoder(embed_params) is get_encoder(dataclasses.replace(embed_params, batch_size=3))


def test_batches_are_longest_first_inside_each_window_and_cover_every_row():
    lengths = [3, 9, 1, 7, 5, 8, 2]
    batches = length_sorted_batches(lengths, window=4, batch_size=2)
    assert [b.tolist() for b in batches] == [[1, 3], [0, 2], [5, 4], [6]]


def frame(messages):
    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(len(messages))], "messages": messages})


def test_embed_frame_rows_follow_the_schema_and_flag_empty_text(embed_params, st_model):
    messages = [
        np.array([{"role": "user", "content": TEXTS[0]}, {"role": "assistant", "content": "Use reversed()."}]),
        [{"role": "system", "content": "Only a system prompt"}, {"role": "assistant", "content": "Hi"}],
        None,
        [{"role": "user", "content": "word " * 600}, {"role": "assistant", "content": "ok"}],
    ]
    out = embed_frame(frame(messages), embed_params)
    table = pa.Table.from_pandas(out, schema=EMBEDDING_SCHEMA, preserve_index=False)
    assert table.num_rows == 4
    assert out["sample_id"].tolist() == ["s0", "s1", "s2", "s3"]
    assert out["recipe"].unique().tolist() == ["user_turns/v1/max256"]
    assert out["model_fingerprint"].iloc[0].startswith("all-MiniLM-L6-v2:d384:")
    assert out["flags"].tolist() == [[], ["empty_text"], ["no_messages", "empty_text"], []]
    assert out["vector"].iloc[1] is None and out["vector"].iloc[2] is None
    assert out["dim"].tolist() == [384, 0, 0, 384]
    assert out["truncated"].tolist() == [False, False, False, True]
    reference = st_model.encode([TEXTS[0]], normalize_embeddings=True)[0]
    assert float(out["vector"].iloc[0] @ reference) >= 0.999


def test_conversation_recipe_embeds_the_whole_conversation(embed_params, st_model):
    params = dataclasses.replace(embed_params, recipe="conversation")
    messages = [[{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]]
    out = embed_frame(frame(messages), params)
    reference = st_model.encode(["user: Hi there\n\nassistant: Hello!"], normalize_embeddings=True)[0]
    assert out["recipe"].iloc[0] == "conversation/v1/max256"
    assert float(out["vector"].iloc[0] @ reference) >= 0.999


def test_embed_frame_without_messages_column_is_a_config_error(embed_params):
    with pytest.raises(ConfigError, match="messages"):
        embed_frame(pd.DataFrame({"sample_id": ["a"]}), embed_params)


def test_packaged_model_resolves_by_name_and_as_a_local_path(encoder):
    path = resolve_model_path("all-MiniLM-L6-v2")
    assert (path / "modules.json").is_file()
    assert resolve_model_path(str(path)) == path


def test_a_model_not_available_offline_is_a_model_error():
    with pytest.raises(ModelError, match="offline"):
        resolve_model_path("no-such-org/no-such-model-xyz")


def test_cuda_without_a_gpu_is_a_config_error(embed_params):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present here")
    with pytest.raises(ConfigError, match="cuda"):
        get_encoder(dataclasses.replace(embed_params, device="cuda"))


def test_identity_without_a_load_equals_the_loaded_encoders(embed_params, encoder, monkeypatch, tmp_path):
    from postmix.embed import encoder as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(module, "_ENCODERS", {})  # this process has loaded nothing yet
    bf16 = dataclasses.replace(embed_params, backend="torch-bf16")
    loaded = get_encoder(bf16)  # a first load remembers the dimension under this cache
    monkeypatch.setattr(module, "get_encoder", lambda params: pytest.fail("loaded a model it had loaded before"))
    identity = module.encoder_identity(bf16)
    assert (identity.fingerprint, identity.dim) == (loaded.fingerprint, 384)
    assert module.encoder_identity(embed_params).fingerprint == encoder.fingerprint


def test_identity_loads_weights_it_has_no_note_of(embed_params, encoder, monkeypatch, tmp_path):
    from postmix.embed import encoder as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loads = []
    monkeypatch.setattr(module, "get_encoder", lambda params: loads.append(params) or encoder)
    assert module.encoder_identity(embed_params).fingerprint == encoder.fingerprint and len(loads) == 1
    note = module._note_path(module.weights_digest(encoder.path))
    note.parent.mkdir(parents=True, exist_ok=True)
    for unreadable in ("{not json", '{"dim": "384"}', '{"dim": 0}', "[]"):
        note.write_text(unreadable)
        assert module.known_dimension(module.weights_digest(encoder.path)) is None
    assert module.encoder_identity(embed_params).dim == 384 and len(loads) == 2


def test_a_note_that_cannot_be_written_costs_only_a_load(monkeypatch, tmp_path):
    from postmix.embed import encoder as module

    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    module.remember_dimension("0123456789abcdef", 384)
    assert module.known_dimension("0123456789abcdef") is None


def test_an_executor_refuses_a_model_of_another_dimension(encoder):
    from postmix.embed.encoder import check_dimension

    check_dimension(encoder, 384)
    with pytest.raises(ModelError, match="768"):
        check_dimension(encoder, 768)


def test_a_library_upgrade_makes_the_driver_load_again(embed_params, encoder, monkeypatch, tmp_path):
    from importlib import metadata

    from postmix.embed import encoder as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    digest = module.weights_digest(encoder.path)
    module.remember_dimension(digest, 384)
    assert module.known_dimension(digest) == 384
    installed = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "99.0" if name == "transformers" else installed(name))
    assert module.known_dimension(digest) is None


def test_an_encoder_this_process_holds_is_noted_too(embed_params, encoder, monkeypatch, tmp_path):
    from postmix.embed import encoder as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no note here, but the process has the model loaded
    assert module.encoder_identity(embed_params).dim == 384
    assert module.known_dimension(module.weights_digest(encoder.path)) == 384
