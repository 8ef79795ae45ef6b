import numpy as np
import pytest

from postmix.ingest.formats import FORMATS, best_format, get_format
from postmix.ingest.formats.base import ROLE_ALIASES
from postmix.ingest.formats.registry import AMBIGUOUS
from postmix.errors import InputError
from postmix.ingest.reasons import RowRejected

U, A = "user", "assistant"
# One typical record per registered format and the conversation it must give: a new format without a case fails.
CASES = {
    "chat": ({"id": "c1", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                       {"role": "assistant", "content": "Hello"}], "score": 0.5},
             [("system", "Be brief."), (U, "Hi"), (A, "Hello")], {"score": 0.5}, "c1"),
    "sharegpt": ({"id": 7, "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"},
                                             {"from": "human", "value": "More"}, {"from": "chatgpt", "value": "Sure"}],
                  "lang": "en"},
                 [(U, "Hi"), (A, "Hello"), (U, "More"), (A, "Sure")], {"lang": "en"}, "7"),
    "alpaca": ({"instruction": "Translate", "input": "bonjour", "output": "hello",
                "history": [["Hi", "Hello"], ["Can you translate?", "Yes"]], "uuid": "u-1"},
               [(U, "Hi"), (A, "Hello"), (U, "Can you translate?"), (A, "Yes"), (U, "Translate\n\nbonjour"), (A, "hello")],
               {}, "u-1"),
    "dolly": ({"instruction": "Who wrote it?", "context": "", "response": "Orwell", "category": "open_qa"},
              [(U, "Who wrote it?"), (A, "Orwell")], {"category": "open_qa"}, None),
    "pairs": ({"question": "2+2?", "answer": "4", "my_score": 3, "_id": "q9"},
              [(U, "2+2?"), (A, "4")], {"my_score": 3}, "q9"),
}


def test_every_registered_format_has_a_case():
    assert set(CASES) == set(FORMATS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_format_converts_its_record(name):
    record, expected, meta, source_id = CASES[name]
    assert best_format(record.keys()) == name
    messages, got_meta, got_id = FORMATS[name].to_conversation(record)
    assert [(m["role"], m["content"]) for m in messages] == expected
    assert got_meta == meta
    assert got_id == source_id


def test_dolly_context_is_appended_after_a_blank_line():
    messages, _, _ = FORMATS["dolly"].to_conversation({"instruction": "Q?", "context": "Some text.", "response": "A"})
    assert messages[0]["content"] == "Q?\n\nSome text."


def test_alpaca_system_field_becomes_first_message():
    messages, _, _ = FORMATS["alpaca"].to_conversation({"instruction": "Q", "output": "A", "system": "Be kind."})
    assert messages[0] == {"role": "system", "content": "Be kind."}


def test_nested_meta_is_lifted_and_top_level_fields_win():
    record = {"id": "x", "source": "top", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
              "meta": {"category": "open_qa", "source": "nested"}}
    _, meta, _ = FORMATS["chat"].to_conversation(record)
    assert meta == {"category": "open_qa", "source": "top"}


@pytest.mark.parametrize("alias,role", sorted(ROLE_ALIASES.items()))
def test_role_aliases_map_to_canonical_roles(alias, role):
    messages, _, _ = FORMATS["sharegpt"].to_conversation({"conversations": [{"from": alias.upper(), "value": "x"}]})
    assert messages[0]["role"] == role


def test_unknown_role_is_rejected():
    with pytest.raises(RowRejected) as err:
        FORMATS["chat"].to_conversation({"messages": [{"role": "narrator", "content": "x"}]})
    assert err.value.reason == "unknown_role"


def test_arrow_values_are_normalised():
    """Rows from Arrow/Spark carry numpy arrays and tuples where JSON has lists."""
    record = {"messages": np.array([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], dtype=object),
              "tags": np.array(["a", "b"]), "n": np.int64(3)}
    messages, meta, _ = FORMATS["chat"].to_conversation(record)
    assert messages[1]["content"] == "a" and meta == {"tags": ["a", "b"], "n": 3}
    messages, _, _ = FORMATS["alpaca"].to_conversation(
        {"instruction": "I", "output": "O", "history": (("u", "a"),)})
    assert [m["content"] for m in messages] == ["u", "a", "I", "O"]


def test_pairs_field_names_are_detected():
    for keys in [("prompt", "response"), ("prompt", "completion"), ("question", "answer"), ("query", "response"),
                 ("instruction", "response"), ("input", "output")]:
        assert best_format(keys) == "pairs", keys


def test_detection_prefers_the_more_specific_format_and_reports_ties():
    assert best_format({"instruction", "input", "output"}) == "alpaca"
    assert best_format({"instruction", "context", "response"}) == "dolly"
    assert best_format({"messages", "conversations"}) == AMBIGUOUS
    assert best_format({"text", "label"}) is None


def test_unknown_format_name_is_an_input_error():
    with pytest.raises(InputError, match="known formats"):
        get_format("nope")
