"""The Arrow schemas the engine-free cores use are derived from schemas/*.json (the single source of truth); these
are the hand-written copies they replaced, kept here to pin that the derivation changed nothing: field names,
order, types and nullability."""

from __future__ import annotations

import pyarrow as pa
import pytest

from postmix.annotate.annotator import ANNOTATION_COLUMNS, ANNOTATION_SCHEMA
from postmix.embed.encoder import EMBEDDING_SCHEMA
from postmix.errors import SchemaError
from postmix.schemas.declared import table_arrow_schema

HAND_WRITTEN_ANNOTATION_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False),
    pa.field("task", pa.string(), nullable=False),
    pa.field("task_probs", pa.list_(pa.struct([pa.field("label", pa.string()), pa.field("prob", pa.float32())]))),
    pa.field("task_source", pa.string(), nullable=False),
    pa.field("quality", pa.float32(), nullable=False),
    pa.field("quality_source", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("language_prob", pa.float32(), nullable=False),
    pa.field("prompt_chars", pa.int64(), nullable=False),
    pa.field("response_chars", pa.int64(), nullable=False),
    pa.field("n_turns", pa.int32(), nullable=False),
    pa.field("code_blocks", pa.int32(), nullable=False),
    pa.field("has_math", pa.bool_(), nullable=False),
    pa.field("refusal", pa.bool_(), nullable=False),
    pa.field("repetition", pa.float32(), nullable=False),
    pa.field("empty_response", pa.bool_(), nullable=False),
    pa.field("truncated_response", pa.bool_(), nullable=False),
    pa.field("flags", pa.list_(pa.string())),
    pa.field("task_model", pa.string(), nullable=False),
    pa.field("task_model_sha256", pa.string(), nullable=False),
    pa.field("quality_model", pa.string(), nullable=False),
    pa.field("quality_model_sha256", pa.string(), nullable=False),
    pa.field("lid_model", pa.string(), nullable=False),
    pa.field("lid_model_sha256", pa.string(), nullable=False),
])

HAND_WRITTEN_EMBEDDING_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("model_fingerprint", pa.string(), nullable=False),
    pa.field("recipe", pa.string(), nullable=False),
    pa.field("text_chars", pa.int32(), nullable=False),
    pa.field("truncated", pa.bool_(), nullable=False),
    pa.field("vector", pa.list_(pa.float32()), nullable=True),
    pa.field("dim", pa.int32(), nullable=False),
    pa.field("flags", pa.list_(pa.string()), nullable=False),
])


def _described(schema: pa.Schema) -> list[tuple[str, str, bool]]:
    return [(f.name, str(f.type), f.nullable) for f in schema]


@pytest.mark.parametrize("derived, hand_written", [(ANNOTATION_SCHEMA, HAND_WRITTEN_ANNOTATION_SCHEMA),
                                                   (EMBEDDING_SCHEMA, HAND_WRITTEN_EMBEDDING_SCHEMA)],
                         ids=["annotations", "embeddings"])
def test_derived_schema_equals_the_hand_written_one(derived, hand_written):
    assert _described(derived) == _described(hand_written)
    assert derived.equals(hand_written)


def test_annotation_columns_follow_the_schema():
    assert ANNOTATION_COLUMNS == tuple(HAND_WRITTEN_ANNOTATION_SCHEMA.names)


def test_leaving_out_an_undeclared_column_is_refused():
    with pytest.raises(SchemaError, match="no columns"):
        table_arrow_schema("embeddings", without=("not_a_column",))
