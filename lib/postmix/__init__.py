"""postmix: Spark jobs that turn raw post-training datasets into curated training mixtures."""

__version__ = "0.1.0"
