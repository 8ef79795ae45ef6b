"""Curation quality of every selection method side by side: is postmix's mixture better than what a user gets without it?

    .venv/bin/python tests/benchmarks/bench_curation.py [--pools balanced,junk-heavy] [--budgets 300,600,1200]
        [--variant NAME:key=value,...]... [--semantic key=value,...]... [--out results.json]

For each pool (curation_pools.py: held-out rows of ../shared/data only), the product's own engine-free code with its
defaults: annotate (`annotate_frame`, default AnnotateParams: shipped task and quality models), embed (the embed
stage's recipe text and `embed_frame`, default EmbedParams: the packaged MiniLM), semantic (k-means fit, label
assignment, label graph with task labels, near-duplicates within clusters, default SemanticParams), the selection
pool and label graph built as the Spark select stage builds them, then `postmix.select.select` with the default
SelectParams for everything but method and budget. Every method is measured against ground truth that no postmix
signal was trained on (docs/CURATION.md: definitions and caveats); the verdict block checks issue 11's "Done when".

Embeddings are cached under .bench/curation/ (keyed by the model fingerprint, the recipe id and a hash of the text),
and so is the pool composition (keyed by the code and data it comes from), so a re-run with other selection or
semantic settings takes well under a minute; annotations are recomputed on every run (a new quality model is picked
up). Markdown on stdout, progress and timings on stderr, everything as JSON with --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import hashlib
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import curation_metrics as M  # noqa: E402
import curation_pools as P  # noqa: E402
from postmix.annotate import labelled, quality_split  # noqa: E402
from postmix.annotate.annotator import annotate_frame, load_annotators  # noqa: E402
from postmix.annotate.params import AnnotateParams  # noqa: E402
from postmix.embed.params import EmbedParams  # noqa: E402
from postmix.embed.text import recipe_function, recipe_id  # noqa: E402
from postmix.ingest import normalize  # noqa: E402
from postmix.select import SelectionPool, select  # noqa: E402
from postmix.select.frames import pool_from_frame  # noqa: E402
from postmix.select.params import METHODS, SelectParams  # noqa: E402
from postmix.select.pool import LabelGraph  # noqa: E402
from postmix.semantic.params import SemanticParams  # noqa: E402
from postmix.select.label_space import graph_weights  # noqa: E402
from postmix.select.pool_rules import NULL_GROUP, clipped_quality, needs_embeddings, sample_cost  # noqa: E402
from postmix.select.pool_rules import group_columns as pool_group_columns  # noqa: E402

DEFAULT_CACHE = REPO / ".bench" / "curation"
DEFAULT_DATA = REPO.parent / "shared" / "data"
# The methods side by side (the default method first); "longest" only where the select package has it.
METHOD_ORDER = ("mig", "mig-gradient", "random", "quality", "longest", "deita", "kcenter")
RANDOM_SEEDS = 5
EMBED_CHUNK = 512
# Benchmark rows are about curation, not about how the selection reports progress: progress bars off (no effect
# on the picks). Everything else is the product's default SelectParams.
QUIET = {"progress": False}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- overrides ----------------------------------------------------------------------------------------------------

def parse_value(cls, key: str, text: str):
    """A dataclass field's value from text, by the type of its default: bool, int, float, str, tuple (';'-separated);
    a field whose default is None takes an int (or 'none')."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields:
        raise SystemExit(f"{cls.__name__} has no field {key!r}; fields: {', '.join(fields)}")
    default = fields[key].default
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise SystemExit(f"{cls.__name__}.{key}: {text!r} is not a boolean")
        return text.lower() in ("true", "1", "yes")
    if text.lower() == "none":
        return None
    if isinstance(default, tuple):
        return tuple(part for part in text.split(";") if part)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, int) or default is None:
        return int(text)
    return text


def parse_overrides(cls, texts: list[str]) -> dict:
    """key=value pairs, comma-separated, from one or more flags."""
    overrides: dict = {}
    for text in texts:
        for pair in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = pair.partition("=")
            if not sep:
                raise SystemExit(f"expected key=value, got {pair!r}")
            overrides[key.strip()] = parse_value(cls, key.strip(), value.strip())
    return overrides


def parse_variant(text: str) -> tuple[str, dict]:
    name, sep, rest = text.partition(":")
    if not sep or not name:
        raise SystemExit(f"--variant NAME:key=value,...: got {text!r}")
    overrides = parse_overrides(SelectParams, [rest])
    if {"budget", "budget_tokens"} & set(overrides):
        raise SystemExit("--variant: the budget comes from --budgets (sample budgets), not from a variant")
    return name, overrides


# --- caches -------------------------------------------------------------------------------------------------------

def source_digest(*modules) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode("utf-8"))
    return digest.hexdigest()


def composition_key(data_dir: Path, reference_count: int) -> str:
    """Changes when the pool code, the held-out split, the id recipe or the data files change."""
    from postmix.ingest import parse as ingest_parse
    from postmix.ingest.params import IngestParams

    files = [(p.name, p.stat().st_size, p.stat().st_mtime_ns)
             for p in sorted(Path(data_dir).glob("*/*.jsonl.gz"))]
    text = json.dumps([source_digest(P, quality_split, labelled, normalize, ingest_parse),
                       repr(quality_split._SPLIT), repr(IngestParams()), files, reference_count])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def composed_pools(data_dir: Path, cache_dir: Path, reference_count: int) -> tuple[dict, bool]:
    path = cache_dir / "pools" / f"{composition_key(data_dir, reference_count)}.json.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle), True
    composed = P.compose_all(data_dir, reference_count)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    with gzip.open(temporary, "wt", encoding="utf-8") as handle:
        json.dump(composed, handle)
    temporary.replace(path)
    return composed, False


class VectorCache:
    """Vectors by text hash for one (model fingerprint, text kind), in append-only .npz shards."""

    def __init__(self, root: Path, fingerprint: str, kind: str):
        self.folder = root / "vectors" / hashlib.sha256(f"{fingerprint}|{kind}".encode()).hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "info.json").write_text(json.dumps({"model_fingerprint": fingerprint, "kind": kind}))
        self.vectors: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard, allow_pickle=False) as data:
                self.vectors.update(zip(data["keys"].tolist(), data["vectors"]))

    def missing(self, keys) -> list[str]:
        return list(dict.fromkeys(k for k in keys if k not in self.vectors))

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        name = f"shard-{time.time_ns()}-{os.getpid()}"
        temporary = self.folder / f"{name}.tmp.npz"
        np.savez(temporary, keys=np.asarray(keys), vectors=np.asarray(vectors, dtype=np.float32))
        temporary.replace(self.folder / f"{name}.npz")
        self.vectors.update(zip(keys, np.asarray(vectors, dtype=np.float32)))

    def matrix(self, keys) -> np.ndarray:
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Embedder:
    """The embed stage's text recipe and `embed_frame` (default EmbedParams), and the semantic stage's
    `encode_texts` for label names, both behind the on-disk cache. The model is loaded on the first miss only; its
    fingerprint is computed from its files as the product does."""

    def __init__(self, params: EmbedParams, cache_dir: Path):
        from postmix.embed.encoder import resolve_model_path

        self.params = params
        self.path = resolve_model_path(params.model)
        self.info = self._model_info(cache_dir)
        self.fingerprint, self.max_seq_length = self.info["fingerprint"], self.info["max_seq_length"]
        self.samples = VectorCache(cache_dir, self.fingerprint, f"embed_frame|{recipe_id(params.recipe, self.max_seq_length)}")
        self.labels = VectorCache(cache_dir, self.fingerprint, f"encode_texts|max{self.max_seq_length}")
        self.encoded = 0
        self.encode_s = 0.0

    def _model_info(self, cache_dir: Path) -> dict:
        """The product's fingerprint and token limit, memoised by the model files' sizes and mtimes (loading the
        model to learn its dimension costs seconds that a cached run does not need)."""
        from postmix.embed.encoder import get_encoder

        stats = sorted((str(f.relative_to(self.path)), f.stat().st_size, f.stat().st_mtime_ns)
                       for f in self.path.rglob("*") if f.is_file())
        key = hashlib.sha256(json.dumps([self.params.model, self.params.max_seq_length, stats]).encode())
        memo = cache_dir / "models" / f"{key.hexdigest()[:16]}.json"
        if memo.is_file():
            return json.loads(memo.read_text())
        encoder = get_encoder(self.params)
        info = {"fingerprint": encoder.fingerprint, "max_seq_length": encoder.max_seq_length, "dim": encoder.dim}
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps(info))
        return info

    def sample_vectors(self, messages_list: list) -> np.ndarray:
        """One vector per conversation: the embed stage's recipe text, encoded by `embed_frame` where not cached."""
        from postmix.embed.encoder import embed_frame

        make_text = recipe_function(self.params.recipe)
        keys = [text_key(make_text(m)) for m in messages_list]
        first = {}
        for key, messages in zip(keys, messages_list):
            first.setdefault(key, messages)
        missing = self.samples.missing(keys)
        started = time.perf_counter()
        for start in range(0, len(missing), EMBED_CHUNK):
            chunk = missing[start:start + EMBED_CHUNK]
            frame = pd.DataFrame({"sample_id": chunk, "messages": [first[k] for k in chunk]})
            out = embed_frame(frame, self.params)
            if out["vector"].isna().any():
                raise SystemExit("curation: a pool conversation has no text to embed (ingest should have refused it)")
            self.samples.add(chunk, np.stack(out["vector"].to_numpy()))
            self.encoded += len(chunk)
            elapsed = time.perf_counter() - started
            log(f"  embedded {start + len(chunk):,}/{len(missing):,} new texts ({(start + len(chunk)) / elapsed:.0f}/s)")
        self.encode_s += time.perf_counter() - started
        return self.samples.matrix(keys)

    def label_vectors(self, texts) -> np.ndarray:
        """`encode_texts` of label names (what the semantic stage passes to label_embeddings)."""
        from postmix.embed.encoder import encode_texts

        texts = list(texts)
        keys = [text_key(t) for t in texts]
        missing = self.labels.missing(keys)
        if missing:
            by_key = dict(zip(keys, texts))
            self.labels.add(missing, encode_texts([by_key[k] for k in missing], self.params))
        return self.labels.matrix(keys)


# --- annotate -----------------------------------------------------------------------------------------------------

def annotate(rows: list[dict], params: AnnotateParams) -> pd.DataFrame:
    """annotate_frame over batches of params.batch_rows (the Arrow batch size the Spark stage sets), by sample_id;
    as on Spark, rows are ordered by request group and no group is split between batches (the quality ranker
    scores a reply among its siblings: postmix.spark.annotate)."""
    from postmix.annotate.conversation import last_exchange, normalise_messages
    from postmix.annotate.quality_group import request_groups
    from postmix.spark.annotate import whole_groups

    load_annotators(params)
    prompts = [last_exchange(normalise_messages(r["messages"]))[0] for r in rows]
    pool = pd.DataFrame({"sample_id": [r["sample_id"] for r in rows], "messages": [r["messages"] for r in rows],
                         "meta": [r["meta"] for r in rows], "source": [r["source"] for r in rows],
                         "group": request_groups([r["source"] for r in rows], prompts)})
    pool = pool.sort_values(["group", "sample_id"], kind="stable").reset_index(drop=True)
    batches = (pool.iloc[start:start + params.batch_rows] for start in range(0, len(pool), params.batch_rows))
    frames = [annotate_frame(batch, params) for batch in whole_groups(batches, "group")]
    return pd.concat(frames, ignore_index=True).set_index("sample_id")


# --- semantic (engine-free mirror of postmix.spark.semantic.semantic) ---------------------------------------------

@dataclasses.dataclass
class SemanticFit:
    label_names: tuple[str, ...]
    task_label_ids: dict[str, int]
    graph: LabelGraph
    row_label_ids: list[np.ndarray]  # per pool row (int32), empty for rows without a valid vector
    row_label_weights: list[np.ndarray]  # float32, as sample_labels stores them
    near_duplicate_ids: set[str]
    counts: dict
    notes: list[str]


def fit_sample(sample_ids: np.ndarray, vectors: np.ndarray, params: SemanticParams) -> tuple[np.ndarray, str]:
    """Mirrors postmix.spark.semantic.fit_sample_rows: the rows with the smallest xxhash64(seed, sample_id), at most
    fit_sample_rows, sorted by sample_id. Below that limit it is every valid row in sample_id order, exactly; above
    it the engine-free stand-in is the product's seeded `fit_sample` (another sample of the same size)."""
    from postmix.semantic.kmeans import fit_sample as seeded_sample

    order = np.argsort(sample_ids, kind="stable")
    if len(order) <= params.fit_sample_rows:
        return vectors[order], ""
    return (seeded_sample(vectors[order], params.fit_sample_rows, params.seed),
            f"fit sample: {params.fit_sample_rows:,} of {len(order):,} rows by the seeded fit_sample, not Spark's "
            "xxhash64 order")


def semantic_fit(sample_ids: np.ndarray, vectors: np.ndarray, quality: np.ndarray, params: SemanticParams,
                 label_encoder: Callable, tasks) -> SemanticFit:
    """What the semantic stage writes (sample_labels, semantic_labels, label_graph, near_duplicates), engine-free,
    and the label space the select stage reads back from them (read_label_space, graph_weights)."""
    from postmix.embed.validate import valid_rows
    from postmix.semantic.dedup import near_duplicates_frame
    from postmix.semantic.graph import build_label_graph, graph_edges, label_embeddings, task_label_names
    from postmix.semantic.kmeans import assign_labels, default_k, fit_centroids

    valid = valid_rows(vectors)
    n_valid = int(valid.sum())
    k = params.k or default_k(n_valid)
    sample, note = fit_sample(sample_ids[valid], vectors[valid], params)
    centroids = fit_centroids(sample, params, k=k)
    named = task_label_names(tasks) if params.include_task_labels else []  # the annotations table's tasks
    labels = label_embeddings(centroids, named, label_encoder)
    graph = build_label_graph(labels.vectors, params.graph_threshold)
    edges = graph_edges(graph)
    # semantic_labels: cluster rows keep "cluster:<i>", task rows are named by their text (labels_frame)
    names = tuple(name if i < len(centroids) else name.split(":", 1)[1] for i, name in enumerate(labels.names))
    task_ids = {names[i]: i for i in range(len(centroids), len(names))}
    label_graph = LabelGraph(graph_weights(len(names), edges.to_dict("records")), names)

    # sample_labels (assign): kept labels only, int32 ids and float32 weights
    found = assign_labels(vectors[valid], centroids, params)
    row_ids = [np.empty(0, dtype=np.int32)] * len(sample_ids)
    row_weights = [np.empty(0, dtype=np.float32)] * len(sample_ids)
    for position, row in enumerate(np.flatnonzero(valid)):
        keep = found.label_ids[position] >= 0
        row_ids[row] = found.label_ids[position][keep].astype(np.int32)
        row_weights[row] = found.weights[position][keep].astype(np.float32)

    # near_duplicates: per nearest cluster, annotation quality (nulls filled with 0.0), near_duplicates_frame
    valid_ids, valid_vectors = sample_ids[valid], vectors[valid]
    valid_quality = np.nan_to_num(quality[valid].astype(np.float32), nan=0.0)
    duplicates: set[str] = set()
    for cluster in np.unique(found.cluster_id[found.cluster_id >= 0]):
        members = np.flatnonzero(found.cluster_id == cluster)
        pdf = pd.DataFrame({"sample_id": valid_ids[members], "cluster_id": np.int32(cluster),
                            "vector": list(valid_vectors[members]), "quality": valid_quality[members]})
        duplicates.update(near_duplicates_frame(pdf, params, vectors.shape[1])["sample_id"].tolist())
    degrees = np.diff(graph.indptr) - 1
    counts = {"vectors_valid": n_valid, "labels_cluster": int(len(centroids)), "labels_named": len(named),
              "graph_edges": int(len(edges)), "graph_isolated_labels": int((degrees == 0).sum()),
              "near_duplicates": len(duplicates)}
    return SemanticFit(names, task_ids, label_graph, row_ids, row_weights, duplicates, counts, [note] if note else [])


# --- the selection pool (engine-free mirror of postmix.spark.pool.pool_rows + collect_pool) -----------------------

TASK_WEIGHT_SLOT = -1.0  # placeholder of the task label's weight in pool_frame (no semantic weight is negative)


def has_pool_field(name: str) -> bool:
    return name in {f.name for f in dataclasses.fields(SelectionPool)}


def pool_frame(rows: list[dict], annotations: pd.DataFrame, fit: SemanticFit) -> pd.DataFrame:
    """Pool rows as pool_rows makes them: quality clipped to [MIN_QUALITY_SCORE, 1]; labels = the sample's semantic
    labels with their weights plus its task label (last, its weight set per run by build_pool); source and task groups; near_duplicate =
    a non-kept member of a near-duplicate group; response_chars (assistant characters) where the pool has that
    field. Every annotation column is kept beside them, so a quota on one of them finds its group column. Rows are
    in sample_id order (collect_pool). Cost is added per run (it depends on the budget's unit)."""
    ids = [r["sample_id"] for r in rows]
    assert ids == sorted(ids), "pool rows must be in sample_id order"
    notes = annotations.loc[ids]
    quality = clipped_quality(notes["quality"].to_numpy(dtype=np.float32))
    label_ids, label_weights = [], []
    for task, own_ids, own_weights in zip(notes["task"], fit.row_label_ids, fit.row_label_weights):
        task_label = fit.task_label_ids.get(task)
        label_ids.append(own_ids.tolist() + ([task_label] if task_label is not None else []))
        label_weights.append(own_weights.astype(np.float64).tolist() + ([TASK_WEIGHT_SLOT] if task_label is not None
                                                                         else []))
    frame = pd.DataFrame({"sample_id": ids, "quality": quality, "label_ids": label_ids,
                          "label_weights": label_weights,
                          "source": [r["source"] for r in rows], "task": notes["task"].astype(str).to_numpy(),
                          "near_duplicate": [i in fit.near_duplicate_ids for i in ids],
                          "n_chars_user": [r["n_chars_user"] for r in rows],
                          "n_chars_assistant": [r["n_chars_assistant"] for r in rows]})
    if has_pool_field("response_chars"):
        frame["response_chars"] = frame["n_chars_assistant"].astype(np.float64)
    extra = [c for c in annotations.columns if c not in frame.columns]
    return pd.concat([frame, notes[extra].reset_index(drop=True)], axis=1)


def group_columns(frame: pd.DataFrame, params: SelectParams) -> tuple[str, ...]:
    """As group_columns_for: source, task and every quota column the rows hold."""
    return pool_group_columns(params, frame.columns)


def build_pool(frame: pd.DataFrame, fit: SemanticFit, vectors: np.ndarray, params: SelectParams) -> SelectionPool:
    """collect_pool: pool_from_frame over the rows (cost 1 per sample, tokens with a token budget: _cost), groups as
    text (null as "null"), vectors only for the methods that need them."""
    frame = frame.copy()
    # pool_rows gives the task label select.task_label_weight, stored as float32 like every label weight
    task_weight = float(np.float32(params.task_label_weight))
    frame["label_weights"] = [[task_weight if w == TASK_WEIGHT_SLOT else w for w in weights]
                              for weights in frame["label_weights"]]
    frame["cost"] = sample_cost(params, frame["n_chars_user"], frame["n_chars_assistant"])
    columns = group_columns(frame, params)
    for column in columns:
        frame[column] = [(NULL_GROUP if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
                         for v in frame[column]]
    pool = pool_from_frame(frame, fit.label_names, columns)
    if needs_embeddings(params):
        pool = dataclasses.replace(pool, embeddings=vectors)
    return pool


# --- one pool: every method at every budget -----------------------------------------------------------------------

@dataclasses.dataclass
class PoolData:
    name: str
    rows: list[dict]
    frame: pd.DataFrame
    fit: SemanticFit
    vectors: np.ndarray
    arrays: dict


def measure(pool: PoolData, picks: np.ndarray, reference: np.ndarray, dedup_threshold: float) -> dict:
    a = pool.arrays
    return M.selection_measures(picks, gt=a["gt"], gt_class=a["gt_class"], win_prob=a["win_prob"], tasks=a["tasks"],
                                vectors=pool.vectors, reference_vectors=reference, dedup_threshold=dedup_threshold)


def run_one(pool: PoolData, params: SelectParams, reference: np.ndarray, dedup_threshold: float) -> dict:
    selection_pool = build_pool(pool.frame, pool.fit, pool.vectors, params)
    started = time.perf_counter()
    result = select(selection_pool, pool.fit.graph, params)
    seconds = time.perf_counter() - started
    picks = np.asarray(result.index, dtype=np.int64)
    assert len(np.unique(picks)) == len(picks), f"{params.method}: a row picked twice"
    assert len(picks) <= params.budget, f"{params.method}: {len(picks)} picks over the budget {params.budget}"
    row = measure(pool, picks, reference, dedup_threshold)
    row.update({"time_s": round(seconds, 3), "objective": float(result.objective)})
    for key, value in row.items():
        assert not (isinstance(value, float) and math.isnan(value)), f"{params.method}: {key} is NaN"
    return row


RANDOM_KEYS = ("gt_quality", "alpaca_eval_win_prob", "reference_coverage", "near_duplicate_rate", "task_entropy",
               "task_kl", "low_quality_share", "hand_curated_share", "time_s", "objective", "picks")


def run_pool(pool: PoolData, budgets: list[int], methods: list[str], variants: list[tuple[str, dict]],
             seeds: int, reference: np.ndarray, dedup_threshold: float) -> list[dict]:
    default = SelectParams(budget=1)
    results = []
    for budget in budgets:
        for method in methods:
            base = {"pool": pool.name, "budget": budget, "method": method, "default": method == default.method}
            if method == "random":
                runs = []
                for seed in range(seeds):
                    # what a user gets without postmix: no constraint at all (as the mixture stage's baseline)
                    row = run_one(pool, SelectParams(method=method, budget=budget, seed=seed,
                                                     exclude_near_duplicates=False, **QUIET), reference,
                                  dedup_threshold)
                    runs.append(row)
                    results.append({**base, "seed": seed, "kind": "random-seed", **row})
                mean, std = M.mean_and_std(runs, RANDOM_KEYS)
                results.append({**base, "kind": "random-mean", "seeds": seeds, **mean,
                                "std": {k: v for k, v in std.items() if k not in ("picks",)}})
            else:
                row = run_one(pool, SelectParams(method=method, budget=budget, **QUIET), reference, dedup_threshold)
                results.append({**base, "kind": "method", **row})
            log(f"  {pool.name} budget {budget} {method}: done")
        for name, overrides in variants:
            params = SelectParams(**{"method": "mig", **overrides, "budget": budget, **QUIET})
            row = run_one(pool, params, reference, dedup_threshold)
            results.append({"pool": pool.name, "budget": budget, "method": f"variant:{name}", "default": False,
                            "kind": "variant", "overrides": {k: (list(v) if isinstance(v, tuple) else v)
                                                             for k, v in overrides.items()}, **row})
            log(f"  {pool.name} budget {budget} variant {name}: done")
    return results


# --- output -------------------------------------------------------------------------------------------------------

COLUMNS = (("gt_quality", "GT quality"), ("alpaca_eval_win_prob", "AE win prob"),
           ("reference_coverage", "ref. coverage"), ("near_duplicate_rate", "self near-dup"),
           ("task_entropy", "task H (bits)"), ("task_kl", "KL picks‖pool"), ("low_quality_share", "low-quality"),
           ("hand_curated_share", "hand-curated"), ("time_s", "time s"))


def fmt(value, key: str) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if key == "time_s" else f"{value:.3f}"


def table(rows: list[dict], whole_pool: dict) -> str:
    header = "| method | picks | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(COLUMNS)]
    for row in rows:
        if row["kind"] == "random-seed":
            continue
        label = row["method"] + (" (default)" if row["default"] else "")
        if row["kind"] == "random-mean":
            label += f", mean ± std of {row['seeds']} seeds"
            cells = [fmt(row[k], k) + ("" if row[k] is None else f" ± {fmt(row['std'][k], k)}") for k, _ in COLUMNS]
            picks = f"{row['picks']:.0f}"
        else:
            cells = [fmt(row[k], k) for k, _ in COLUMNS]
            picks = str(row["picks"])
        lines.append(f"| {'**' + label + '**' if row['default'] else label} | {picks} | " + " | ".join(cells) + " |")
    cells = [fmt(whole_pool.get(k), k) for k, _ in COLUMNS]
    lines.append(f"| *whole pool (no selection)* | {whole_pool['picks']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(results: list[dict], pools: list[str], budgets: list[int]) -> list[dict]:
    """Issue 11's "Done when", per pool and budget: the default method against random's mean and every other
    method; each variant judged the same way, as if it were the default (information for choosing defaults)."""
    out = []
    for pool in pools:
        for budget in budgets:
            rows = [r for r in results if r["pool"] == pool and r["budget"] == budget]
            default = next(r for r in rows if r["default"] and r["kind"] == "method")
            random_mean = next((r for r in rows if r["kind"] == "random-mean"), None)
            if random_mean is None:
                continue
            others = {r["method"]: r for r in rows if r["kind"] == "method" and not r["default"]}
            judged = {"pool": pool, "budget": budget, "method": default["method"],
                      **M.verdict(default, random_mean, others)}
            judged["variants"] = {r["method"]: M.verdict(r, random_mean, {**others, default["method"]: default})
                                  for r in rows if r["kind"] == "variant"}
            out.append(judged)
    return out


def verdict_block(judged: list[dict], seeds: int) -> str:
    measures = ", ".join(f"{m} ({d} is better)" for m, d in M.VERDICT_MEASURES)
    lines = [f"**Verdict** (issue 11, \"Done when\"): at every budget on every pool, the default method must beat "
             f"random's mean over {seeds} seeds on {measures} (strictly; a tie is not better), and no other method "
             f"may beat it on all four at once.", ""]
    for v in judged:
        status = "PASS" if v["pass"] else "FAIL"
        reasons = []
        if v["not_better_than_random"]:
            reasons.append(f"{v['method']} not better than random on {', '.join(v['not_better_than_random'])}")
        if v["better_on_all_four"]:
            reasons.append(f"better than {v['method']} on all four: {', '.join(v['better_on_all_four'])}")
        lines.append(f"- {v['pool']}, budget {v['budget']}: **{status}**" + (f" ({'; '.join(reasons)})" if reasons
                                                                                else ""))
        for name, w in v["variants"].items():
            detail = []
            if w["not_better_than_random"]:
                detail.append(f"not better than random on {', '.join(w['not_better_than_random'])}")
            if w["better_on_all_four"]:
                detail.append(f"beaten on all four by {', '.join(w['better_on_all_four'])}")
            lines.append(f"  - {name} as the default would {'PASS' if w['pass'] else 'FAIL'}"
                         + (f" ({'; '.join(detail)})" if detail else ""))
    passed = sum(v["pass"] for v in judged)
    lines += ["", f"Overall: {passed} of {len(judged)} (pool, budget) cases PASS: "
                  f"**{'PASS' if judged and passed == len(judged) else 'FAIL'}**."]
    return "\n".join(lines)


def non_default(instance) -> dict:
    """The fields of a params dataclass that differ from its defaults."""
    base = type(instance)() if type(instance) is not SelectParams else SelectParams(budget=1)
    return {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)
            if getattr(instance, f.name) != getattr(base, f.name)}


def git_commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + (" (+ uncommitted changes)" if dirty else "")


# --- main ---------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default=",".join(P.POOLS), help=f"comma-separated, of {', '.join(P.POOLS)}")
    parser.add_argument("--budgets", default="300,600,1200", help="comma-separated sample budgets")
    parser.add_argument("--methods", default=",".join(METHOD_ORDER),
                        help="comma-separated (default: all; random is needed for the verdict)")
    parser.add_argument("--random-seeds", type=int, default=RANDOM_SEEDS)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:key=value,...",
                        help="a mig row with SelectParams overrides, e.g. nodup:exclude_near_duplicates=true; "
                             "quotas as quotas=source:t0_p3_50k<=0.1;task:Math>=0.02; repeatable")
    parser.add_argument("--semantic", action="append", default=[], metavar="key=value,...",
                        help="SemanticParams overrides for every method, e.g. k=120,top_m=2; repeatable")
    parser.add_argument("--reference-prompts", type=int, default=P.REFERENCE_PROMPTS)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, help="write every measure as JSON here")
    args = parser.parse_args(argv)

    pool_names = [p for p in args.pools.split(",") if p]
    unknown = [p for p in pool_names if p not in P.POOLS]
    if unknown:
        raise SystemExit(f"unknown pool(s) {unknown}; known: {', '.join(P.POOLS)}")
    budgets = [int(b) for b in args.budgets.split(",") if b]
    default_method = SelectParams(budget=1).method
    asked = list(dict.fromkeys([default_method] + [m for m in args.methods.split(",") if m]))
    notes = [f"method {m!r} is not in this select package (METHODS = {', '.join(METHODS)}): skipped"
             for m in asked if m not in METHODS]
    methods = [m for m in asked if m in METHODS]
    for note in notes:
        log(note)
    variants = [parse_variant(text) for text in args.variant]
    semantic_params = SemanticParams(**parse_overrides(SemanticParams, args.semantic))
    dedup_threshold = SemanticParams().dedup_threshold  # the metric's threshold stays the product default
    timings: dict[str, float] = {}

    started = time.perf_counter()
    composed, cached = composed_pools(args.data_dir, args.cache_dir, args.reference_prompts)
    timings["compose_s"] = round(time.perf_counter() - started, 1)
    log(f"pools composed in {timings['compose_s']} s ({'cached' if cached else 'built'})")

    started = time.perf_counter()
    annotate_params = AnnotateParams()
    union = list({r["sample_id"]: r for name in pool_names for r in composed["pools"][name]}.values())
    annotations = annotate(union, annotate_params)
    models = load_annotators(annotate_params)
    timings["annotate_s"] = round(time.perf_counter() - started, 1)
    log(f"annotated {len(union):,} rows in {timings['annotate_s']} s")

    started = time.perf_counter()
    embed_params = EmbedParams()
    embedder = Embedder(embed_params, args.cache_dir)
    union_vectors = embedder.sample_vectors([r["messages"] for r in union])
    vector_of = {r["sample_id"]: v for r, v in zip(union, union_vectors)}
    reference = embedder.sample_vectors([r["messages"] for r in composed["reference"]])
    timings["embed_s"] = round(time.perf_counter() - started, 1)
    log(f"embeddings ready in {timings['embed_s']} s ({embedder.encoded:,} texts encoded, the rest from the cache)")

    pools: dict[str, PoolData] = {}
    started = time.perf_counter()
    for name in pool_names:
        rows = composed["pools"][name]
        ids = np.asarray([r["sample_id"] for r in rows])
        vectors = np.stack([vector_of[i] for i in ids]).astype(np.float32)
        quality = annotations.loc[ids, "quality"].to_numpy(dtype=np.float32)
        fit = semantic_fit(ids, vectors, quality, semantic_params,
                           partial(lambda texts, e: e.label_vectors(texts), e=embedder), annotations["task"])
        frame = pool_frame(rows, annotations, fit)
        arrays = {"gt": np.array([np.nan if r["gt"] is None else r["gt"] for r in rows], dtype=np.float64),
                  "gt_class": np.array([r["gt_class"] for r in rows]),
                  "win_prob": np.array([np.nan if r["win_prob"] is None else r["win_prob"] for r in rows]),
                  "tasks": annotations.loc[ids, "task"].astype(str).to_numpy()}
        pools[name] = PoolData(name, rows, frame, fit, vectors, arrays)
        notes += [f"{name}: {n}" for n in fit.notes]
    timings["semantic_s"] = round(time.perf_counter() - started, 1)
    log(f"semantic fits in {timings['semantic_s']} s")

    # compile the selection kernels (numba, cached on disk) before anything is timed
    first = pools[pool_names[0]]
    for method in methods:
        run_one(first, SelectParams(method=method, budget=5, **QUIET), reference, dedup_threshold)

    started = time.perf_counter()
    results: list[dict] = []
    whole: dict[str, dict] = {}
    for name in pool_names:
        results += run_pool(pools[name], budgets, methods, variants, args.random_seeds, reference, dedup_threshold)
        whole[name] = measure(pools[name], np.arange(len(pools[name].rows)), reference, dedup_threshold)
    timings["select_and_measure_s"] = round(time.perf_counter() - started, 1)
    judged = verdicts(results, pool_names, budgets)

    # --- report
    print(f"Pools: held-out rows of ../shared/data only (tests/benchmarks/curation_pools.py; docs/CURATION.md "
          f"defines every measure and its caveats); reference: {len(composed['reference'])} AlpacaEval prompts in "
          f"no pool. Product defaults throughout (an override is named inside its parentheses): AnnotateParams() (task model {models.task.name}, quality model "
          f"{models.quality.name} sha256 {models.quality.sha256[:12]}), EmbedParams() ({embedder.fingerprint}, "
          f"{recipe_id(embed_params.recipe, embedder.max_seq_length)}), SemanticParams("
          f"{', '.join(f'{k}={v}' for k, v in non_default(semantic_params).items())}), SelectParams(method, budget"
          f"{', seed' if 'random' in methods else ''}). Random: mean ± sample std over {args.random_seeds} seeds "
          f"(0..{args.random_seeds - 1}). Self near-dup uses cosine >= {dedup_threshold}.")
    print()
    print(f"Run: compose {timings['compose_s']} s ({'cached' if cached else 'built'}), annotate "
          f"{timings['annotate_s']} s ({len(union):,} rows), embed {timings['embed_s']} s ({embedder.encoded:,} "
          f"texts encoded, the rest from .bench/curation), semantic {timings['semantic_s']} s, selection and "
          f"measures {timings['select_and_measure_s']} s.")
    for note in notes:
        print(f"\nNote: {note}")
    for name in pool_names:
        pool = pools[name]
        counts = pool.fit.counts
        sources = ", ".join(f"{s} {c:,}" for s, c in pd.Series([r["source"] for r in pool.rows]).value_counts()
                            .sort_index().items())
        print(f"\n### Pool {name}: {len(pool.rows):,} rows\n")
        print(f"{sources}. K = {counts['labels_cluster']} cluster labels + {counts['labels_named']} task labels, "
              f"{counts['graph_edges']} graph edges ({counts['graph_isolated_labels']} isolated labels), "
              f"{counts['near_duplicates']:,} near-duplicates (non-kept members), "
              f"{len(set(pool.arrays['tasks']))} annotated tasks.")
        for budget in budgets:
            print(f"\n#### {name}, budget {budget:,}\n")
            print(table([r for r in results if r["pool"] == name and r["budget"] == budget], whole[name]))
    print()
    print(verdict_block(judged, args.random_seeds))

    if args.out:
        payload = {
            "command": " ".join([".venv/bin/python", "tests/benchmarks/bench_curation.py", *(argv or sys.argv[1:])]),
            "date": str(dt.date.today()), "commit": git_commit(), "load_average_at_end": os.getloadavg()[0],
            "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
            "select_defaults": {k: (list(v) if isinstance(v, tuple) else v)
                                for k, v in dataclasses.asdict(SelectParams(budget=1)).items()},
            "semantic_params": dataclasses.asdict(semantic_params), "embed_params": dataclasses.asdict(embed_params),
            "model_fingerprint": embedder.fingerprint, "quality_model": models.quality.name,
            "quality_model_sha256": models.quality.sha256, "timings": timings, "texts_encoded": embedder.encoded,
            "notes": notes,
            "pools": {n: {"rows": len(pools[n].rows), "sources": dict(pd.Series([r["source"] for r in pools[n].rows])
                                                                        .value_counts().sort_index()),
                          "semantic": pools[n].fit.counts, "whole_pool": whole[n]} for n in pool_names},
            "reference_prompts": len(composed["reference"]),
            "results": results, "verdicts": judged,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o)),
                            encoding="utf-8")
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
