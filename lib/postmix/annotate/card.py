"""Markdown rendering of a model card (the JSON card is the source; this is its human view)."""

from __future__ import annotations

import json


def render_markdown(card: dict) -> str:
    m = card["metrics"]
    lines = [f"# Model card: {card['model_file']} ({card['kind']})", "",
             f"- sha256: `{card['model_sha256']}` ({card['model_bytes']} bytes, quantized fastText)",
             f"- command: `{card['command']}`",
             f"- data: `{json.dumps(card['data'], sort_keys=True, ensure_ascii=False)}`",
             f"- input text: {card['text_recipe']}",
             f"- split: {card['split']['method']}; key: {card['split']['key']}; salt `{card['split']['salt']}`, "
             f"test_fraction {card['split']['test_fraction']}, "
             f"calibration_fraction {card['split']['calibration_fraction']}",
             f"- params: `{json.dumps(card['params'], sort_keys=True)}`", "",
             "## Held-out results", "",
             f"- test rows: {m['test_rows']}; accuracy {m['accuracy']}; macro-F1 {m['macro_f1']}"]
    for tag, sub in m["by_supervision"].items():
        lines.append(f"- supervision `{tag}`: {sub['rows']} rows, accuracy {sub['accuracy']}, "
                     f"macro-F1 {sub['macro_f1']}")
    if "roc_auc" in m:
        lines.append(f"- ROC AUC (calibrated P(good)): {m['roc_auc']}; Brier {m['brier']}")
    lines += ["", *_label_table(card), "", *_confusion(m["confusion_matrix"])]
    if "calibration_table" in m:
        lines += ["", *_calibration(card, m["calibration_table"])]
    for key, value in card.get("extra_metrics", {}).items():
        lines += ["", f"## {key}", "", f"`{json.dumps(value, sort_keys=True)}`"]
    return "\n".join(lines) + "\n"


def _label_table(card: dict) -> list[str]:
    per = card["metrics"]["per_class"]
    counts = card["label_counts"]
    parts = list(counts)
    lines = ["## Labels", "", "| label | " + " | ".join(f"{p} rows" for p in parts)
             + " | supervision | precision | recall | F1 |", "|---|" + "---:|" * len(parts) + "---|---:|---:|---:|"]
    for label in card["labels"]:
        sources = ", ".join(f"{k} {v}" for k, v in card["supervision_counts"].get(label, {}).items())
        lines.append(f"| {label} | " + " | ".join(str(counts[p].get(label, 0)) for p in parts)
                     + f" | {sources} | {per[label]['precision']} | {per[label]['recall']} | {per[label]['f1']} |")
    return lines


def _confusion(confusion: dict) -> list[str]:
    labels = confusion["labels"]
    lines = ["## Confusion matrix (rows: true, columns: predicted)", "",
             "| true \\ pred | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for label, row in zip(labels, confusion["matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _calibration(card: dict, table: list[dict]) -> list[str]:
    c = card.get("calibration", {})
    lines = [f"## Calibration (Platt: sigmoid({c.get('a')} * logit(p) + {c.get('b')}), fitted on the calibration "
             "split; table on the test split)", "", "| score bin | rows | mean score | positive rate |",
             "|---|---:|---:|---:|"]
    for row in table:
        lines.append(f"| [{row['bin_lo']}, {row['bin_hi']}) | {row['rows']} | {row['mean_score']} | "
                     f"{row['positive_rate']} |")
    return lines
