"""Annotate stage, engine-free: fastText task / quality / language labellers, heuristic signals, trainer.

Entry points: `annotator.load_annotators` + `annotator.annotate_frame` (the batch function the Spark wrapper maps),
`train.train_command` / `train.train_classifier` (the `postmix train` job), `defaults` (rebuilds the shipped models).
"""
