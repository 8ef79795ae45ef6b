"""Where tables live. In local mode (and on any filesystem) every table is a path-based Delta table
at <warehouse>/<table>."""

from __future__ import annotations

from postmix.schemas.declared import load_schema


def table_path(warehouse: str, table: str) -> str:
    load_schema(table)  # an undeclared table name is a bug: fail here, not at write time
    return warehouse.rstrip("/") + "/" + table


# The stage that writes each table: what to run when a table is missing or damaged.
WRITERS = {"samples": "ingest", "rejects": "ingest", "annotations": "annotate", "embeddings": "embed",
           "semantic_labels": "semantic", "label_graph": "semantic", "sample_labels": "semantic",
           "near_duplicates": "semantic", "selections": "select", "mixtures": "mixture",
           "mixture_metrics": "mixture", "runs": "ingest"}


def writer_of(table: str) -> str:
    return WRITERS.get(table, "the stage that writes it")
