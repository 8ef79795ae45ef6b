import base64
import io
import re
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from postmix.errors import InputError
from postmix.report import ReportParams, build_report, write_report
from postmix.report.synthetic import synthetic_report_data


class TableParser(HTMLParser):
    """Every <table id=...> as a list of rows of cell texts (header row first); `row_classes` holds each table's
    <tr> class attributes in the same order."""

    def __init__(self):
        super().__init__()
        self.tables, self._table, self._row, self._cell = {}, None, None, None
        self.row_classes, self._classes = {}, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs)["id"], [])
            self._classes = self.row_classes.setdefault(dict(attrs)["id"], [])
        elif tag == "tr":
            self._row = []
            self._classes.append(dict(attrs).get("class", ""))
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            self._table.append(self._row)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def data():
    return synthetic_report_data(n_rows=1200, budget=120, seed=3)


@pytest.fixture(scope="module")
def html(data):
    return build_report(data)


@pytest.fixture(scope="module")
def tables(html):
    parser = TableParser()
    parser.feed(html)
    return parser.tables


def body(tables, table_id):
    return tables[table_id][1:]


def count(text):
    return int(text.replace(",", ""))


def percent(text):
    return float(text.rstrip("%")) / 100


def selected_frame(data):
    return data.pool[data.pool["sample_id"].isin(set(data.selection["sample_id"]))]


@pytest.mark.parametrize("column", ["task", "source"])
def test_share_tables_match_counts_recomputed_from_the_frames(data, tables, column):
    pool_counts = data.pool[column].value_counts()
    selected_counts = selected_frame(data)[column].value_counts()
    rows = body(tables, f"{column}-shares")
    assert sorted(r[0] for r in rows) == sorted(pool_counts.index)
    for value, pool_rows, pool_share, chosen_rows, chosen_share in rows:
        assert count(pool_rows) == pool_counts[value]
        assert count(chosen_rows) == selected_counts.get(value, 0)
        assert percent(pool_share) == pytest.approx(pool_counts[value] / len(data.pool), abs=5.01e-4)
        assert percent(chosen_share) == pytest.approx(selected_counts.get(value, 0) / len(data.selection), abs=5.01e-4)
    assert [count(r[1]) for r in rows] == sorted((count(r[1]) for r in rows), reverse=True)


def test_quality_histogram_counts_every_row_once(data, tables):
    rows = body(tables, "quality-histogram")
    assert len(rows) == ReportParams().quality_bins
    bin_of = lambda q: np.minimum((np.asarray(q) * len(rows)).astype(int), len(rows) - 1)  # noqa: E731
    pool_bins = np.bincount(bin_of(data.pool["quality"]), minlength=len(rows))
    chosen_bins = np.bincount(bin_of(selected_frame(data)["quality"]), minlength=len(rows))
    assert [count(r[1]) for r in rows] == pool_bins.tolist()
    assert [count(r[2]) for r in rows] == chosen_bins.tolist()


def test_metrics_table_prints_every_metric_for_selection_and_random(data, tables):
    rows = {r[0]: r for r in body(tables, "metrics")}
    assert list(rows) == list(data.metrics["metric"])
    for metric in data.metrics.itertuples(index=False):
        shown = rows[metric.metric]
        for text, value in ((shown[1], metric.selection), (shown[2], metric.random)):
            assert float(text.replace(",", "")) == pytest.approx(value, abs=5e-5, rel=1e-6)


def parsed(html):
    parser = TableParser()
    parser.feed(html)
    return parser


def test_verdict_line_sits_above_the_metrics_table_and_flags_every_worse_metric(data, html, tables):
    from postmix.mixture import verdict_of

    verdict = verdict_of(data.metrics)
    assert verdict.worse  # the synthetic selection is further from the pool's task shares than random
    line = re.search(r'<p id="verdict" class="verdict (\w+)">([^<]*)</p>', html)
    assert line and line.group(1) == "worse" and line.group(2) == verdict.sentence()
    assert html.index('id="verdict"') < html.index('<table id="metrics"')
    rows, classes = body(tables, "metrics"), parsed(html).row_classes["metrics"][1:]
    assert tables["metrics"][0][3] == "vs random"
    for row, css, judged in zip(rows, classes, verdict.outcomes, strict=True):
        assert row[0] == judged.metric
        assert (css == "worse") == (judged.outcome == "worse") == row[3].endswith("worse")
        assert row[3] == {"better": "better", "worse": "\u25bc worse", "tie": "tie", "": "\u2013"}[judged.outcome]


def test_the_report_names_each_metric_worse_than_random(data):
    metrics = data.metrics.copy()
    worse = {"semantic_coverage": (0.756, 0.886), "near_duplicate_rate": (0.04, 0.01)}
    for name, (selection, random) in worse.items():
        metrics.loc[metrics["metric"] == name, ["selection", "random"]] = [selection, random]
    html = build_report(replace(data, metrics=metrics))
    text = re.search(r'<p id="verdict"[^>]*>([^<]*)</p>', html).group(1)
    assert "semantic_coverage (0.756 vs 0.886)" in text and "near_duplicate_rate (0.04 vs 0.01)" in text
    report = parsed(html)
    flagged = {row[0] for row, css in zip(report.tables["metrics"][1:], report.row_classes["metrics"][1:])
               if css == "worse"}
    assert {"semantic_coverage", "near_duplicate_rate"} <= flagged


def test_a_selection_better_everywhere_gets_no_flag(data):
    from postmix.mixture.metrics import LOWER, METRIC_BETTER

    metrics = data.metrics.copy()
    lower = metrics["metric"].map(lambda m: METRIC_BETTER[m] == LOWER)
    metrics["selection"] = metrics["random"].where(~lower, metrics["random"] - 0.01) + (~lower) * 0.5
    metrics.loc[metrics["metric"].isin(["n_samples", "pool_task_entropy_bits"]), "selection"] = metrics["random"]
    html = build_report(replace(data, metrics=metrics))
    assert '<p id="verdict" class="verdict ok">The selection beats a random sample of the same budget on all 9 ' \
           'measures.</p>' in html
    assert "worse" not in parsed(html).row_classes["metrics"]


def test_gain_table_lists_first_and_last_pick(data, tables):
    rows = body(tables, "gain-checkpoints")
    ordered = data.selection.sort_values("rank")
    first, last = ordered.iloc[0], ordered.iloc[-1]
    assert count(rows[0][0]) == 1 and count(rows[-1][0]) == len(ordered)
    assert float(rows[0][1]) == pytest.approx(first["gain"], rel=1e-5)
    assert float(rows[-1][2]) == pytest.approx(last["objective_after"], rel=1e-5)
    assert len(rows) == ReportParams().gain_checkpoints


def test_near_duplicate_counts_agree_with_the_pairs(data, tables):
    chosen = set(data.selection["sample_id"])
    pairs = data.near_duplicates
    both = sum(1 for a, b in zip(pairs["sample_id"], pairs["duplicate_of"]) if a in chosen and b in chosen)
    counts = {r[0]: count(r[1]) for r in body(tables, "near-duplicate-counts")}
    assert counts["near-duplicate pairs in the pool"] == len(pairs) > 0
    assert counts["pairs with both rows selected"] == both
    assert counts["selected rows marked as duplicates"] == len(set(pairs["sample_id"]) & chosen)
    top = body(tables, "near-duplicate-pairs")
    assert float(top[0][2]) == pytest.approx(pairs["similarity"].max(), abs=5e-5)
    assert len(top) == min(ReportParams().top_near_duplicates, len(pairs))


def test_rejects_timings_and_map_tables(data, tables):
    rejects = body(tables, "rejects")
    assert rejects[-1] == ["total", f"{int(data.rejects['count'].sum()):,}"]
    assert {r[0]: count(r[1]) for r in rejects[:-1]} == dict(zip(data.rejects["reason"], data.rejects["count"]))
    timings = body(tables, "stage-timings")
    assert [r[0] for r in timings] == list(data.runs["stage"])
    assert [float(r[2]) for r in timings] == pytest.approx(list(data.runs["duration_s"]), abs=0.05)
    facts = {r[0]: r[1] for r in body(tables, "map-summary")}
    points = data.embedding_map.points
    assert count(facts["points shown"]) == len(points)
    assert count(facts["selected points"]) == int(points["selected"].sum())


def test_report_is_self_contained_and_every_plot_is_a_png(html):
    assert "<script" not in html and "http://" not in html and "https://" not in html
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 8  # task, source, quality, map, gain, near-duplicates, rejects, timings
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        picture = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert picture.format == "PNG" and picture.size[0] >= 600
        assert len(picture.convert("RGB").getcolors(maxcolors=1 << 20)) > 10  # drawn, not blank


def test_same_data_gives_the_same_bytes(data, html):
    assert build_report(data) == html


def test_empty_rejects_and_duplicates_still_render(data):
    quiet = replace(data, rejects=data.rejects.iloc[:0], near_duplicates=data.near_duplicates.iloc[:0])
    parser = TableParser()
    parser.feed(build_report(quiet))
    assert body(parser.tables, "rejects") == [["total", "0"]]
    assert {r[0]: r[1] for r in body(parser.tables, "near-duplicate-counts")}["near-duplicate pairs in the pool"] == "0"


def test_write_report_replaces_the_file_atomically(data, tmp_path):
    target = tmp_path / "reports" / "run.html"
    write_report(data, target)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["run.html"]


def test_inconsistent_frames_are_refused(data):
    with pytest.raises(InputError, match="runs frame lacks column"):
        replace(data, runs=data.runs.drop(columns=["peak_rss_mb"]))
    with pytest.raises(InputError, match="not in the pool"):
        replace(data, selection=pd.concat([data.selection, data.selection.iloc[:1].assign(sample_id="zz")]))
    with pytest.raises(InputError, match="quality"):
        replace(data, pool=data.pool.assign(quality=data.pool["quality"] + 1))
