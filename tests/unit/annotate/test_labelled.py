import pytest

from postmix.annotate import labelled
from postmix.errors import InputError


def test_quality_labels_accept_words_bools_numbers_and_threshold():
    parse = lambda v: labelled.parse_label(v, "quality", 0.5, "here")  # noqa: E731
    assert [parse(v) for v in ("good", "BAD", True, False, 1, 0, 0.7, 0.2, 0.5)] == \
        ["good", "bad", "good", "bad", "good", "bad", "good", "bad", "good"]
    with pytest.raises(InputError, match="here"):
        parse("maybe")


def test_task_label_must_be_a_non_empty_string():
    assert labelled.parse_label(" Math ", "task", 0.5, "x") == "Math"
    with pytest.raises(InputError):
        labelled.parse_label("", "task", 0.5, "x")


def test_split_is_deterministic_and_near_the_fractions():
    parts = [labelled.split_part(f"key-{i}", "salt", 0.2, 0.1) for i in range(5000)]
    assert parts == [labelled.split_part(f"key-{i}", "salt", 0.2, 0.1) for i in range(5000)]
    assert abs(parts.count("test") / 5000 - 0.2) < 0.03
    assert abs(parts.count("calibration") / 5000 - 0.1) < 0.03
    assert parts != [labelled.split_part(f"key-{i}", "other", 0.2, 0.1) for i in range(5000)]


def test_labels_with_spaces_survive_fasttext_encoding():
    token = labelled.encode_label("Coding & Debugging")
    assert " " not in token and labelled.decode_label(token) == "Coding & Debugging"


def test_group_is_the_split_key_and_rows_need_text():
    rows = [{"messages": [{"role": "user", "content": "Hi there"}], "label": "a", "group": "g1"}]
    (example,) = labelled.to_examples(rows, "task", 0.5, 100)
    assert example.split_key == "g1" and example.text == "hi there" and example.supervision == "unspecified"
    with pytest.raises(InputError, match="messages"):
        list(labelled.to_examples([{"label": "a"}], "task", 0.5, 100))
