"""Where tables live. In local mode (and on any filesystem) every table is a path-based Delta table
at <warehouse>/<table>."""

from __future__ import annotations

from postmix.storage.schema import load_schema


def table_path(warehouse: str, table: str) -> str:
    load_schema(table)  # an undeclared table name is a bug: fail here, not at write time
    return warehouse.rstrip("/") + "/" + table
