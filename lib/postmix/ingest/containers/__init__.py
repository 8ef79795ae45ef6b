"""Containers: how records are stored in a file (JSONL, JSON array, Parquet, Delta), one module each."""
