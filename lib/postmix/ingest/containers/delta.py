"""Existing Delta tables as sources. Spark reads their rows (the lead's job) and hands them to
parse.parse_records; here we only recognise a table and read its column names from the transaction log."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from postmix.ingest import fs

LOG_DIR = "_delta_log"


def is_delta_table(path: str) -> bool:
    import pyarrow.fs as pafs

    return fs.info(f"{path.rstrip('/')}/{LOG_DIR}").type == pafs.FileType.Directory


def column_names(path: str) -> list[str]:
    """Top-level column names from the newest metaData action (JSON commits, else the newest checkpoint)."""
    entries = [e for e in fs.list_files(f"{path.rstrip('/')}/{LOG_DIR}") if e.is_file]
    commits = sorted(e.path for e in entries if e.path.endswith(".json"))
    for commit in reversed(commits):
        for line in b"".join(fs.read_chunks(fs.join_like(path, commit))).decode("utf-8").splitlines():
            action = json.loads(line) if line.strip() else {}
            if "metaData" in action:
                return [f["name"] for f in json.loads(action["metaData"]["schemaString"])["fields"]]
    checkpoints = sorted(e.path for e in entries if e.path.endswith(".checkpoint.parquet"))
    for checkpoint in reversed(checkpoints):
        table = pq.read_table(fs.open_random_access(fs.join_like(path, checkpoint)), columns=["metaData"])
        for meta in table.column("metaData").to_pylist():
            if meta:
                return [f["name"] for f in json.loads(meta["schemaString"])["fields"]]
    raise ValueError(f"no metaData action in the Delta log of {path}")
