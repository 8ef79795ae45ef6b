import pytest

from postmix.embed.text import (conversation_text, recipe_function, recipe_id, text_keys, truncate_to_tokens,
                                user_turns_text)
from postmix.errors import ConfigError

CHAT = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": " First question? "},
    {"role": "assistant", "content": "An answer."},
    {"role": "user", "content": "Follow-up."},
    {"role": "assistant", "content": "Another answer."},
]


def test_user_turns_keeps_every_user_turn_in_order_and_drops_system_and_assistant():
    assert user_turns_text(CHAT) == "First question?\n\nFollow-up."


def test_conversation_keeps_every_turn_with_its_role():
    text = conversation_text(CHAT)
    assert text.startswith("system: You are helpful.\n\nuser: First question?")
    assert text.endswith("assistant: Another answer.")


def test_recipes_accept_arrow_style_rows_and_missing_content():
    class Row:
        def __init__(self, role, content):
            self.role, self.content = role, content

    assert user_turns_text([Row("user", "hi"), Row("user", None)]) == "hi"


def test_unknown_recipe_is_a_config_error_naming_the_known_ones():
    with pytest.raises(ConfigError, match="user_turns"):
        recipe_function("assistant_only")


def test_recipe_id_records_recipe_version_and_limit():
    assert recipe_id("conversation", 256) == "conversation/v1/max256"


def test_truncation_cuts_at_the_token_limit_and_flags_the_row(encoder):
    long_text = "internationalization " * 400
    cut = truncate_to_tokens([long_text, "short text"], encoder.tokenizer, 32)
    assert cut.truncated == [True, False]
    assert cut.n_tokens[0] == 32 and cut.n_tokens[1] < 32
    assert long_text.startswith(cut.texts[0]) and len(cut.texts[0]) < len(long_text)
    assert cut.texts[1] == "short text"
    assert len(encoder.tokenizer.encode(cut.texts[0], add_special_tokens=True).ids) == 32


def test_truncation_limit_without_room_is_a_config_error(encoder):
    with pytest.raises(ConfigError):
        truncate_to_tokens(["x"], encoder.tokenizer, 2)


def test_text_keys_are_equal_exactly_when_the_recipe_texts_are():
    ask = {"role": "user", "content": "Name a prime."}
    rows = [[ask, {"role": "assistant", "content": "2"}], [ask, {"role": "assistant", "content": "7"}],
            [{"role": "user", "content": "Name a prime!"}], [{"role": "system", "content": "Be brief."}, ask]]
    by_user_turns = text_keys(rows, "user_turns")
    assert by_user_turns[0] == by_user_turns[1] == by_user_turns[3] != by_user_turns[2]
    by_conversation = text_keys(rows, "conversation")
    assert len(set(by_conversation)) == 4  # the answers and the system turn are part of that recipe's text


def test_text_keys_leave_rows_without_text_unkeyed():
    keys = text_keys([None, [], [{"role": "assistant", "content": "hi"}], [{"role": "user", "content": "  "}]],
                     "user_turns")
    assert keys == [None, None, None, None]
