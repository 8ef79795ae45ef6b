"""Quality scorers against held-out judgements (`make bench-quality`; method in docs/ANNOTATE.md).

Rows: reply length (characters of the last assistant turn), the fastText quality model, the LightGBM ranker, its
length-controlled variant, and the ranker in pools holding ~7 or ~3 of each prompt's replies (request groups).
Held-out = quality_split.is_held_out (the rows no shipped scorer trained on); AlpacaEval 1 and 2 are reported apart,
never pooled. Model scores go through the annotator's own path
(quality_eval.model_quality, blank replies 0.0 by rule). Also the annotate_frame throughput with the ranker.

    PYTHONPATH=lib python tests/benchmarks/bench_quality.py [--data-dir ../shared/data] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from postmix.annotate import metrics
from postmix.annotate.annotator import annotate_frame, load_annotators
from postmix.annotate.conversation import last_exchange, normalise_messages
from postmix.annotate.models import FASTTEXT_QUALITY_MODEL, RANKER_QUALITY_MODEL, load_model
from postmix.annotate.params import AnnotateParams
from postmix.annotate.quality_eval import HH_DATASET, model_quality
from postmix.annotate.quality_split import (ALPACA_EVAL_DATASETS, HUMAN_DATASET, TEMPLATED_DATASET, dataset_of,
                                            is_held_out)

SHORT = {ALPACA_EVAL_DATASETS[0]: "ae1", ALPACA_EVAL_DATASETS[1]: "ae2"}


def read(data_dir: Path, name: str) -> list[dict]:
    with gzip.open(data_dir / name / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def held_out(data_dir: Path) -> dict[str, list[dict]]:
    """Test rows of each dataset (AlpacaEval rows need a judgement); hh_rlhf is never trained on: all of it."""
    out = {name: [r for r in read(data_dir, name) if is_held_out(r)]
           for name in (*ALPACA_EVAL_DATASETS, HUMAN_DATASET, TEMPLATED_DATASET)}
    for name in ALPACA_EVAL_DATASETS:
        out[name] = [r for r in out[name] if r["meta"].get("win_prob_vs_reference") is not None]
    out[HH_DATASET] = read(data_dir, HH_DATASET)
    return out


def scorers() -> dict:
    """name -> function(list of normalised turns, source name) -> scores, as the product computes them (the rows
    of one call are one source's pool: the ranker's request groups form inside it)."""
    fasttext_model, ranker = load_model("quality", FASTTEXT_QUALITY_MODEL), load_model("quality", RANKER_QUALITY_MODEL)

    def product(model, length_control=False, cuts=1):
        def score(turns, source):
            replies = [last_exchange(t)[1] for t in turns]
            out = np.zeros(len(turns))
            idx = [i for i, r in enumerate(replies) if r.strip()]
            out[idx] = model_quality(model, [turns[i] for i in idx], 4000, length_control,
                                     [pool_source(source, replies[i], cuts) for i in idx])
            return out
        return score

    return {"length (reply chars)": lambda turns, _source: reply_chars(turns),
            f"fastText {fasttext_model.name}": product(fasttext_model),
            f"LightGBM ranker {ranker.name}": product(ranker),
            "ranker, length-controlled": product(ranker, True),
            # The same ranker in pools that hold only a share of each prompt's replies (a prompt's ~55 AlpacaEval
            # replies cut by a hash of the reply into 8 or 20 request groups: ~7 or ~3 replies per group).
            "ranker, ~7 replies per request": product(ranker, cuts=8),
            "ranker, ~3 replies per request": product(ranker, cuts=20)}


def pool_source(source: str, reply: str, cuts: int) -> str:
    """The source name of a reply in a pool cut into `cuts` shares (a hash of the reply): its request group."""
    return source if cuts == 1 else f"{source}#{zlib.crc32(reply.encode('utf-8', 'surrogatepass')) % cuts}"


def turns_of(rows: list[dict]) -> list:
    return [normalise_messages(r["messages"]) for r in rows]


def reply_chars(turns) -> np.ndarray:
    return np.array([len(last_exchange(t)[1]) for t in turns], dtype=np.float64)


def evaluate(data: dict[str, list[dict]]) -> dict:
    turns = {name: turns_of(rows) for name, rows in data.items()}
    # Each dataset's reply lengths once, not once per scorer.
    chars = {name: reply_chars(turns[name]) for name in (*ALPACA_EVAL_DATASETS, HUMAN_DATASET, TEMPLATED_DATASET)}
    human_bins, templated_bins = metrics.length_bin(chars[HUMAN_DATASET]), metrics.length_bin(chars[TEMPLATED_DATASET])
    results = {}
    for scorer_name, score in scorers().items():
        row = {}
        for name in ALPACA_EVAL_DATASETS:
            s, win = score(turns[name], name), np.array([r["meta"]["win_prob_vs_reference"] for r in data[name]])
            query = np.array([r["meta"]["instruction_index"] for r in data[name]])
            row[SHORT[name]] = {**metrics.score_report(s, win, win >= 0.5, query),
                                **metrics.length_dependence(s, win, chars[name])}
        human, templated = score(turns[HUMAN_DATASET], HUMAN_DATASET), score(turns[TEMPLATED_DATASET], TEMPLATED_DATASET)
        row["dolly_vs_t0_auc"] = metrics.roc_auc(np.r_[np.ones(len(human)), np.zeros(len(templated))],
                                                 np.r_[human, templated])
        row["dolly_vs_t0_auc_length_matched"] = metrics.matched_auc(human, templated, human_bins, templated_bins)
        row["hh_pairwise"] = hh_pairwise(data[HH_DATASET], turns[HH_DATASET], score)
        results[scorer_name] = row
    return results


def generator_prior_ceiling(data_dir: Path) -> dict:
    """A reference, not a scorer: each held-out reply scored by the mean judged win of the system that wrote it
    (meta.generator) over that system's training-part replies. It knows who wrote every reply, which no text
    scorer is told; it shows how far "recognise the system, know its average" goes on these prompt-disjoint
    splits, i.e. how much of the judge's order is the writer's identity rather than the reply itself."""
    out = {}
    for name in ALPACA_EVAL_DATASETS:
        rows = [r for r in read(data_dir, name) if r["meta"].get("win_prob_vs_reference") is not None]
        held = np.array([is_held_out(r) for r in rows])
        win = np.array([r["meta"]["win_prob_vs_reference"] for r in rows])
        system = np.array([r["meta"]["generator"] for r in rows])
        means = {g: win[~held & (system == g)].mean() for g in set(system[~held].tolist())}
        prior = np.array([means.get(g, win[~held].mean()) for g in system])
        query = np.array([r["meta"]["instruction_index"] for r in rows])
        out[SHORT[name]] = metrics.score_report(prior[held], win[held], win[held] >= 0.5, query[held])
    return out


def hh_pairwise(rows: list[dict], turns, score) -> dict:
    s = score(turns, HH_DATASET)
    by_pair: dict[str, dict[bool, float]] = {}
    for row, value in zip(rows, s):
        by_pair.setdefault(row["meta"]["pair_id"], {})[bool(row["meta"]["preferred"])] = value
    pairs = [p for p in by_pair.values() if len(p) == 2]
    return metrics.pairwise_accuracy(np.array([p[True] for p in pairs]), np.array([p[False] for p in pairs]))


def frame_of(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": [r["id"] for r in rows], "messages": [r["messages"] for r in rows],
                         "meta": [json.dumps(r["meta"]) for r in rows], "source": [dataset_of(r) for r in rows]})


def throughput(data: dict[str, list[dict]], limit: int = 20000) -> dict:
    """rows/s of annotate_frame (all columns, batches of 2,048, models warm) and of the ranker's scoring alone,
    by wall clock and by this process's CPU time (rows per CPU-second: what one free core does, whatever else
    runs on a shared machine)."""
    ranker = load_model("quality", RANKER_QUALITY_MODEL)
    mixes = {"dolly15k + t0 held-out (short replies)": data[HUMAN_DATASET] + data[TEMPLATED_DATASET],
             "alpaca_eval2 held-out (long replies)": data[ALPACA_EVAL_DATASETS[1]]}
    out = {}
    for label, rows in mixes.items():
        rows = rows[:limit]
        out[label] = {"rows": len(rows)}
        for mode, params in (("annotate_frame, ranker default", AnnotateParams()),
                             ("annotate_frame, fastText quality", AnnotateParams(quality_model=str(
                                 FASTTEXT_QUALITY_MODEL)))):
            load_annotators(params)
            frame = frame_of(rows)
            out[label][mode] = _timed(len(frame), lambda: [annotate_frame(frame.iloc[o:o + params.batch_rows], params)
                                                           for o in range(0, len(frame), params.batch_rows)])
        turns = turns_of(rows)
        out[label]["ranker scoring only"] = _timed(len(turns), lambda: [model_quality(ranker, turns[o:o + 2048], 4000)
                                                                        for o in range(0, len(turns), 2048)])
    return out


def _timed(rows: int, work) -> str:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return f"{rows / (time.perf_counter() - wall):,.0f} wall / {rows / (time.process_time() - cpu):,.0f} CPU"


def markdown(results: dict, speed: dict, counts: dict, ceiling: dict) -> str:
    lines = ["Held-out rows (quality_split.is_held_out): " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".",
             "AUC: ROC AUC against judged win (win_prob_vs_reference >= 0.5); pairwise: within-prompt pairs of one "
             "good and one bad answer, ties half; Spearman vs win prob; R^2 len: R^2 of the score on log1p(reply "
             "chars); partial: correlation of score and win prob with log length regressed out of both; dolly vs T0 "
             "AUC, same length: over only the (dolly, T0) pairs whose replies fall in one length bin a factor of two "
             "wide (floor(log2(chars + 1))), i.e. the separation that reply length cannot explain.", "",
             "| scorer | ae1 AUC | ae1 pairwise | ae1 Spearman | ae2 AUC | ae2 pairwise | ae2 Spearman | "
             "dolly vs T0 AUC | dolly vs T0 AUC, same length | hh pairwise | ae1 R^2 len / partial | "
             "ae2 R^2 len / partial |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        a1, a2 = r["ae1"], r["ae2"]
        lines.append(f"| {name} | {a1['roc_auc']:.3f} | {a1['pairwise']['accuracy']:.3f} | {a1['spearman']:.3f} | "
                     f"{a2['roc_auc']:.3f} | {a2['pairwise']['accuracy']:.3f} | {a2['spearman']:.3f} | "
                     f"{r['dolly_vs_t0_auc']:.3f} | {_figure(r['dolly_vs_t0_auc_length_matched'])} | "
                     f"{r['hh_pairwise']['accuracy']:.3f} | "
                     f"{a1['r2_on_log_length']:.2f} / {a1['partial_corr_given_length']:.3f} | "
                     f"{a2['r2_on_log_length']:.2f} / {a2['partial_corr_given_length']:.3f} |")
    a1, a2 = ceiling["ae1"], ceiling["ae2"]
    lines += ["", "Reference, not a scorer (generator_prior_ceiling: every reply scored by its writer's mean judged win on "
              "the training prompts; it knows meta.generator, which no scorer sees): "
              f"ae1 AUC {a1['roc_auc']:.3f}, pairwise {a1['pairwise']['accuracy']:.3f}; "
              f"ae2 AUC {a2['roc_auc']:.3f}, pairwise {a2['pairwise']['accuracy']:.3f}."]
    lines += ["", *targets(results), ""]
    lines += ["", f"Throughput (rows/s by wall clock / per CPU-second of this process; one process; load average "
              f"{os.getloadavg()[0]:.1f} at the end):", "",
              "| rows | " + " | ".join(next(iter(speed.values())).keys()) + " |",
              "|---|" + "---:|" * len(next(iter(speed.values()))) + ""]
    for label, row in speed.items():
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row.values()) + " |")
    return "\n".join(lines)


def _figure(value) -> str:
    """Three decimals, or n/a where a measure has nothing to count (e.g. no length bin holds both sets)."""
    return "n/a" if value is None else f"{value:.3f}"


def targets(results: dict) -> list[str]:
    """The issue-12 done-when targets for the ranker, each with its figure and whether it is met."""
    names = list(results)
    length, ranker = results[names[0]], results[names[2]]
    checks = []
    for ds, auc_goal in (("ae1", 0.80), ("ae2", 0.75)):
        auc, pw = ranker[ds]["roc_auc"], ranker[ds]["pairwise"]["accuracy"]
        l_auc, l_pw = length[ds]["roc_auc"], length[ds]["pairwise"]["accuracy"]
        checks += [(f"{ds} ROC AUC >= {auc_goal}", auc, auc >= auc_goal),
                   (f"{ds} pairwise >= 0.85", pw, pw >= 0.85),
                   (f"{ds} AUC >= length + 0.05 ({l_auc:.3f} + 0.05)", auc, auc >= l_auc + 0.05),
                   (f"{ds} pairwise >= length + 0.05 ({l_pw:.3f} + 0.05)", pw, pw >= l_pw + 0.05)]
    checks.append(("dolly vs T0 AUC >= 0.90", ranker["dolly_vs_t0_auc"], ranker["dolly_vs_t0_auc"] >= 0.90))
    return ["Issue 12 targets for the ranker (held-out test rows):", ""] + [
        f"- {name}: {value:.3f} {'met' if ok else 'NOT met'}" for name, value, ok in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    parser.add_argument("--limit", type=int, default=20000, help="rows per throughput measurement")
    args = parser.parse_args()
    data = held_out(args.data_dir)
    results, speed = evaluate(data), throughput(data, args.limit)
    ceiling = generator_prior_ceiling(args.data_dir)
    counts = {name: len(rows) for name, rows in data.items()}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"results": results, "throughput": speed, "rows": counts,
                                        "generator_prior_ceiling": ceiling}, indent=2))
    print(markdown(results, speed, counts, ceiling))


if __name__ == "__main__":
    main()
