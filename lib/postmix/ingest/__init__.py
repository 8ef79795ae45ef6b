"""Engine-free ingest core: source expansion, split planning and parsing of source files into canonical rows.

Everything here is plain Python / pyarrow (no pyspark) so Spark executors can call it through mapInArrow and the
unit tests can run it without a Spark session.
"""
