"""Declared table schemas (postmix.schemas.declared) as Spark types."""

from __future__ import annotations

from pyspark.sql import types as T

from postmix.schemas.declared import DataType, TableSchema, load_schema

_PRIMITIVE = {
    "string": T.StringType(), "int": T.IntegerType(), "bigint": T.LongType(), "float": T.FloatType(),
    "double": T.DoubleType(), "boolean": T.BooleanType(), "timestamp": T.TimestampType(),
}


def to_spark_type(dtype: DataType) -> T.DataType:
    if dtype.kind in _PRIMITIVE:
        return _PRIMITIVE[dtype.kind]
    if dtype.kind == "array":
        return T.ArrayType(to_spark_type(dtype.children[0]), containsNull=True)
    if dtype.kind == "map":
        return T.MapType(to_spark_type(dtype.children[0]), to_spark_type(dtype.children[1]), valueContainsNull=True)
    return T.StructType([T.StructField(n, to_spark_type(t), True) for n, t in dtype.children])


def spark_schema(table: str | TableSchema) -> T.StructType:
    schema = load_schema(table) if isinstance(table, str) else table
    return T.StructType([T.StructField(c.name, to_spark_type(c.type), c.nullable) for c in schema.columns])
