"""The errors postmix raises on purpose.

Every error a user can cause (bad config, bad input path, impossible constraints, a missing model) is a
subclass of PostmixError, so the CLI can print its message without a traceback and exit non-zero.
Anything else escaping a job is a bug.
"""


class PostmixError(Exception):
    """A user-facing error: the message alone must say what is wrong and where."""

    exit_code = 2


class ConfigError(PostmixError):
    """The configuration (file, flags or parameters) is invalid."""


class InputError(PostmixError):
    """An input path or file cannot be used at all (missing, unreadable, unknown or ambiguous format)."""


class SchemaError(PostmixError):
    """A table or batch does not have the schema declared in schemas/."""


class ModelError(PostmixError):
    """A model file is missing, corrupt, or does not match the configured one."""


class ConstraintError(PostmixError):
    """Selection constraints cannot be satisfied (detected before any work starts)."""


class StorageError(PostmixError):
    """A table cannot be read or written as asked (conflict, wrong location, wrong table)."""
