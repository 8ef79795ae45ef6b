"""Export a mixture in the shapes trainers read: TRL / Hugging Face chat messages, LLaMA-Factory ShareGPT or Alpaca.

`export_mixture(rows, out, ExportParams(format=..., style=...)) -> ExportSummary` is what `postmix export` calls
with the mixtures rows of one run; docs/REPORT.md ("Export") documents each style's mapping.
"""

from postmix.export.atomic import atomic_path, write_text_atomic
from postmix.export.params import FORMATS, STYLES, ExportParams
from postmix.export.styles import STYLE_FIELDS, canonical_messages, to_alpaca, to_messages, to_sharegpt
from postmix.export.writer import ExportSummary, export_mixture

__all__ = ["FORMATS", "STYLES", "STYLE_FIELDS", "ExportParams", "ExportSummary", "atomic_path", "canonical_messages",
           "export_mixture", "to_alpaca", "to_messages", "to_sharegpt", "write_text_atomic"]
