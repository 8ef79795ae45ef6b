"""What a `postmix` command prints: its own lines (per-stage counts, stage progress) and, by default, nothing else.

Quiet is the default. The libraries postmix drives (Spark's log4j, the JVM launcher, faiss, sentence-transformers,
transformers, huggingface_hub, py4j) are silenced where they log: log4j through a properties file given to the
driver JVM (postmix.spark.session), Python libraries through their loggers, progress-bar switches and scoped
`warnings` filters. `--verbose` (POSTMIX_VERBOSE=1) keeps every one of them as the library sets it, and turns
postmix's own debug logging on.

The setting travels to Spark's Python workers in the environment: the session exports POSTMIX_VERBOSE and the
libraries' own switches before the JVM starts (local mode: workers inherit them) and as spark.executorEnv.* (a
cluster's executors); every place that loads a model or faiss calls `quiet_libraries()` first, in whichever process.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

VERBOSE_ENV = "POSTMIX_VERBOSE"

# The libraries' own switches, read when they are imported (set only where the user has not set them).
LIBRARY_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub, and transformers' "Loading weights" bars
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

# Python loggers of the libraries, kept to errors by default ("faiss.loader" logs which build it loads, at INFO).
LIBRARY_LOGGERS = ("faiss", "sentence_transformers", "transformers", "huggingface_hub", "torch", "py4j", "pyspark",
                   "urllib3", "httpx", "filelock", "fsspec", "lightgbm", "numexpr", "matplotlib", "PIL")

# Warnings raised from inside these packages (deprecations, "this model was trained with..."); a warning that
# postmix's own code raises, or one a library attributes to postmix's call site, still shows.
LIBRARY_WARNINGS_MODULE = (r"(transformers|sentence_transformers|torch|huggingface_hub|faiss|pyspark|py4j|fasttext"
                           r"|lightgbm|sklearn|scipy|pandas|pyarrow|matplotlib|numexpr)(\..*)?$")


def set_verbose(verbose: bool) -> None:
    """The choice of this command (cli.main); exported so every process Spark starts from here sees it."""
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "0").strip().lower() in ("1", "true", "yes")


def worker_env() -> dict[str, str]:
    """The variables Spark's Python workers need for the same console behaviour (empty when verbose)."""
    if is_verbose():
        return {VERBOSE_ENV: "1"}
    return {VERBOSE_ENV: "0", **{key: os.environ.get(key, value) for key, value in LIBRARY_ENV.items()}}


def quiet_libraries() -> None:
    """Silence the libraries in this process, unless verbose. Idempotent and cheap: call it before loading a model."""
    if is_verbose():
        return
    for key, value in LIBRARY_ENV.items():
        os.environ.setdefault(key, value)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=LIBRARY_WARNINGS_MODULE)
    # Already imported before the environment was set: switch them off through their own API.
    if "transformers" in sys.modules:
        try:
            from transformers.utils import logging as transformers_logging

            transformers_logging.set_verbosity_error()
            transformers_logging.disable_progress_bar()
        except Exception:  # another transformers layout: its environment switches still apply to later imports
            pass
    if "huggingface_hub" in sys.modules:
        try:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        except Exception:
            pass


class ConsoleFormatter(logging.Formatter):
    """postmix's own log lines on the console: `HH:MM:SS message`, with the level named from WARNING up."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        text = f"{self.formatTime(record, self.datefmt)} {level}{record.getMessage()}"
        if record.exc_info and record.levelno >= logging.WARNING:
            text += "\n" + self.formatException(record.exc_info)
        return text


VERBOSE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: bool) -> None:
    """Default: postmix's INFO lines (stage progress), everyone's warnings, libraries quiet. Verbose: DEBUG for
    postmix, the libraries as they set themselves (only the chattiest at WARNING), the full log format."""
    set_verbose(verbose)
    if verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format=VERBOSE_FORMAT)
        for noisy in ("py4j", "pyspark", "urllib3", "sentence_transformers", "httpx", "filelock"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    root = logging.getLogger()
    if not root.handlers:  # as basicConfig: a host that configured logging (pytest, Airflow) keeps its own
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("postmix").setLevel(logging.INFO)
    quiet_libraries()
