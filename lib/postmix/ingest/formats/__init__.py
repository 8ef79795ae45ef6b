"""Source record formats -> canonical conversations: one module per format, one registry (registry.FORMATS)."""

from postmix.ingest.formats.registry import FORMATS, best_format, get_format

__all__ = ["FORMATS", "best_format", "get_format"]
