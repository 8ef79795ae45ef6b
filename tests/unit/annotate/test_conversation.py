import numpy as np

from postmix.annotate import conversation as c

MULTI = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Write a poem."},
    {"role": "assistant", "content": "Roses are red."},
    {"role": "user", "content": "Make it longer!"},
    {"role": "assistant", "content": "Roses are red, violets are blue."},
]


def test_numpy_arrays_of_dicts_as_arrow_gives_them():
    turns = c.normalise_messages(np.array(MULTI, dtype=object))
    assert turns == c.normalise_messages(MULTI)
    assert c.normalise_messages(None) == ()


def test_task_reads_the_first_user_turn_only():
    assert c.task_input(c.normalise_messages(MULTI), 100) == "write a poem ."


def test_quality_reads_last_user_and_last_assistant_turn():
    line = c.quality_input(c.normalise_messages(MULTI), 400)
    assert line == "make it longer ! __response__ roses are red , violets are blue ."


def test_language_reads_every_user_and_assistant_turn_without_system():
    line = c.language_input(c.normalise_messages(MULTI), 1000)
    assert "You are helpful" not in line and line.startswith("Write a poem.") and "violets" in line
    assert "\n" not in line


def test_fasttext_text_cuts_and_normalises():
    assert c.fasttext_text("Hello,\n\tWORLD!!", 100) == "hello , world ! !"
    assert c.fasttext_text("abcdef", 3) == "abc"
