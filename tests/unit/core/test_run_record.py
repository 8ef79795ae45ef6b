"""The runs table row of a stage: maps are written in key order, so the same work writes the same bytes."""

import datetime as dt

from postmix.storage.runs import RunRecord


def record(counts: dict[str, int]) -> RunRecord:
    return RunRecord(run_id="r", stage="ingest", status="succeeded", attempt=1, params_fingerprint="p",
                     input_fingerprint="i", code_version="0", params="{}",
                     started_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                     input_versions={"samples": 3, "annotations": 1}, counts=counts)


def test_maps_are_written_in_key_order_whatever_the_insertion_order():
    one = record({"rejected.wrong_type": 14, "rejected.format_mismatch": 5, "rows_read": 100})
    two = record({"rows_read": 100, "rejected.format_mismatch": 5, "rejected.wrong_type": 14})
    assert list(one.as_row()["counts"].items()) == list(two.as_row()["counts"].items())
    assert list(one.as_row()["counts"]) == ["rejected.format_mismatch", "rejected.wrong_type", "rows_read"]
    assert list(one.as_row()["input_versions"]) == ["annotations", "samples"]


def test_as_row_leaves_the_record_itself_unchanged():
    one = record({"b": 1, "a": 2})
    one.as_row()
    assert list(one.counts) == ["b", "a"]
