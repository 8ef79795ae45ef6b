"""Table schemas declared as data in schemas/*.json, parsed into engine-free types.

The JSON files are the single source of truth. Column types use Spark's DDL spelling (string, int, bigint, float,
double, boolean, timestamp, array<T>, struct<a:T,...>, map<K,V>); this module parses them into a small type tree
that converts to pyarrow here and to Spark types in postmix.storage.spark_schema.

It lives beside the JSON files, in the bottom layer, so that the engine-free cores (which may not import
`postmix.storage`) derive their Arrow schemas from the same declarations the Delta tables are created from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pyarrow as pa

from postmix.errors import SchemaError

PRIMITIVES = ("string", "int", "bigint", "float", "double", "boolean", "timestamp")


@dataclass(frozen=True)
class DataType:
    """A parsed column type: a primitive name, or array/struct/map with children."""

    kind: str  # one of PRIMITIVES, or "array", "struct", "map"
    children: tuple = ()  # array: (elem,), map: (key, value), struct: ((name, DataType), ...)

    def ddl(self) -> str:
        if self.kind == "array":
            return f"array<{self.children[0].ddl()}>"
        if self.kind == "map":
            return f"map<{self.children[0].ddl()},{self.children[1].ddl()}>"
        if self.kind == "struct":
            return "struct<" + ",".join(f"{n}:{t.ddl()}" for n, t in self.children) + ">"
        return self.kind


@dataclass(frozen=True)
class Column:
    name: str
    type: DataType
    nullable: bool
    description: str


@dataclass(frozen=True)
class TableSchema:
    table: str
    description: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(f"table {self.table!r} has no column {name!r}")


def parse_type(text: str) -> DataType:
    """Parse a DDL type string such as 'array<struct<role:string,content:string>>'."""
    parsed, rest = _parse(text.replace(" ", ""))
    if rest:
        raise SchemaError(f"trailing characters {rest!r} in type {text!r}")
    return parsed


def _parse(text: str) -> tuple[DataType, str]:
    for kind in ("array<", "map<", "struct<"):
        if text.startswith(kind):
            return _parse_nested(kind[:-1], text[len(kind):])
    for name in sorted(PRIMITIVES, key=len, reverse=True):
        if text.startswith(name):
            return DataType(name), text[len(name):]
    raise SchemaError(f"unknown type at {text!r}")


def _parse_nested(kind: str, text: str) -> tuple[DataType, str]:
    if kind == "array":
        elem, rest = _parse(text)
        return DataType("array", (elem,)), _expect(rest, ">")
    if kind == "map":
        key, rest = _parse(text)
        value, rest = _parse(_expect(rest, ","))
        return DataType("map", (key, value)), _expect(rest, ">")
    fields = []
    rest = text
    while True:
        name, _, rest = rest.partition(":")
        field_type, rest = _parse(rest)
        fields.append((name, field_type))
        if rest.startswith(","):
            rest = rest[1:]
            continue
        return DataType("struct", tuple(fields)), _expect(rest, ">")


def _expect(text: str, token: str) -> str:
    if not text.startswith(token):
        raise SchemaError(f"expected {token!r} at {text!r}")
    return text[len(token):]


def to_arrow_type(dtype: DataType) -> pa.DataType:
    primitive = {
        "string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "float": pa.float32(),
        "double": pa.float64(), "boolean": pa.bool_(), "timestamp": pa.timestamp("us", tz="UTC"),
    }
    if dtype.kind in primitive:
        return primitive[dtype.kind]
    if dtype.kind == "array":
        return pa.list_(to_arrow_type(dtype.children[0]))
    if dtype.kind == "map":
        return pa.map_(to_arrow_type(dtype.children[0]), to_arrow_type(dtype.children[1]))
    return pa.struct([pa.field(n, to_arrow_type(t)) for n, t in dtype.children])


def to_arrow_schema(schema: TableSchema) -> pa.Schema:
    return pa.schema([pa.field(c.name, to_arrow_type(c.type), nullable=c.nullable) for c in schema.columns])


def table_arrow_schema(table: str, without: tuple[str, ...] = ()) -> pa.Schema:
    """The declared table's columns as Arrow, in declared order, less `without` (columns a stage adds after the
    engine-free code produced the rest, such as run_id)."""
    schema = load_schema(table)
    unknown = sorted(set(without) - set(schema.names))
    if unknown:
        raise SchemaError(f"table {table!r} has no columns {unknown}")
    return pa.schema([field for field in to_arrow_schema(schema) if field.name not in without])


def _schema_dir():
    try:
        return resources.files(__package__)
    except (ModuleNotFoundError, TypeError):  # imported as a plain file, not as postmix.schemas.declared
        return Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def load_schema(table: str) -> TableSchema:
    """The declared schema of a table, by table name."""
    source = _schema_dir() / f"{table}.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaError(f"no schema declared for table {table!r} (expected schemas/{table}.json)") from exc
    columns = tuple(
        Column(c["name"], parse_type(c["type"]), bool(c.get("nullable", True)), c.get("description", ""))
        for c in data["columns"]
    )
    return TableSchema(data["table"], data.get("description", ""), tuple(data.get("keys", ())), columns)


def declared_tables() -> list[str]:
    return sorted(p.name[: -len(".json")] for p in _schema_dir().iterdir() if p.name.endswith(".json"))
