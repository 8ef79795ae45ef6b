"""Matplotlib (Agg, no pyplot state) figures of the report sections, as base64 PNG.

Each function draws one section's frame from postmix.report.sections, so the plot shows the table's numbers.
PNG metadata carries no software version or date: same frames -> same bytes.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from postmix.report.projection import EmbeddingMap

POOL_COLOUR = "#8c96a3"
SELECTION_COLOUR = "#d95f02"
ACCENT_COLOUR = "#1b6ca8"
WIDTH_IN, HEIGHT_IN, DPI = 7.2, 3.3, 100


def _figure(height: float = HEIGHT_IN) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def to_png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(axes, title: str, xlabel: str, ylabel: str) -> None:
    axes.set_title(title, fontsize=10, loc="left")
    axes.set_xlabel(xlabel, fontsize=9)
    axes.set_ylabel(ylabel, fontsize=9)
    axes.tick_params(labelsize=8)
    axes.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _empty(axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#555555", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def share_bars(shares: pd.DataFrame, what: str) -> str:
    """Grouped bars: share of each category in the pool and in the selection (%)."""
    figure = _figure()
    axes = figure.add_subplot()
    positions = np.arange(len(shares))
    axes.bar(positions - 0.2, shares["pool_share"] * 100, width=0.4, color=POOL_COLOUR, label="pool")
    axes.bar(positions + 0.2, shares["selected_share"] * 100, width=0.4, color=SELECTION_COLOUR, label="selection")
    axes.set_xticks(positions, shares["value"], rotation=35, ha="right", fontsize=8)
    _style(axes, f"Share of rows per {what}: pool vs selection", what, "share of rows (%)")
    axes.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    return to_png_base64(figure)


def quality_bars(histogram: pd.DataFrame) -> str:
    """Quality histograms as densities (share of rows per bin), pool and selection on one axis."""
    figure = _figure()
    axes = figure.add_subplot()
    width = float(histogram["bin_high"].iloc[0] - histogram["bin_low"].iloc[0])
    for column, colour, label in (("pool_rows", POOL_COLOUR, "pool"), ("selected_rows", SELECTION_COLOUR,
                                                                           "selection")):
        total = max(int(histogram[column].sum()), 1)
        axes.bar(histogram["bin_low"], histogram[column] / total * 100, width=width, align="edge", alpha=0.6,
                 color=colour, edgecolor="white", label=label)
    axes.set_xlim(0, 1)
    _style(axes, "Quality score distribution", "quality score", "share of rows (%)")
    axes.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    return to_png_base64(figure)


def map_scatter(embedding_map: EmbeddingMap) -> str:
    """The embedding sample on its first two principal components, selected rows on top."""
    figure = _figure(height=4.2)
    axes = figure.add_subplot()
    points = embedding_map.points
    rest, chosen = points[~points["selected"].astype(bool)], points[points["selected"].astype(bool)]
    axes.scatter(rest["x"], rest["y"], s=5, color=POOL_COLOUR, alpha=0.45, linewidths=0, label="not selected")
    axes.scatter(chosen["x"], chosen["y"], s=7, color=SELECTION_COLOUR, alpha=0.8, linewidths=0, label="selected")
    first, second = embedding_map.explained_variance
    _style(axes, "Embedding space (PCA of a sample)", f"PC1 ({first:.1%} of variance)",
           f"PC2 ({second:.1%} of variance)")
    axes.grid(True, color="#eeeeee")
    axes.legend(fontsize=8, frameon=False, markerscale=2)
    figure.tight_layout()
    return to_png_base64(figure)


def gain_curve(selected: pd.DataFrame) -> str:
    """Marginal gain at pick time and objective after each pick, by rank."""
    figure = _figure()
    gain_axes, objective_axes = figure.subplots(1, 2)
    if selected.empty:
        _empty(gain_axes, "nothing selected")
        _empty(objective_axes, "nothing selected")
    else:
        gain_axes.plot(selected["rank"], selected["gain"], color=SELECTION_COLOUR, linewidth=1.2)
        objective_axes.plot(selected["rank"], selected["objective_after"], color=ACCENT_COLOUR, linewidth=1.5)
    _style(gain_axes, "Marginal gain at pick", "rank", "gain (objective units)")
    _style(objective_axes, "Objective after pick", "rank", "F(S)")
    figure.tight_layout()
    return to_png_base64(figure)


def similarity_histogram(pairs: pd.DataFrame) -> str:
    """Cosine similarity of the near-duplicate pairs."""
    figure = _figure()
    axes = figure.add_subplot()
    if pairs.empty:
        _empty(axes, "no near-duplicate pairs")
    else:
        axes.hist(pairs["similarity"].to_numpy(dtype=np.float64), bins=20, color=ACCENT_COLOUR, edgecolor="white")
    _style(axes, "Near-duplicate pairs by cosine to the kept member", "cosine similarity", "pairs")
    figure.tight_layout()
    return to_png_base64(figure)


def horizontal_bars(labels: pd.Series, values: pd.Series, title: str, xlabel: str, empty_message: str) -> str:
    """One horizontal bar per label (first label on top), with its value written at the bar's end."""
    figure = _figure(height=max(2.4, 0.9 + 0.32 * len(labels)))
    axes = figure.add_subplot()
    if len(labels) == 0:
        _empty(axes, empty_message)
    else:
        positions = np.arange(len(labels))[::-1]
        numbers = values.to_numpy(dtype=np.float64)
        axes.barh(positions, numbers, color=ACCENT_COLOUR, height=0.6)
        axes.set_yticks(positions, labels.astype(str), fontsize=8)
        for position, number in zip(positions, numbers):
            axes.text(number, position, f" {number:,.1f}" if number % 1 else f" {number:,.0f}", va="center",
                      fontsize=7, color="#333333")
        axes.set_xlim(0, max(numbers.max(), 1e-9) * 1.15)
    _style(axes, title, xlabel, "")
    axes.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    axes.grid(axis="y", visible=False)
    figure.tight_layout()
    return to_png_base64(figure)
