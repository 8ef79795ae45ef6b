"""Ingest over all of ../shared/data (about 180K real rows): counts reconcile and match the tables."""

from __future__ import annotations

import deltalake
import pytest

from postmix.config import load_config
from postmix.spark.ingest import run_ingest

pytestmark = pytest.mark.slow


def test_counts_reconcile_over_every_shared_dataset(spark, shared_data_dir, tmp_path):
    files = sorted(shared_data_dir.glob("*/*.jsonl.gz"))
    assert len(files) >= 7
    config = load_config(None, {"sources": [f"{p.parent.name}={p}" for p in files], "warehouse": str(tmp_path)})
    counts = run_ingest(spark, config).counts
    lines = 0
    for path in files:
        import gzip

        with gzip.open(path, "rb") as handle:
            lines += sum(1 for line in handle if line.strip())
    assert counts["rows_read"] == lines
    assert counts["rows_read"] == counts["rows_accepted"] + counts["rows_duplicate"] + counts["rows_rejected"]
    samples = deltalake.DeltaTable(f"{tmp_path}/samples")
    rejects = deltalake.DeltaTable(f"{tmp_path}/rejects")
    assert samples.to_pyarrow_dataset().count_rows() == counts["rows_accepted"]
    assert rejects.to_pyarrow_dataset().count_rows() == counts["rows_rejected"]
    # the known junk (empty completions in t0_p3, empty outputs in alpaca_eval) is rejected, with a reason
    assert counts.get("rejected.empty_turn", 0) >= 1400
