"""Semantic labels (faiss spherical k-means), the label graph and SemDeDup-style near-duplicates (no Spark here)."""
