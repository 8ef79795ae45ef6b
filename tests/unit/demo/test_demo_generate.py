import json
import time
from collections import Counter

from postmix.demo.generate import TASKS, write_demo_sources
from postmix.ingest.params import IngestParams
from postmix.ingest.parse import parse_split
from postmix.ingest.splits import plan_splits


def _parse(specs):
    params = IngestParams()
    splits = plan_splits(specs, params)
    return splits, [row for split in splits for row in parse_split(split, params)]


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    first = write_demo_sources(tmp_path / "a", seed=0)
    second = write_demo_sources(tmp_path / "b", seed=0)
    other = write_demo_sources(tmp_path / "c", seed=1)
    for x, y, z in zip(first, second, other):
        data = open(x.path, "rb").read()
        assert data == open(y.path, "rb").read(), x.path
        assert data != open(z.path, "rb").read(), x.path


def test_demo_covers_formats_containers_duplicates_and_rejects(tmp_path):
    start = time.perf_counter()
    specs = write_demo_sources(tmp_path)
    assert time.perf_counter() - start < 5
    splits, rows = _parse(specs)
    assert {s.format for s in splits} == {"chat", "sharegpt", "alpaca", "dolly", "pairs"}
    assert {s.container for s in splits} == {"jsonl", "json_array", "jsonl_gz", "parquet"}
    samples = [r for r in rows if r["kind"] == "sample"]
    rejects = [r for r in rows if r["kind"] == "reject"]
    assert 2_800 <= len(samples) <= 3_500
    assert 0.02 <= len(rejects) / len(rows) <= 0.05
    assert len({r["reason"] for r in rejects}) >= 12
    # exact duplicates within a source and across sources
    sources_by_id = {}
    for r in samples:
        sources_by_id.setdefault(r["sample_id"], []).append(r["source"])
    assert any(len(set(s)) > 1 for s in sources_by_id.values())
    assert any(len(s) > len(set(s)) for s in sources_by_id.values())
    assert any(r["n_turns"] > 1 for r in samples) and any(r["has_system"] for r in samples)


def test_every_task_type_appears_with_varied_text(tmp_path):
    _, rows = _parse(write_demo_sources(tmp_path))
    tasks = Counter()
    for r in rows:
        if r["kind"] == "sample" and '"task"' in r["meta"]:
            tasks[json.loads(r["meta"])["task"]] += 1
    assert set(tasks) == set(TASKS) and min(tasks.values()) > 50
    prompts = {next(m["content"] for m in r["messages"] if m["role"] == "user") for r in rows if r["kind"] == "sample"}
    assert len(prompts) > 1_800  # not one sentence repeated
    assert any("```python" in r["messages"][-1]["content"] for r in rows if r["kind"] == "sample")
