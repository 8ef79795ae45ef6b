"""The LightGBM quality ranker: hand-made reply features (quality_features.py) and linear text scores
(quality_text.py, one per supervision tag, fitted out of fold), lambdarank within each prompt.

Why a ranker: the judge's win probability compares answers to the same prompt, so the model learns orders inside
a prompt (a query group) rather than a pooled good/bad boundary that response length alone already draws.
Extra query groups can mix rows of two sources (human-written dolly rows above templated T0 rows): the ranker
learns that order listwise without a pooled cross-entropy target that would drown the prompt-level signal.

Files for a model named N: N.lgbm (LightGBM text model), N.text.npz (the text scorers; absent when the training
rows held no within-query pair), N.calibration.json (Platt on the raw score, plus the
length-controlled variant), N.card.json / N.card.md. Labelled rows as for `postmix train` (labelled.py), plus an
optional `query` (ranking list id; default: `group`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

import lightgbm as lgb
import numpy as np

from postmix.annotate import metrics
from postmix.annotate.calibration import fit_length_control, fit_platt, save_calibration
from postmix.annotate.conversation import last_exchange, normalise_messages
from postmix.annotate.labelled import file_sha256, parse_label, split_fraction, split_part
from postmix.annotate.params import RankerParams, TrainParams
from postmix.annotate.quality_features import FEATURES, compute_features
from postmix.annotate.quality_group import (GROUP_FEATURES, GROUP_VECTORISER_ID, GroupModel, fit_idf,
                                            group_features, group_path, load_group_model, request_groups,
                                            save_group_model)
from postmix.annotate.quality_text import (FEATURE_PREFIX, TOKEN_PATTERN, VECTORISER_ID, TextScorers,
                                           companion_path, fit_text_scorers, load_text_scorers, save_text_scorers,
                                           text_path, vectorise)
from postmix.errors import InputError, ModelError

RANKER_SUFFIX = ".lgbm"
PARTS = ("train", "validation", "calibration", "test")
TEXT_RECIPE = ("last user turn and last assistant turn, full text for lengths, first 4,000 characters for pattern "
               "counts and word n-grams; features: postmix.annotate.quality_features.FEATURES, then one "
               "postmix.annotate.quality_text score per supervision tag, then postmix.annotate.quality_group."
               "GROUP_FEATURES over the replies to the same request from the same source")


def feature_matrix(prompts: Sequence[str], responses: Sequence[str], text: Optional[TextScorers],
                   group: Optional[GroupModel] = None, sources: Optional[Sequence[str]] = None) -> np.ndarray:
    """The ranker's input: hand-made features, the text scorers' columns and the request-group features (each when
    the model has them). Group features take the rows' groups as they are here: pass whole groups."""
    columns = [compute_features(prompts, responses)]
    scores = text.scores(vectorise(responses)) if text is not None else None
    if scores is not None:
        columns.append(scores)
    if group is not None:
        groups = request_groups(_sources(sources, len(prompts)), prompts)
        prior = group.prior(scores, text.tags if text is not None else ())
        columns.append(group_features(groups, responses, group.idf, prior))
    return np.column_stack(columns) if len(columns) > 1 else columns[0]


def _sources(sources: Optional[Sequence[str]], rows: int) -> Sequence[str]:
    return [""] * rows if sources is None else sources


def feature_names(text: Optional[TextScorers], grouped: bool = False) -> tuple[str, ...]:
    return FEATURES + (text.feature_names if text is not None else ()) + (GROUP_FEATURES if grouped else ())


class QualityRanker:
    """A loaded ranker: raw scores for (request, reply) pairs; one thread per call (Spark runs one per core)."""

    def __init__(self, booster: lgb.Booster, text: Optional[TextScorers] = None,
                 group: Optional[GroupModel] = None):
        self.booster, self.text, self.group = booster, text, group

    @property
    def uses_groups(self) -> bool:
        """Whether a reply's score depends on the other replies to its request (then score whole groups)."""
        return self.group is not None

    def raw_scores(self, prompts: Sequence[str], responses: Sequence[str],
                   sources: Optional[Sequence[str]] = None) -> np.ndarray:
        """Raw scores; `sources` (one per row, default all "") with the prompts make the request groups."""
        if not len(responses):
            return np.zeros(0)
        x = feature_matrix(prompts, responses, self.text, self.group, sources)
        return self.booster.predict(x, num_threads=1)


def is_ranker_path(path: Path | str) -> bool:
    return str(path).endswith(RANKER_SUFFIX)


def load_ranker(path: str) -> QualityRanker:
    """The booster at `path` and its text scorers (N.text.npz, when its features name any); a file that is not a
    LightGBM model, a missing or mismatched text file, or other features, is a ModelError."""
    try:
        booster = lgb.Booster(model_file=path)
    except lgb.basic.LightGBMError as err:
        raise ModelError(f"quality model {path} cannot be loaded as a LightGBM model: {err}") from err
    names = tuple(booster.feature_name())
    text = load_text_scorers(text_path(path)) if any(n.startswith(FEATURE_PREFIX) for n in names) else None
    group = load_group_model(group_path(path)) if GROUP_FEATURES[0] in names else None
    expected = feature_names(text, group is not None)
    if names != expected:
        raise ModelError(f"quality model {path} was trained on features {names[:5]}... ({len(names)}), this "
                         f"postmix computes {expected[:5]}... ({len(expected)}) (retrain it "
                         f"with `postmix train --model lgbm-rank`)")
    return QualityRanker(booster, text, group)


def companion_files(path: Path | str) -> list[Path]:
    """Files a ranker loads besides N.lgbm (part of its fingerprint: models.py)."""
    return [candidate for candidate in (text_path(path), group_path(path)) if candidate.is_file()]


@dataclass
class RankRows:
    """Columns of the labelled rows of one split part."""

    prompts: list
    responses: list
    relevance: np.ndarray  # int
    score: np.ndarray  # label as a number in [0,1] (good=1, bad=0)
    good: np.ndarray  # bool
    query: np.ndarray  # str: f"{part}/{query}"
    supervision: np.ndarray  # str
    ids: np.ndarray  # the row's "id" field or "" (lets tests check which rows were trained on)
    keys: np.ndarray  # str: the split key (the text scorers' folds follow it, so a prompt never scores itself)
    sources: np.ndarray  # str: the row's `source` field or "" (with the prompt: its request group)

    def take(self, mask: np.ndarray) -> "RankRows":
        idx = np.flatnonzero(mask)
        return RankRows([self.prompts[i] for i in idx], [self.responses[i] for i in idx], self.relevance[idx],
                        self.score[idx], self.good[idx], self.query[idx], self.supervision[idx], self.ids[idx],
                        self.keys[idx], self.sources[idx])


def _label_score(value, threshold: float, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return min(max(float(value), 0.0), 1.0)
    return 1.0 if parse_label(value, "quality", threshold, where) == "good" else 0.0


def split_rows(rows: Iterable[dict], train: TrainParams, params: RankerParams) -> dict[str, RankRows]:
    """Labelled rows into parts train / validation / calibration / test by the hash of the split key."""
    cols: dict[str, list] = {k: [] for k in ("prompts", "responses", "score", "part", "query", "supervision", "ids",
                                              "keys", "sources")}
    for index, row in enumerate(rows):
        where = row.get("_where", f"row {index}")
        if "messages" not in row:
            raise InputError(f"{where}: a ranker row needs 'messages'")
        prompt, response = last_exchange(normalise_messages(row["messages"]))
        if not response.strip():
            continue  # blank replies score 0 by rule in the annotator; they teach the ranker nothing
        key = str(row.get("group", prompt + "\x00" + response))
        part = split_part(key, train.split_salt, train.test_fraction, train.calibration_fraction)
        if part == "train" and split_fraction(key, params.validation_salt) < params.validation_fraction:
            part = "validation"
        cols["prompts"].append(prompt), cols["responses"].append(response)
        cols["score"].append(_label_score(row.get("label"), train.quality_threshold, where))
        cols["part"].append(part), cols["query"].append(f"{part}/{row.get('query', key)}")
        cols["supervision"].append(str(row.get("supervision", "unspecified"))), cols["ids"].append(str(row.get("id", "")))
        cols["keys"].append(key), cols["sources"].append(str(row.get("source", "")))
    score, part = np.array(cols["score"], dtype=np.float64), np.array(cols["part"])
    everything = RankRows(cols["prompts"], cols["responses"], np.rint(score * params.relevance_levels).astype(int),
                          score, score >= train.quality_threshold, np.array(cols["query"]),
                          np.array(cols["supervision"]), np.array(cols["ids"]), np.array(cols["keys"]),
                          np.array(cols["sources"], dtype=object))
    return {p: everything.take(part == p) for p in PARTS}


def _dataset(rows: RankRows, x: np.ndarray, names: Sequence[str]) -> lgb.Dataset:
    """Rows sorted by query (LightGBM wants each list contiguous), group sizes in that order."""
    order = np.argsort(rows.query, kind="stable")
    _, sizes = np.unique(rows.query[order], return_counts=True)
    return lgb.Dataset(x[order], label=rows.relevance[order], group=sizes, feature_name=list(names),
                       free_raw_data=False)


def feature_matrices(parts: dict[str, RankRows],
                     params: RankerParams) -> tuple[Optional[TextScorers], Optional[GroupModel], dict]:
    """Text scorers fitted on the train part, the group features' model (idf of the train replies), and every
    part's feature matrix: train rows get out-of-fold text scores (folds by split key), the other parts the scores
    of the scorers fitted on all train rows; group features are computed over the rows of every part together, as
    the annotate stage sees a whole pool (a request group may straddle parts when the split key is not the request).
    """
    train = parts["train"]
    text, oof = None, np.zeros((len(train.good), 0))
    if params.text_features:
        fold = np.array([int(split_fraction(k, params.text_fold_salt) * params.text_folds) for k in train.keys])
        text, oof = fit_text_scorers(vectorise(train.responses), train.good, train.query, train.supervision, fold,
                                     params)
    matrices = {"train": np.column_stack([compute_features(train.prompts, train.responses), oof])}
    for part in PARTS[1:]:
        matrices[part] = feature_matrix(parts[part].prompts, parts[part].responses, text)
    if not params.group_features:
        return text, None, matrices
    tags = text.tags if text is not None else ()
    group = GroupModel(fit_idf(train.responses), params.group_prior_tag if params.group_prior_tag in tags else "")
    text_columns = {part: matrices[part][:, len(FEATURES):] for part in PARTS}
    grouped = _group_columns(parts, group, text_columns, tags)
    return text, group, {part: np.column_stack([matrices[part], grouped[part]]) for part in PARTS}


def _group_columns(parts: dict[str, RankRows], group: GroupModel, text_columns: dict[str, np.ndarray],
                   tags: Sequence[str]) -> dict[str, np.ndarray]:
    """Each part's request-group feature columns, computed over all parts' rows at once; the prior of the weighted
    columns is each row's text scores as its part's matrix has them (out of fold for train rows)."""
    prompts = [p for part in PARTS for p in parts[part].prompts]
    responses = [r for part in PARTS for r in parts[part].responses]
    sources = np.concatenate([parts[part].sources for part in PARTS])
    prior = group.prior(np.vstack([text_columns[part] for part in PARTS]), tags)
    everything = group_features(request_groups(sources, prompts), responses, group.idf, prior)
    bounds = np.cumsum([0] + [len(parts[part].good) for part in PARTS])
    return {part: everything[bounds[i]:bounds[i + 1]] for i, part in enumerate(PARTS)}


def _booster_params(params: RankerParams) -> dict:
    return {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "num_leaves": params.num_leaves,
            "learning_rate": params.learning_rate, "min_data_in_leaf": params.min_data_in_leaf,
            "feature_fraction": params.feature_fraction, "lambda_l2": params.lambda_l2, "seed": params.seed,
            "deterministic": True, "force_row_wise": True, "num_threads": params.num_threads, "verbosity": -1,
            "label_gain": [float(2 ** i - 1) for i in range(params.relevance_levels + 1)]}


def fit_booster(parts: dict[str, RankRows], matrices: dict, names: Sequence[str],
                params: RankerParams) -> tuple[lgb.Booster, int, list]:
    """Train max_rounds trees, then keep the prefix (a multiple of checkpoint_rounds) with the best validation
    selection_score. Why not LightGBM early stopping: ndcg@k on lists of ~100 replies stops after a few trees,
    long before the AUC / pairwise accuracy we select on peaks."""
    booster = lgb.train(_booster_params(params), _dataset(parts["train"], matrices["train"], names),
                        num_boost_round=params.max_rounds)
    x = matrices["validation"]
    curve = []
    for rounds in range(params.checkpoint_rounds, params.max_rounds + 1, params.checkpoint_rounds):
        report = part_metrics(parts["validation"], booster.predict(x, num_iteration=rounds))
        curve.append((rounds, round(selection_score(report), 6), report))
    best = max(curve, key=lambda c: c[1])
    return booster, best[0], curve


def part_metrics(rows: RankRows, scores: np.ndarray) -> dict:
    """Per supervision tag: ROC AUC (good vs score), within-query pairwise accuracy, Spearman vs the label score."""
    out = {}
    for tag in sorted(set(rows.supervision.tolist())):
        m = rows.supervision == tag
        out[tag] = metrics.score_report(scores[m], rows.score[m], rows.good[m], rows.query[m])
    return out


def selection_score(report: dict) -> float:
    """Mean over tags of mean(AUC, pairwise): what model selection maximises on the validation part."""
    values = [np.nanmean([r["roc_auc"], r["pairwise"]["accuracy"]]) for r in report.values()]
    return float(np.nanmean(values))


def train_ranker(rows: Iterable[dict], out_dir: str | Path, train: TrainParams = TrainParams(),
                 candidates: Sequence[RankerParams] = (RankerParams(),), calibration_supervision: Sequence[str] = (),
                 name: str = "quality_rank", data: Optional[dict] = None, command: str = "") -> dict:
    """Fit each candidate on train (early stopping on validation), keep the best by validation score, calibrate on
    the calibration part (rows of `calibration_supervision` tags, all when empty), evaluate on test, write files."""
    parts = split_rows(rows, train, candidates[0])
    _check_parts(parts)
    text, group, matrices = feature_matrices(parts, candidates[0])
    names = feature_names(text, group is not None)
    tried, best = [], None
    for params in candidates:
        booster, rounds, curve = fit_booster(parts, matrices, names, params)
        best_point = next(c for c in curve if c[0] == rounds)
        tried.append({"params": asdict(params), "rounds": rounds, "validation_score": best_point[1],
                      "validation": best_point[2], "curve": [[c[0], c[1]] for c in curve]})
        if best is None or best_point[1] > best[0]:
            best = (best_point[1], params, booster, rounds)
    _, params, booster, rounds = best
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / f"{name}{RANKER_SUFFIX}"
    booster.save_model(str(model_path), num_iteration=rounds)
    _write_text_scorers(text, model_path)
    _write_group_model(group, model_path)
    booster = lgb.Booster(model_file=str(model_path))  # the saved prefix, exactly what the annotator loads
    calibration = _calibrate(booster, parts["calibration"], matrices["calibration"], calibration_supervision)
    save_calibration(calibration, model_path)
    return _card(model_path, booster, params, train, parts, matrices["test"], calibration, tried, data or {},
                 command, text, group)


def _write_text_scorers(text: Optional[TextScorers], model_path: Path) -> None:
    """N.text.npz beside the model, or no such file (a stale one from an earlier model would be loaded)."""
    path = text_path(model_path)
    if text is None:
        path.unlink(missing_ok=True)
    else:
        save_text_scorers(text, path)


def _write_group_model(group: Optional[GroupModel], model_path: Path) -> None:
    """N.group.npz beside the model, or no such file (a stale one from an earlier model would still enter the
    model's fingerprint)."""
    path = group_path(model_path)
    if group is None:
        path.unlink(missing_ok=True)
    else:
        save_group_model(group, path)


def _check_parts(parts: dict[str, RankRows]) -> None:
    for part in PARTS:
        if len(set(parts[part].good.tolist())) < 2:
            raise InputError(f"train: the {part} part of the ranker data has fewer than 2 labels "
                             f"({len(parts[part].good)} rows); more labelled data is needed")


def _calibrate(booster: lgb.Booster, rows: RankRows, x: np.ndarray, tags: Sequence[str]):
    keep = np.isin(rows.supervision, list(tags)) if tags else np.ones(len(rows.good), dtype=bool)
    rows = rows.take(keep)
    raw = booster.predict(x[keep])
    chars = np.array([len(r) for r in rows.responses], dtype=np.float64)
    calibration = fit_platt(raw, rows.good, method="platt_score")
    return replace(calibration, length_control=fit_length_control(raw, chars, rows.good))


def _card(model_path: Path, booster, params, train, parts, test_x, calibration, tried, data, command,
          text: Optional[TextScorers], group: Optional[GroupModel]) -> dict:
    test = parts["test"]
    raw = booster.predict(test_x)
    names = feature_names(text, group is not None)
    chars = np.array([len(r) for r in test.responses], dtype=np.float64)
    importance = booster.feature_importance("gain")
    content = {
        "kind": "quality", "model": "lightgbm lambdarank", "model_file": model_path.name,
        "model_sha256": file_sha256(model_path), "model_bytes": model_path.stat().st_size, "command": command,
        "data": data, "text_recipe": TEXT_RECIPE, "features": list(names),
        "text_scorers": _text_card(model_path, text), "group_features": _group_card(model_path, group),
        "feature_importance_gain": [[f, round(float(g), 3)] for f, g in  # a list: JSON keys get sorted
                                    sorted(zip(names, importance), key=lambda t: -t[1])],
        "split": {"method": "sha256(salt NUL key) as u: test if u < test_fraction, calibration below "
                            "test_fraction + calibration_fraction, else train; validation = train rows with "
                            "sha256(validation_salt NUL key) < validation_fraction",
                  "key": "the row's 'group' field", "salt": train.split_salt, "test_fraction": train.test_fraction,
                  "calibration_fraction": train.calibration_fraction,
                  "validation_salt": params.validation_salt, "validation_fraction": params.validation_fraction},
        "params": asdict(params), "train_params": asdict(train), "rounds": booster.num_trees(),
        "model_selection": tried, "labels": ["bad", "good"],
        "rows": {p: {"rows": len(r.good), "good": int(r.good.sum()), "queries": int(len(set(r.query.tolist())))}
                 for p, r in parts.items()},
        "calibration": asdict(calibration),
        "metrics": {"test_rows": len(test.good),
                    "test": part_metrics(test, calibration.apply(raw)),
                    "test_length_controlled": part_metrics(test, calibration.length_control.apply(raw, chars))},
    }
    return write_card(model_path, content)


def _text_card(model_path: Path, text: Optional[TextScorers]) -> Optional[dict]:
    if text is None:
        return None
    path = text_path(model_path)
    return {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size, "tags": list(text.tags),
            "vectoriser": VECTORISER_ID, "token_pattern": TOKEN_PATTERN,
            "fit": "one liblinear logistic regression per tag on (better - worse) differences of up to "
                   "text_pairs_per_query sampled (good, bad) pairs per query, no intercept; the ranker trains on "
                   "out-of-fold scores (text_folds folds by hash of the split key)"}


def _group_card(model_path: Path, group: Optional[GroupModel]) -> Optional[dict]:
    if group is None:
        return None
    path = group_path(model_path)
    return {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size,
            "features": list(GROUP_FEATURES), "vectoriser": GROUP_VECTORISER_ID,
            "groups": "rows with the same `source` field and the same last user turn (postmix.annotate.quality_group)",
            "idf": "log((N + 1) / (df + 1)) + 1 over the train part's replies, float16",
            "prior": f"text scorer {group.prior_tag!r}" if group.prior_tag else "the text scores summed over tags"}


def write_card(model_path: Path, content: dict) -> dict:
    companion_path(model_path, ".card.json").write_text(
        json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    companion_path(model_path, ".card.md").write_text(render_markdown(content), encoding="utf-8")
    return content


def render_markdown(card: dict) -> str:
    lines = [f"# Model card: {card['model_file']} (quality, {card['model']})", "",
             f"- sha256: `{card['model_sha256']}` ({card['model_bytes']} bytes, LightGBM text model, "
             f"{card['rounds']} trees)", f"- command: `{card['command']}`",
             f"- data: `{json.dumps(card['data'], sort_keys=True, ensure_ascii=False)}`",
             f"- input: {card['text_recipe']}",
             f"- text scorers: `{json.dumps(card.get('text_scorers'), sort_keys=True)}`",
             f"- group features: `{json.dumps(card.get('group_features'), sort_keys=True)}`",
             f"- split: {card['split']['method']}; key {card['split']['key']}; salt `{card['split']['salt']}`, "
             f"test {card['split']['test_fraction']}, calibration {card['split']['calibration_fraction']}, "
             f"validation {card['split']['validation_fraction']} (salt `{card['split']['validation_salt']}`)",
             f"- params: `{json.dumps(card['params'], sort_keys=True)}`",
             f"- rows per part: `{json.dumps(card['rows'], sort_keys=True)}`",
             f"- calibration: `{json.dumps(card['calibration'], sort_keys=True)}`", "",
             "## Held-out test part (calibrated score; length-controlled variant after the slash)", "",
             "| supervision | rows | ROC AUC | within-query pairwise (pairs) | Spearman vs label |",
             "|---|---:|---:|---:|---:|"]
    lc = card["metrics"]["test_length_controlled"]
    for tag, r in card["metrics"]["test"].items():
        lines.append(f"| {tag} | {r['rows']} | {r['roc_auc']} / {lc[tag]['roc_auc']} | {r['pairwise']['accuracy']}"
                     f" / {lc[tag]['pairwise']['accuracy']} ({r['pairwise']['pairs']}) | {r['spearman']} / "
                     f"{lc[tag]['spearman']} |")
    lines += ["", "## Model selection (validation part)", "", "| params | trees | validation score |",
              "|---|---:|---:|"]
    for t in card["model_selection"]:
        shown = {k: t["params"][k] for k in ("num_leaves", "learning_rate", "min_data_in_leaf")}
        lines.append(f"| `{json.dumps(shown)}` | {t['rounds']} | {t['validation_score']} |")
    lines += ["", "## Feature importance (total gain)", "", "| feature | gain |", "|---|---:|"]
    lines += [f"| {f} | {g} |" for f, g in card["feature_importance_gain"]]
    for key, value in card.get("extra_metrics", {}).items():
        lines += ["", f"## {key}", "", f"`{json.dumps(value, sort_keys=True)}`"]
    return "\n".join(lines) + "\n"
