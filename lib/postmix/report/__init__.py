"""The self-contained HTML report of one run: `build_report(ReportData) -> str`, `write_report(data, path)`.

`embedding_map(...)` makes the 2-D map input from a sample of embeddings. docs/REPORT.md describes each section.
"""

from postmix.report.data import REQUIRED_COLUMNS, ReportData
from postmix.report.html import build_report, write_report
from postmix.report.params import ReportParams
from postmix.report.projection import EmbeddingMap, embedding_map

__all__ = ["REQUIRED_COLUMNS", "EmbeddingMap", "ReportData", "ReportParams", "build_report", "embedding_map",
           "write_report"]
