"""The annotate batch function: pandas batch of samples in, the annotation columns out (no Spark here).

`annotate_frame` is what the Spark wrapper maps over Arrow batches; `load_annotators` is called by it on every batch
and returns the per-process cached, validated models (validation happens on the first call: call it once at job
start so a missing or corrupt model fails before any work).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from postmix.annotate import heuristics
from postmix.annotate.conversation import (Turn, all_text, contents, language_input, last_exchange,
                                           normalise_messages, quality_input, task_input)
from postmix.annotate.labelled import decode_label
from postmix.annotate.language import UNDETERMINED, bundled_lid_path, detect_languages
from postmix.annotate.models import DEFAULT_QUALITY_MODEL, DEFAULT_TASK_MODEL, LoadedModel, load_model
from postmix.annotate.quality_eval import model_quality
from postmix.annotate.params import AnnotateParams
from postmix.errors import InputError, ModelError, SchemaError
from postmix.schemas.declared import table_arrow_schema

INPUT_COLUMNS = ("sample_id", "messages", "meta")
# Optional: the sample's source name; with the last user turn it makes the quality ranker's request groups
# (quality_group.py). Without it every row of the batch counts as one source.
SOURCE_COLUMN = "source"
TASK_FOR_EMPTY_PROMPT = "Others"

# The columns the annotator computes: the declared annotations table less what the Spark stage adds.
ANNOTATION_SCHEMA = table_arrow_schema("annotations", without=("annotate_fingerprint", "run_id"))
ANNOTATION_COLUMNS = tuple(ANNOTATION_SCHEMA.names)


@dataclass(frozen=True)
class Annotators:
    task: LoadedModel
    quality: LoadedModel
    lid: LoadedModel


def load_annotators(params: AnnotateParams) -> Annotators:
    """Validated models for these params (defaults where a path is None); cached per process by path and sha256.
    The params validated themselves when they were built (AnnotateParams.__post_init__)."""
    models = Annotators(task=load_model("task", params.task_model or DEFAULT_TASK_MODEL),
                        quality=load_model("quality", params.quality_model or DEFAULT_QUALITY_MODEL),
                        lid=load_model("lid", params.lid_model or bundled_lid_path()))
    if params.quality_length_control and models.quality.calibration.length_control is None:
        raise ModelError(f"annotate.quality_length_control: quality model {models.quality.path} has no "
                         "length-controlled calibration (use the LightGBM ranker or train one with "
                         "`postmix train --kind quality --model lgbm-rank`)")
    return models


def annotate_frame(pdf: pd.DataFrame, params: AnnotateParams) -> pd.DataFrame:
    """The annotation columns (ANNOTATION_SCHEMA, in order) for a batch with columns sample_id, messages, meta
    (and optionally source). A quality ranker with request-group features scores each reply among the batch's
    replies to the same request: a caller that cuts a pool into batches keeps each group in one batch."""
    missing = [c for c in INPUT_COLUMNS if c not in pdf.columns]
    if missing:
        raise SchemaError(f"annotate: input batch lacks columns {missing} (has {list(pdf.columns)})")
    models = load_annotators(params)
    turns = [normalise_messages(m) for m in pdf["messages"]]
    metas = [_parse_meta(m, sid) for m, sid in zip(pdf["meta"], pdf["sample_id"])]
    flags: list[list[str]] = [[] for _ in turns]
    out = {"sample_id": pdf["sample_id"].astype(str).tolist()}
    out.update(_task_columns(models.task, turns, metas, params, flags))
    sources = pdf[SOURCE_COLUMN].astype(str).tolist() if SOURCE_COLUMN in pdf.columns else None
    out.update(_quality_columns(models.quality, turns, metas, params, flags, sources))
    out.update(_language_columns(models.lid, turns, params, flags))
    out.update(_heuristic_columns(turns))
    out["flags"] = flags
    for kind in ("task", "quality", "lid"):
        model = getattr(models, kind)
        out[f"{kind}_model"] = [model.name] * len(turns)
        out[f"{kind}_model_sha256"] = [model.sha256] * len(turns)
    return _typed_frame(out)


def _parse_meta(meta, sample_id) -> dict:
    if meta is None or (isinstance(meta, float) and math.isnan(meta)):
        return {}
    if isinstance(meta, dict):
        return meta
    try:
        parsed = json.loads(meta)
    except (TypeError, ValueError) as err:
        raise InputError(f"annotate: sample {sample_id}: meta is not a JSON object: {err}") from err
    if not isinstance(parsed, dict):
        raise InputError(f"annotate: sample {sample_id}: meta is not a JSON object")
    return parsed


def meta_value(meta: dict, column: str):
    """The value at a dotted path ("meta.judge_score" or "judge_score", "meta.scores.helpful") or None."""
    value = meta
    for key in column.removeprefix("meta.").split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _task_columns(model: LoadedModel, turns, metas, params: AnnotateParams, flags) -> dict:
    lines = [task_input(t, params.max_chars) for t in turns]
    top = _top_k(model, lines, params.top_k)
    task, probs, source = [], [], []
    for i, line in enumerate(lines):
        user_label = _user_task_label(metas[i], params.task_column)
        if not line:
            flags[i].append("empty_prompt")
        if user_label is not None:
            task.append(user_label), source.append("column")
        elif not line:
            task.append(TASK_FOR_EMPTY_PROMPT), source.append("rule")
        else:
            task.append(top[i][0]["label"]), source.append("model")
        probs.append(top[i])
    return {"task": task, "task_probs": probs, "task_source": source}


def _user_task_label(meta: dict, column: Optional[str]) -> Optional[str]:
    if not column:
        return None
    value = meta_value(meta, column)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _top_k(model: LoadedModel, lines: Sequence[str], k: int) -> list[list[dict]]:
    """Top-k {label, prob} per line (empty lines get []); one multi-line fastText call for the batch."""
    index = [i for i, line in enumerate(lines) if line]
    out: list[list[dict]] = [[] for _ in lines]
    if index:
        labels, probs = model.model.predict([lines[i] for i in index], k=min(k, len(model.labels)))
        for i, row_labels, row_probs in zip(index, labels, probs):
            out[i] = [{"label": decode_label(t), "prob": float(min(p, 1.0))} for t, p in zip(row_labels, row_probs)]
    return out


def _quality_columns(model: LoadedModel, turns, metas, params: AnnotateParams, flags, sources=None) -> dict:
    responses = [last_exchange(t)[1] for t in turns]
    base, source = _model_quality(model, turns, responses, params, flags, sources)
    if params.quality_column and params.quality_mode != "model":
        for i, meta in enumerate(metas):
            user = _user_quality(meta, params, flags[i])
            if user is not None:
                base[i] = user if params.quality_mode == "column" else (base[i] + user) / 2.0
                source[i] = params.quality_mode
    return {"quality": base, "quality_source": source}


def _model_quality(model: LoadedModel, turns, responses, params: AnnotateParams, flags, sources=None):
    """Calibrated P(good) from the quality model (length-controlled if asked); an empty response scores 0.0 by
    rule (flag empty_response) and is no member of its request group."""
    scores = np.zeros(len(turns), dtype=np.float64)
    source = ["rule"] * len(turns)
    index = [i for i, r in enumerate(responses) if not heuristics.is_empty(r)]
    if index:
        scores[index] = model_quality(model, [turns[i] for i in index], params.max_chars,
                                      params.quality_length_control,
                                      None if sources is None else [sources[i] for i in index])
        for i in index:
            source[i] = "model"
    for i, response in enumerate(responses):
        if heuristics.is_empty(response):
            flags[i].append("empty_response")
    return scores, source


def _user_quality(meta: dict, params: AnnotateParams, row_flags: list) -> Optional[float]:
    """The user's score mapped from quality_column_scale to [0,1]; non-numeric -> flagged and ignored."""
    value = meta_value(meta, params.quality_column)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        row_flags.append("quality_column_invalid")
        return None
    low, high = params.quality_column_scale
    scaled = (float(value) - low) / (high - low)
    if not 0.0 <= scaled <= 1.0:
        row_flags.append("quality_column_out_of_scale")
    return min(max(scaled, 0.0), 1.0)


def _language_columns(model: LoadedModel, turns, params: AnnotateParams, flags) -> dict:
    lines = [language_input(t, params.max_chars) for t in turns]
    index = [i for i, line in enumerate(lines) if line]
    codes, probs = detect_languages(model.model, [lines[i] for i in index])
    language, language_prob = [UNDETERMINED] * len(lines), np.zeros(len(lines), dtype=np.float64)
    for i, code, prob in zip(index, codes, probs):
        language[i], language_prob[i] = code, prob
    for i, line in enumerate(lines):
        if not line:
            flags[i].append("empty_text")
    return {"language": language, "language_prob": language_prob}


def _heuristic_columns(turns: Sequence[tuple[Turn, ...]]) -> dict:
    cols: dict[str, list] = {k: [] for k in ("prompt_chars", "response_chars", "n_turns", "code_blocks", "has_math",
                                             "refusal", "repetition", "empty_response", "truncated_response")}
    for t in turns:
        users, assistants = contents(t, "user"), contents(t, "assistant")
        replies, last_reply = "\n".join(assistants), last_exchange(t)[1]
        cols["prompt_chars"].append(sum(map(len, users)))
        cols["response_chars"].append(sum(map(len, assistants)))
        cols["n_turns"].append(len(users))
        cols["code_blocks"].append(heuristics.code_blocks(replies))
        cols["has_math"].append(heuristics.has_math(all_text(t)))
        cols["refusal"].append(heuristics.is_refusal(last_reply))
        cols["repetition"].append(heuristics.repetition(replies))
        cols["empty_response"].append(heuristics.is_empty(last_reply))
        cols["truncated_response"].append(heuristics.is_truncated(last_reply))
    return cols


def _typed_frame(columns: dict) -> pd.DataFrame:
    """Columns in schema order with the schema's numpy dtypes (lists and strings stay Python objects)."""
    frame = pd.DataFrame({name: columns[name] for name in ANNOTATION_COLUMNS})
    for field in ANNOTATION_SCHEMA:
        if pa.types.is_floating(field.type) or pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            frame[field.name] = frame[field.name].astype(field.type.to_pandas_dtype())
    return frame


def default_model_paths() -> dict[str, Path]:
    return {"task": DEFAULT_TASK_MODEL, "quality": DEFAULT_QUALITY_MODEL, "lid": bundled_lid_path()}
