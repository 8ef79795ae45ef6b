"""Parse the first 2,000 lines of every shared public dataset: no crash, every line accounted for."""

import gzip
import itertools
import json
from collections import Counter

from postmix.ingest.params import IngestParams, SourceSpec
from postmix.ingest.parse import parse_split, rows_to_record_batch
from postmix.ingest.splits import plan_splits

N_LINES = 2_000


def test_shared_datasets_parse_with_reconciled_counts(shared_data_dir, tmp_path):
    datasets = sorted(p for p in shared_data_dir.glob("*/*.jsonl.gz"))
    assert datasets, f"no datasets under {shared_data_dir}"
    specs, expected = [], {}
    for path in datasets:
        with gzip.open(path, "rb") as handle:
            head = list(itertools.islice(handle, N_LINES))
        copy = tmp_path / path.name
        copy.write_bytes(gzip.compress(b"".join(head), mtime=0))
        name = path.parent.name
        specs.append(SourceSpec(name, str(copy)))
        expected[name] = sum(1 for line in head if line.strip())
    params = IngestParams()
    counts, reasons, ids = Counter(), Counter(), Counter()
    for split in plan_splits(specs, params):
        assert split.format == "chat"
        rows = list(parse_split(split, params))
        rows_to_record_batch(rows)  # every row fits the Arrow schema
        for row in rows:
            counts[row["source"]] += 1
            if row["kind"] == "reject":
                reasons[row["reason"]] += 1
            else:
                ids[row["sample_id"]] += 1
                assert json.loads(row["meta"]) is not None
    assert counts == expected
    total = sum(expected.values())
    # The data is curated: rejects are the known junk (empty completions), a small share.
    assert sum(reasons.values()) < 0.05 * total, reasons
    assert set(reasons) <= {"empty_turn"}, reasons
