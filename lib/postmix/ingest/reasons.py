"""Every reject reason code, in one place: a constant per code and its one-line description.

The docs table (docs/FORMATS.md) and the tests iterate over REASONS, so a new code without a test or a doc line fails.
"""

from __future__ import annotations

REASONS: dict[str, str] = {}


def _reason(code: str, description: str) -> str:
    """Register a reason code once and return it (the constant's value is the code itself)."""
    if code in REASONS:
        raise ValueError(f"reason code {code!r} registered twice")
    REASONS[code] = description
    return code


# Container level: the bytes of a line, element, row or file cannot be turned into a JSON object.
INVALID_UTF8 = _reason("invalid_utf8", "the line or field is not valid UTF-8")
MALFORMED_JSON = _reason("malformed_json", "the line or array element is not valid JSON")
NESTING_TOO_DEEP = _reason("nesting_too_deep", "the JSON value is nested deeper than the parser allows")
NOT_AN_OBJECT = _reason("not_an_object", "the JSON value is not an object (a list, string, number, ...)")
RECORD_TOO_LARGE = _reason("record_too_large", "the raw record is larger than max_record_bytes")
TRUNCATED_FILE = _reason("truncated_file", "the compressed or JSON-array file ends early; rows before the break are kept")
EMPTY_FILE = _reason("empty_file", "the file holds no records (zero bytes, only whitespace, or zero rows)")
UNREADABLE_FILE = _reason("unreadable_file", "the file or Parquet row group cannot be opened or read")
FILE_TOO_LARGE = _reason("file_too_large", "a JSON-array file is larger than json_array_max_bytes")
NOT_A_REGULAR_FILE = _reason("not_a_regular_file", "the path is a FIFO (named pipe), socket or device: never opened")
BROKEN_LINK = _reason("broken_link", "a symbolic link whose target does not exist or cannot be resolved (a link loop)")
# Record level: the object is JSON but not a usable conversation.
FORMAT_MISMATCH = _reason("format_mismatch", "the record's fields do not fit the file's (detected or declared) format")
MISSING_FIELD = _reason("missing_field", "a field the format requires is absent or null")
WRONG_TYPE = _reason("wrong_type", "a field has the wrong type (e.g. content is a number, messages is a string)")
UNKNOWN_ROLE = _reason("unknown_role", "a message role is not user, assistant, system or a documented alias")
EMPTY_CONVERSATION = _reason("empty_conversation", "the conversation has no messages")
EMPTY_TURN = _reason("empty_turn", "a message is empty or whitespace-only")
NO_ASSISTANT_ANSWER = _reason("no_assistant_answer", "the conversation does not end with an assistant message")
TURN_ORDER = _reason("turn_order", "roles out of order: system not first, two user or assistant turns in a row, "
                     "or the first non-system turn is not the user's")
CONTROL_CHARACTERS = _reason("control_characters", "a message holds NUL or other control characters "
                             "(anything below U+0020 except tab, newline, carriage return, form feed, vertical tab)")
FIELD_TOO_LARGE = _reason("field_too_large", "a message or the meta object is longer than max_field_chars")
TOO_MANY_MESSAGES = _reason("too_many_messages", "the conversation has more than max_messages messages")


class RowRejected(Exception):
    """Raised by record-level code for one bad row; the ingest turns it into a reject row (never a crash)."""

    def __init__(self, reason: str, detail: str):
        if reason not in REASONS:
            raise ValueError(f"unknown reject reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
