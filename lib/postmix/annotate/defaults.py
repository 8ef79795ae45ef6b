"""Rebuild the default models shipped in postmix/annotate/models/ from the shared public data.

    PYTHONPATH=lib python -m postmix.annotate.defaults --data-dir ../shared/data [--work-dir DIR] [--out DIR]

Writes the labelled JSONL files (the data recipe, below) into --work-dir, then calls train.train_command on each:
- task_magpie12: Magpie's 12 categories; human labels mapped by taxonomy.HUMAN_LABEL_MAP, t0_p3_50k sampled to at
  most T0_PER_CLUSTER rows per cluster; rule labels (taxonomy.rule_label) on unlabelled prompts: the unique
  AlpacaEval instructions, the unique first user turns of hh_rlhf_harmless_test and the GPTeacher toolformer requests.
- quality_alpacaeval: alpaca_eval1 + alpaca_eval2 responses, label = GPT-4(-Turbo) win probability against the
  reference (>= 0.5 is good), split by meta.instruction_index (group), so no prompt is in both train and test.
The quality card also gets the pairwise accuracy on hh_rlhf_harmless_test (chosen scored above rejected).
"""

from __future__ import annotations

import argparse
import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np

from postmix.annotate import metrics
from postmix.annotate.card import render_markdown
from postmix.annotate.labelled import file_sha256, read_jsonl, split_fraction
from postmix.annotate.models import MODELS_DIR, clear_caches, load_model
from postmix.annotate.params import RankerParams, TrainParams
from postmix.annotate.quality_rank import train_ranker, write_card as write_ranker_card
from postmix.annotate.quality_eval import hh_pairwise_accuracy
from postmix.annotate.quality_split import HUMAN_DATASET, TEMPLATED_DATASET, quality_group
from postmix.annotate.taxonomy import HUMAN_LABEL_MAP, RULE_SUPERVISED, rule_label, toolformer_request
from postmix.annotate.train import ModelCard, train_command

T0_PER_CLUSTER = 600
# The ranker's mixed dolly/T0 lists: rows of each source, rows per list (half of each on average).
MIX_ROWS = 6000
MIX_QUERY_ROWS = 20
# Into how many request groups a prompt's AlpacaEval replies are cut (one value per prompt, by hash): pool_share.
GROUP_SPLITS = (1, 2, 4, 8, 16, 32)
HUMAN_VS_TEMPLATED = "human_dolly_vs_templated_t0"
# Platt scaling of the ranker is fitted on judged rows only: its output is P(the judge prefers the reply).
RANKER_CALIBRATION_TAGS = ("gpt4_judge_ae1", "gpt4t_judge_ae2")
# The weighted group features weigh siblings by the AlpacaEval 2 judge's text scorer: on the validation part 0.9130
# against 0.9091 for the sum of all three tags' scores (docs/ANNOTATE.md, "Quality ranker").
RANKER_PARAMS = RankerParams(group_prior_tag="gpt4t_judge_ae2")
TASK_PARAMS = TrainParams(epoch=10, lr=0.5, dim=32, quantize_cutoff=50000)
QUALITY_PARAMS = TrainParams(epoch=5, lr=0.05, dim=32, bucket=2000000, quantize_cutoff=100000, quality_threshold=0.5)
COMMAND = "PYTHONPATH=lib python -m postmix.annotate.defaults --data-dir {data_dir}"


def read_dataset(data_dir: Path, name: str) -> Iterator[dict]:
    with gzip.open(data_dir / name / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _first_user(row: dict) -> str:
    return next(m["content"] for m in row["messages"] if m["role"] == "user")


def task_rows(data_dir: Path) -> Iterator[dict]:
    """Human-labelled rows, then rule-labelled rows (see the module docstring)."""
    yield from _human_task_rows(data_dir)
    yield from _rule_task_rows(data_dir)


def _human_task_rows(data_dir: Path) -> Iterator[dict]:
    for row in read_dataset(data_dir, "dolly15k"):
        yield _task_row(_first_user(row), HUMAN_LABEL_MAP["dolly15k"][row["meta"]["category"]], "human")
    for row in read_dataset(data_dir, "code_alpaca_2k"):
        yield _task_row(_first_user(row), HUMAN_LABEL_MAP["code_alpaca_2k"]["*"], "human")
    for row in read_dataset(data_dir, "gpteacher"):
        label = HUMAN_LABEL_MAP["gpteacher"].get(row["meta"]["subset"])
        if label:
            yield _task_row(_first_user(row), label, "human")
    yield from _t0_rows(data_dir)


def _t0_rows(data_dir: Path) -> Iterator[dict]:
    rows = list(read_dataset(data_dir, "t0_p3_50k"))
    sizes: dict[str, int] = {}
    for row in rows:
        sizes[row["meta"]["t0_task_cluster"]] = sizes.get(row["meta"]["t0_task_cluster"], 0) + 1
    for row in rows:
        cluster = row["meta"]["t0_task_cluster"]
        # A hash of the row id picks the sample: deterministic, spread over all templates of the cluster.
        if split_fraction(row["id"], "t0-sample") < T0_PER_CLUSTER / sizes[cluster]:
            yield _task_row(_first_user(row), HUMAN_LABEL_MAP["t0_p3_50k"][cluster], "human")


def _rule_task_rows(data_dir: Path) -> Iterator[dict]:
    prompts: dict[str, None] = {}
    for row in read_dataset(data_dir, "alpaca_eval2_gpt4t_judged"):
        prompts.setdefault(_first_user(row))
    for row in read_dataset(data_dir, "hh_rlhf_harmless_test"):
        prompts.setdefault(_first_user(row))
    for row in read_dataset(data_dir, "gpteacher"):
        if row["meta"]["subset"] == "toolformer":
            prompts.setdefault(toolformer_request(row["meta"]["instruction"], row["meta"]["input"]))
    for prompt in prompts:
        label = rule_label(prompt)
        if label:
            yield _task_row(prompt, label, "rule")


def _task_row(prompt: str, label: str, supervision: str) -> dict:
    return {"messages": [{"role": "user", "content": prompt}], "label": label, "supervision": supervision}


def quality_rows(data_dir: Path) -> Iterator[dict]:
    for name, tag in (("alpaca_eval1_gpt4_judged", "gpt4_judge_ae1"), ("alpaca_eval2_gpt4t_judged", "gpt4t_judge_ae2")):
        for row in read_dataset(data_dir, name):
            score = row["meta"].get("win_prob_vs_reference")
            if score is not None:
                yield {"messages": row["messages"], "label": score, "supervision": tag,
                       "group": f"alpaca_eval-instruction-{row['meta']['instruction_index']}"}


def pool_share(query: str, row_id: str) -> int:
    """Which of its prompt's request groups an AlpacaEval reply joins: each prompt's ~55 replies are cut into
    GROUP_SPLITS[h] groups (h a hash of the prompt), so the ranker learns the group features on groups of every size
    from ~55 down to single replies, as user pools hold them, and not on full groups only (a ranker trained on full
    groups alone fell below the one without group features when a pool held 2-3 replies per request)."""
    splits = GROUP_SPLITS[int(split_fraction(query, "ranker-group-splits") * len(GROUP_SPLITS))]
    return int(split_fraction(row_id, "ranker-group-share") * splits)


def ranker_rows(data_dir: Path, mix_rows: int = MIX_ROWS) -> Iterator[dict]:
    """The LightGBM ranker's data: AlpacaEval replies listed per (dataset, prompt) with the judge's win probability,
    each row's `source` its dataset and its share of the prompt's replies (pool_share: request groups of every size),
    then mixed lists of dolly (label 1) and T0 (label 0) rows, about MIX_QUERY_ROWS per list, `mix_rows` of each
    source (hash of the row id). Split keys come from quality_split.quality_group, so the shared held-out rows
    (quality_split.is_held_out) are exactly this trainer's test part."""
    for name, tag in (("alpaca_eval1_gpt4_judged", "gpt4_judge_ae1"), ("alpaca_eval2_gpt4t_judged", "gpt4t_judge_ae2")):
        for row in read_dataset(data_dir, name):
            score = row["meta"].get("win_prob_vs_reference")
            if score is not None:
                query = f"{name}/{row['meta']['instruction_index']}"
                yield {"id": row["id"], "messages": row["messages"], "label": score, "supervision": tag,
                       "group": quality_group(row), "source": f"{name}#{pool_share(query, row['id'])}",
                       "query": query}
    queries = max(1, 2 * mix_rows // MIX_QUERY_ROWS)
    for name, label in ((HUMAN_DATASET, 1.0), (TEMPLATED_DATASET, 0.0)):
        rows = [r for r in read_dataset(data_dir, name) if r["messages"][-1]["content"].strip()]
        rate = mix_rows / max(len(rows), 1)
        for row in rows:
            if split_fraction(row["id"], "ranker-mix-sample") < rate:
                query = int(split_fraction(row["id"], "ranker-mix-query") * queries)
                yield {"id": row["id"], "messages": row["messages"], "label": label, "supervision": HUMAN_VS_TEMPLATED,
                       "group": quality_group(row), "source": name, "query": f"mix-{query}"}


def write_jsonl(rows: Iterator[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def build_defaults(data_dir: Path, work_dir: Path, out_dir: Path = MODELS_DIR) -> dict[str, ModelCard]:
    command = COMMAND.format(data_dir=data_dir)
    task_data = write_jsonl(task_rows(data_dir), work_dir / "task_magpie12.jsonl")
    quality_data = write_jsonl(quality_rows(data_dir), work_dir / "quality_alpacaeval.jsonl")
    task_recipe = {"builder": "postmix.annotate.defaults.task_rows", "human_label_map": HUMAN_LABEL_MAP,
                   "rule_supervised_classes": list(RULE_SUPERVISED), "t0_per_cluster": T0_PER_CLUSTER,
                   "rule_pool": "unique AlpacaEval instructions + unique hh_rlhf_harmless_test first user turns + "
                                "GPTeacher toolformer requests; postmix.annotate.taxonomy.rule_label"}
    quality_recipe = {"builder": "postmix.annotate.defaults.quality_rows",
                      "label": "meta.win_prob_vs_reference >= quality_threshold is good",
                      "group": "meta.instruction_index", "sources": ["alpaca_eval1_gpt4_judged",
                                                                     "alpaca_eval2_gpt4t_judged"]}
    cards = {
        "task": train_command("task", task_data, out_dir, TASK_PARAMS, name="task_magpie12",
                              command=f"{command}  # train_command('task', {task_data.name}, ...)",
                              recipe=task_recipe),
        "quality": train_command("quality", quality_data, out_dir, QUALITY_PARAMS, name="quality_alpacaeval",
                                 command=f"{command}  # train_command('quality', {quality_data.name}, ...)",
                                 recipe=quality_recipe),
    }
    cards["quality"] = _add_hh_pairwise(cards["quality"], data_dir)
    return cards


def build_ranker(data_dir: Path, work_dir: Path, out_dir: Path = MODELS_DIR) -> dict:
    """The default quality model: the LightGBM ranker on ranker_rows (recipe in its card), plus hh pairwise."""
    data = write_jsonl(ranker_rows(data_dir), work_dir / "quality_rank.jsonl")
    recipe = {"builder": "postmix.annotate.defaults.ranker_rows", "mix_rows": MIX_ROWS,
              "mix_query_rows": MIX_QUERY_ROWS, "relevance": "round(win_prob_vs_reference * 4); dolly 4, T0 0",
              "queries": "(dataset, meta.instruction_index) for AlpacaEval; mixed dolly/T0 lists",
              "source": "the dataset name and the reply's share of its prompt's replies (defaults.pool_share, "
                        f"{len(GROUP_SPLITS)} cuts {list(GROUP_SPLITS)}): request groups of every size",
              "calibration_supervision": list(RANKER_CALIBRATION_TAGS)}
    command = COMMAND.format(data_dir=data_dir) + "  # build_ranker: train_ranker(quality_rank.jsonl, ...)"
    content = train_ranker(read_jsonl(data), out_dir, TrainParams(), (RANKER_PARAMS,), RANKER_CALIBRATION_TAGS,
                           name="quality_rank", data={"path": str(data), "sha256": file_sha256(data),
                                                      "recipe": recipe}, command=command)
    model_path = Path(out_dir) / content["model_file"]
    clear_caches()
    content["extra_metrics"] = {"hh_rlhf_harmless_test pairwise accuracy":
                                hh_pairwise_accuracy(load_model("quality", model_path), data_dir)}
    return write_ranker_card(model_path, content)


def _add_hh_pairwise(card: ModelCard, data_dir: Path) -> ModelCard:
    clear_caches()
    model = load_model("quality", card.model_path)
    content = dict(card.content, extra_metrics={
        "hh_rlhf_harmless_test pairwise accuracy": hh_pairwise_accuracy(model, data_dir)})
    Path(card.json_path).write_text(json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    Path(card.markdown_path).write_text(render_markdown(content), encoding="utf-8")
    return replace(card, content=content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, default=Path("build/annotate-defaults"))
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--only", choices=("fasttext", "ranker"), help="rebuild only these models")
    args = parser.parse_args()
    if args.only != "ranker":
        for kind, card in build_defaults(args.data_dir, args.work_dir, args.out).items():
            m = card.content["metrics"]
            print(kind, card.model_path, "accuracy", m["accuracy"], "macro_f1", m["macro_f1"],
                  "roc_auc", m.get("roc_auc"), card.content.get("extra_metrics"))
    if args.only != "fasttext":
        content = build_ranker(args.data_dir, args.work_dir, args.out)  # after fastText: its card is rewritten
        print("quality ranker", content["model_file"], json.dumps(content["metrics"]["test"], sort_keys=True)[:800],
              content["extra_metrics"])


if __name__ == "__main__":
    main()
