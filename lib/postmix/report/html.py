"""The self-contained HTML report: inline CSS, plots as base64 PNG <img>, the exact numbers in tables beside them.

No script, no external URL: the file opens the same offline, in a browser, or attached to a ticket.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from postmix.export.atomic import write_text_atomic
from postmix.mixture.metrics import HIGHER, LOWER, METRIC_BETTER
from postmix.mixture.verdict import BETTER, TIE, UNJUDGED, WORSE, verdict_of
from postmix.report import plots
from postmix.report.data import ReportData
from postmix.report.params import ReportParams
from postmix.report.sections import (category_shares, gain_checkpoints, near_duplicate_summary, quality_histogram,
                                     rejects_by_reason, stage_timings)

COUNT_UNITS = ("rows", "cost")
# the metrics table's "vs random" cell: a word, not only a colour, so the flag survives print and colour blindness
OUTCOME_MARKS = {BETTER: "better", WORSE: "\u25bc worse", TIE: "tie", UNJUDGED: "\u2013"}


def fmt_count(value) -> str:
    return f"{int(value):,}"


def fmt_share(value) -> str:
    return f"{100 * float(value):.1f}%"


def fmt_fixed(value, digits: int = 4) -> str:
    return f"{float(value):.{digits}f}"


def fmt_general(value) -> str:
    return f"{float(value):.6g}"


def fmt_metric(value, unit: str) -> str:
    """Counts (rows, cost) as integers with separators when whole; everything else with 4 decimals."""
    value = float(value)
    if unit in COUNT_UNITS and value.is_integer():
        return fmt_count(value)
    return fmt_fixed(value)


def html_table(table_id: str, headers: Sequence[str], rows: Iterable[Sequence[str]],
               row_classes: Sequence[str] = ()) -> str:
    """A table; `row_classes` (optional, one per row) become the rows' class attributes."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    rows = list(rows)
    classes = list(row_classes) or [""] * len(rows)
    body = "".join(_row_tag(css) + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
                   for row, css in zip(rows, classes, strict=True))
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _row_tag(css: str) -> str:
    return f'<tr class="{escape(css)}">' if css else "<tr>"


def image(png_base64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{png_base64}" alt="{escape(alt)}">'


def section(anchor: str, title: str, caption: str, figure: str, table: str) -> str:
    left = f'<div class="figure">{figure}</div>' if figure else ""
    return (f'<section id="{anchor}"><h2>{escape(title)}</h2><p class="caption">{escape(caption)}</p>'
            f'<div class="{"pair" if figure else "single"}">{left}<div class="numbers">{table}</div></div></section>')


def metrics_section(data: ReportData) -> str:
    """The verdict sentence, then the table with every metric on which the selection is worse flagged."""
    verdict = verdict_of(data.metrics)
    rows, classes = [], []
    for m, judged in zip(data.metrics.itertuples(index=False), verdict.outcomes, strict=True):
        rows.append((m.metric, fmt_metric(m.selection, m.unit), fmt_metric(m.random, m.unit),
                     OUTCOME_MARKS[judged.outcome], m.unit, m.description))
        classes.append(judged.outcome or "unjudged")
    table = html_table("metrics", ("metric", "selection", "random (same budget)", "vs random", "unit", "definition"),
                       rows, classes)
    tone = "worse" if verdict.worse else "ok"
    summary = f'<p id="verdict" class="verdict {tone}">{escape(verdict.sentence())}</p>'
    return section("metrics", "Mixture metrics: selection vs random",
                   "Each metric for the selection and for a uniformly random selection of the same budget "
                   f"(docs/REPORT.md defines them). {direction_note()} Equal values are a tie.", "",
                   summary + table)


def direction_note() -> str:
    """Which way is better, from the one declaration (postmix.mixture.metrics.METRIC_BETTER)."""
    higher = [name for name, better in METRIC_BETTER.items() if better == HIGHER]
    lower = [name for name, better in METRIC_BETTER.items() if better == LOWER]
    return (f"Higher is better for {', '.join(higher)}; lower is better for {', '.join(lower)}; the others are "
            "not judged.")


def shares_section(data: ReportData, column: str, title: str, what: str) -> str:
    shares = category_shares(data.pool[column], data.selected_rows()[column])
    rows = [(s.value, fmt_count(s.pool_rows), fmt_share(s.pool_share), fmt_count(s.selected_rows),
             fmt_share(s.selected_share)) for s in shares.itertuples(index=False)]
    table = html_table(f"{column}-shares", (what, "pool rows", "pool share", "selected rows", "selected share"), rows)
    caption = (f"Rows per {what} in the candidate pool (before selection, grey) and in the selection (after, "
               f"orange), as a share of each.")
    return section(f"{column}-distribution", title, caption, image(plots.share_bars(shares, what), title), table)


def quality_section(data: ReportData, params: ReportParams) -> str:
    selected = data.selected_rows()
    histogram = quality_histogram(data.pool["quality"], selected["quality"], params.quality_bins)
    rows = [(f"{h.bin_low:.2f} – {h.bin_high:.2f}", fmt_count(h.pool_rows), fmt_count(h.selected_rows))
            for h in histogram.itertuples(index=False)]
    means = (f"Mean quality: pool {fmt_fixed(data.pool['quality'].mean() if len(data.pool) else 0.0)}, selection "
             f"{fmt_fixed(selected['quality'].mean() if len(selected) else 0.0)}.")
    table = html_table("quality-histogram", ("quality bin", "pool rows", "selected rows"), rows)
    caption = ("Quality score (annotate stage, 0 = worst, 1 = best) in equal-width bins; bars are the share of each "
               "set's rows per bin, the table gives row counts. " + means)
    return section("quality", "Quality", caption, image(plots.quality_bars(histogram), "quality histogram"), table)


def map_section(data: ReportData) -> str:
    points = data.embedding_map.points
    selected = int(points["selected"].astype(bool).sum())
    first, second = data.embedding_map.explained_variance
    rows = [("points shown", fmt_count(len(points))), ("selected points", fmt_count(selected)),
            ("unselected points", fmt_count(len(points) - selected)),
            ("PC1 variance share", fmt_share(first)), ("PC2 variance share", fmt_share(second))]
    caption = ("Sentence embeddings of a seeded sample of selected and unselected pool rows, projected on the "
               "sample's first two principal components. Selected rows spread over the whole cloud mean the "
               "selection covers the pool's topics; dense orange clumps mean it repeats itself.")
    return section("map", "Embedding map", caption, image(plots.map_scatter(data.embedding_map), "embedding map"),
                   html_table("map-summary", ("", "value"), rows))


def gain_section(data: ReportData, params: ReportParams) -> str:
    selected = data.selected_rows()
    checkpoints = gain_checkpoints(selected, params.gain_checkpoints)
    rows = [(fmt_count(c.rank), fmt_general(c.gain), fmt_general(c.objective_after))
            for c in checkpoints.itertuples(index=False)]
    caption = ("The greedy's marginal gain at each pick (the reason the row was chosen; it shrinks as labels fill up) "
               "and the objective F(S) after each pick. The table lists evenly spaced ranks.")
    return section("gain", "Gain curve", caption, image(plots.gain_curve(selected), "gain curve"),
                   html_table("gain-checkpoints", ("rank", "gain", "objective after"), rows))


def near_duplicate_section(data: ReportData, params: ReportParams) -> str:
    summary = near_duplicate_summary(data.near_duplicates, data.selection["sample_id"], params.top_near_duplicates)
    counts = html_table("near-duplicate-counts", ("", "rows"), [
        ("near-duplicate pairs in the pool", fmt_count(summary.pairs)),
        ("pairs with both rows selected", fmt_count(summary.pairs_in_selection)),
        ("selected rows marked as duplicates", fmt_count(summary.duplicates_selected))])
    top = html_table("near-duplicate-pairs", ("sample_id", "duplicate of", "cosine", "sample selected",
                                              "duplicate of selected"),
                     [(p.sample_id, p.duplicate_of, fmt_fixed(p.similarity), "yes" if p.sample_selected else "no",
                       "yes" if p.duplicate_of_selected else "no") for p in summary.top_pairs.itertuples(index=False)])
    caption = ("Semantic near-duplicates found by the semantic stage: each pair is a row and the kept member of its "
               "group (highest quality). Groups are joined transitively, so a pair's cosine can be below the dedup "
               f"threshold. The table lists the {params.top_near_duplicates} most similar pairs.")
    return section("near-duplicates", "Near-duplicates", caption,
                   image(plots.similarity_histogram(data.near_duplicates), "near-duplicate similarity"),
                   counts + top)


def rejects_section(data: ReportData) -> str:
    counts = rejects_by_reason(data.rejects)
    rows = [(r.reason, fmt_count(r.count)) for r in counts.itertuples(index=False)]
    rows.append(("total", fmt_count(counts["count"].sum())))
    figure = plots.horizontal_bars(counts["reason"], counts["count"], "Rejected input rows by reason",
                                   "rows", "no rejected rows")
    return section("rejects", "Rejects by reason", "Input rows the ingest could not turn into samples, by reason "
                   "code (docs/FORMATS.md lists the codes).", image(figure, "rejects by reason"),
                   html_table("rejects", ("reason", "rows"), rows))


def timings_section(data: ReportData) -> str:
    timings = stage_timings(data.runs)
    rows = [(t.stage, t.status, "" if pd.isna(t.duration_s) else fmt_fixed(t.duration_s, 1),
             "" if pd.isna(t.peak_rss_mb) else fmt_fixed(t.peak_rss_mb, 0)) for t in timings.itertuples(index=False)]
    figure = plots.horizontal_bars(timings["stage"], timings["duration_s"].fillna(0.0), "Wall time per stage",
                                   "seconds", "no stage timings")
    return section("timings", "Stage timings", "Wall time of each stage's last attempt and the driver's peak "
                   "resident memory (runs table).", image(figure, "stage timings"),
                   html_table("stage-timings", ("stage", "status", "wall time (s)", "peak RSS (MiB)"), rows))


STYLE = """
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:0;background:#f6f7f9;color:#1d2630}
header{background:#1d2b3a;color:#fff;padding:18px 32px}header h1{margin:0 0 6px;font-size:22px}
header dl{display:grid;grid-template-columns:repeat(4,auto 1fr);gap:4px 12px;margin:8px 0 0;font-size:13px}
header dt{color:#aab7c4}header dd{margin:0}
main{padding:8px 32px 32px}section{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:16px 0;
padding:14px 18px}h2{font-size:17px;margin:0 0 4px}p.caption{font-size:12.5px;color:#4a5663;margin:0 0 10px;
max-width:1200px}.pair{display:grid;grid-template-columns:730px 1fr;gap:18px;align-items:start}
.figure img{width:720px;display:block}.numbers{overflow-x:auto;max-height:470px;overflow-y:auto}
table{border-collapse:collapse;font-size:12px;margin-bottom:8px}th,td{padding:3px 8px;border-bottom:1px solid #e6e9ee;
text-align:right;white-space:nowrap}th{background:#eef1f5;position:sticky;top:0}td:first-child,th:first-child{
text-align:left}#metrics td:last-child,#metrics th:last-child{text-align:left;white-space:normal;color:#4a5663}
#metrics tr.worse td{background:#fdecea;font-weight:bold}p.verdict{font-size:14px;font-weight:bold;margin:0 0 8px;
padding:6px 10px;border-left:4px solid #2e7d32}p.verdict.worse{border-left-color:#c62828;background:#fdecea}
"""


def header(data: ReportData) -> str:
    facts = {"run": data.run_id, "pool rows": fmt_count(len(data.pool)),
             "selected rows": fmt_count(len(data.selection)), **{str(k): str(v) for k, v in data.summary.items()}}
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts.items())
    return f"<header><h1>postmix mixture report</h1><dl>{items}</dl></header>"


def build_report(data: ReportData, params: ReportParams = ReportParams()) -> str:
    """The whole report as one HTML string (same data and params -> same string)."""
    sections = [metrics_section(data), shares_section(data, "task", "Task distribution", "task"),
                shares_section(data, "source", "Shares per source", "source"), quality_section(data, params),
                map_section(data), gain_section(data, params), near_duplicate_section(data, params),
                rejects_section(data), timings_section(data)]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>postmix report {escape(data.run_id)}</title><style>{STYLE}</style></head><body>"
            f"{header(data)}<main>{''.join(sections)}</main></body></html>\n")


def write_report(data: ReportData, path: str | Path, params: ReportParams = ReportParams()) -> Path:
    """Build the report and write it atomically (temp file + rename) to `path`."""
    return write_text_atomic(path, build_report(data, params))
