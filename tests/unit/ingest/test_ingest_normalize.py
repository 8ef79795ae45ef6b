import pytest

from postmix.ingest.formats import FORMATS
from postmix.ingest.normalize import normalize_for_id, sample_id
from postmix.ingest.params import IngestParams, SourceSpec
from postmix.errors import ConfigError

CONV = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]


def test_sample_id_is_pinned():
    """The recipe is a contract (ids are keys in stored tables): changing it must be deliberate."""
    assert sample_id(CONV) == "2e8a5bd7f3abf749f019b9b8ea6df3d4"


def test_sample_id_ignores_whitespace_and_unicode_composition():
    spaced = [{"role": "user", "content": "  What is\n2 +\t 2? "}, {"role": "assistant", "content": "4\n"}]
    composed = [{"role": "user", "content": "caf\u00e9"}, {"role": "assistant", "content": "ok"}]
    decomposed = [{"role": "user", "content": "cafe\u0301"}, {"role": "assistant", "content": "ok"}]
    assert sample_id(spaced) == sample_id(CONV)
    assert sample_id(composed) == sample_id(decomposed)
    assert normalize_for_id(" a \n\n b ") == "a b"


def test_sample_id_depends_on_roles_order_and_boundaries():
    swapped = [{"role": "assistant", "content": "What is 2 + 2?"}, {"role": "user", "content": "4"}]
    merged = [{"role": "user", "content": "What is 2 + 2? 4"}, {"role": "assistant", "content": ""}]
    assert len({sample_id(CONV), sample_id(swapped), sample_id(merged)}) == 3


def test_same_conversation_in_every_format_gets_one_id():
    records = {
        "chat": {"messages": CONV},
        "sharegpt": {"conversations": [{"from": "human", "value": "What is 2 + 2?"}, {"from": "gpt", "value": "4"}]},
        "alpaca": {"instruction": "What is 2 + 2?", "input": "", "output": "4"},
        "dolly": {"instruction": "What is 2 + 2?", "context": "", "response": "4"},
        "pairs": {"prompt": "What is 2 + 2?", "response": "4"},
    }
    ids = {sample_id(FORMATS[name].to_conversation(record)[0]) for name, record in records.items()}
    assert ids == {sample_id(CONV)}


def test_params_reject_non_positive_limits():
    with pytest.raises(ConfigError, match="max_messages"):
        IngestParams(max_messages=0)


@pytest.mark.parametrize("text,expected", [
    ("a=data/x.jsonl", SourceSpec("a", "data/x.jsonl")),
    ("a=data/x.jsonl:alpaca", SourceSpec("a", "data/x.jsonl", "alpaca")),
    ("a=s3://bucket/dir/*.jsonl.gz", SourceSpec("a", "s3://bucket/dir/*.jsonl.gz")),
    ("a=s3://bucket/x.parquet:dolly", SourceSpec("a", "s3://bucket/x.parquet", "dolly")),
])
def test_source_spec_parse(text, expected):
    assert SourceSpec.parse(text) == expected


def test_source_spec_parse_rejects_garbage():
    with pytest.raises(ConfigError):
        SourceSpec.parse("no-equals-sign")


def test_whitespace_collapsing_matches_the_regex_definition_over_every_code_point():
    # normalize_for_id splits with str.split(); sample ids were defined with re \s+: the two must agree exactly,
    # or ids of existing tables would change
    import random
    import re
    import sys

    regex_space = [c for c in map(chr, range(sys.maxunicode + 1)) if re.fullmatch(r"\s", c)]
    assert regex_space == [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    alphabet = regex_space + list("ab\u200b\ufeff\u00e9")
    rng = random.Random(0)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert normalize_for_id(text) == re.sub(r"\s+", " ", text).strip()
