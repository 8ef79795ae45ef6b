"""Sentence embeddings of samples: text recipes, a once-per-process encoder, vector validation (no Spark here)."""
