"""Thin Spark adapters: the session builder and the per-stage wrappers around engine-free functions."""
