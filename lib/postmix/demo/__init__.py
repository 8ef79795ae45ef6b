"""A small deterministic demo corpus written by the project itself (the default input of `make demo`)."""
