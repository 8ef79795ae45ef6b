import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from postmix.errors import ConfigError, InputError, StorageError
from postmix.export import ExportParams, atomic_path, canonical_messages, export_mixture, to_alpaca, to_sharegpt

SYSTEM_MULTI_TURN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]


def mixture_rows() -> pd.DataFrame:
    """Rows as the mixtures table reads into pandas: messages and sources as numpy arrays of dicts."""
    return pd.DataFrame({
        "sample_id": ["b2", "a1", "c3"],
        "messages": [np.array(SYSTEM_MULTI_TURN, dtype=object),
                     np.array([{"role": "user", "content": "Ünïcode ✓"}, {"role": "assistant", "content": "ok"}],
                              dtype=object),
                     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]],
        "source": ["dolly", "oasst", "alpaca"],
        "rank": np.array([2, 1, 3], dtype=np.int64),
        "quality": [0.5, float("nan"), 0.25],
        "sources": [np.array([{"source": "dolly", "source_id": "7"}], dtype=object), [], []],
    })


def test_sharegpt_moves_the_system_turn_out_and_renames_roles():
    assert to_sharegpt(SYSTEM_MULTI_TURN) == {
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."},
                          {"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}],
        "system": "Be brief."}


def test_alpaca_takes_the_last_exchange_and_keeps_earlier_ones_as_history():
    assert to_alpaca(SYSTEM_MULTI_TURN) == {"instruction": "2+2?", "input": "", "output": "4",
                                            "system": "Be brief.", "history": [["Hi", "Hello."]]}
    assert to_alpaca(SYSTEM_MULTI_TURN[1:3])["system"] == ""


@pytest.mark.parametrize("roles", [["user"], ["assistant", "user"], ["user", "user", "assistant"],
                                   ["user", "assistant", "system", "user", "assistant"], []])
def test_conversations_that_break_the_canonical_shape_are_refused(roles):
    with pytest.raises(InputError, match="sample x1"):
        canonical_messages([{"role": r, "content": "t"} for r in roles], "x1")


def test_jsonl_messages_in_rank_order_with_every_extra_column(tmp_path):
    summary = export_mixture(mixture_rows(), tmp_path / "out" / "mix.jsonl", ExportParams())
    lines = (tmp_path / "out" / "mix.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["sample_id"] for r in records] == ["a1", "b2", "c3"] and summary.rows == 3
    assert list(records[1]) == ["messages", "sample_id", "source", "rank", "quality", "sources"]
    assert records[1]["messages"] == SYSTEM_MULTI_TURN
    assert records[0]["quality"] is None  # NaN is written as null, never as invalid JSON
    assert records[1]["sources"] == [{"source": "dolly", "source_id": "7"}]
    assert "Ünïcode ✓" in lines[0]  # UTF-8, not \u escapes


def test_same_rows_give_the_same_bytes_whatever_their_input_order(tmp_path):
    rows = mixture_rows()
    for fmt in ("jsonl", "parquet"):
        params = ExportParams(format=fmt, style="alpaca", order="sample_id")
        export_mixture(rows, tmp_path / f"a.{fmt}", params)
        export_mixture(rows.iloc[::-1], tmp_path / f"b.{fmt}", params)
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()


def test_parquet_sharegpt_has_typed_style_columns_and_chosen_extras(tmp_path):
    params = ExportParams(format="parquet", style="sharegpt", extra_columns=("source",))
    export_mixture(mixture_rows(), tmp_path / "mix.parquet", params)
    table = pq.read_table(tmp_path / "mix.parquet")
    assert table.column_names == ["conversations", "system", "sample_id", "source"]
    turn = pa.struct([("from", pa.string()), ("value", pa.string())])
    assert table.schema.field("conversations").type.value_type == turn
    rows = table.to_pylist()
    assert rows[1]["system"] == "Be brief." and rows[0]["system"] == ""
    assert rows[1]["conversations"][0] == {"from": "human", "value": "Hi"}


def test_parquet_alpaca_history_is_a_list_of_pairs(tmp_path):
    export_mixture(mixture_rows(), tmp_path / "a.parquet", ExportParams(format="parquet", style="alpaca"))
    rows = pq.read_table(tmp_path / "a.parquet").to_pylist()
    assert rows[1]["history"] == [["Hi", "Hello."]] and rows[0]["history"] == []


def test_user_errors_name_the_problem(tmp_path):
    rows = mixture_rows()
    with pytest.raises(InputError, match="messages"):
        export_mixture(rows.drop(columns=["messages"]), tmp_path / "x.jsonl", ExportParams())
    with pytest.raises(InputError, match="rank column"):
        export_mixture(rows.drop(columns=["rank"]), tmp_path / "x.jsonl", ExportParams())
    with pytest.raises(InputError, match="twice"):
        export_mixture(pd.concat([rows, rows.iloc[:1]]), tmp_path / "x.jsonl", ExportParams())
    with pytest.raises(ConfigError, match="nope"):
        export_mixture(rows, tmp_path / "x.jsonl", ExportParams(extra_columns=("nope",)))
    with pytest.raises(ConfigError, match="clash"):
        export_mixture(rows.assign(system="s"), tmp_path / "x.jsonl", ExportParams(style="alpaca"))
    with pytest.raises(ConfigError):
        ExportParams(style="openai")
    with pytest.raises(StorageError, match="folder"):
        export_mixture(rows, tmp_path, ExportParams())
    assert not (tmp_path / "x.jsonl").exists()


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "mix.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.jsonl"]
