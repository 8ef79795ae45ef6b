"""Tables: their declared schemas (schemas/*.json), locations, and the Delta reads and writes of every stage."""
