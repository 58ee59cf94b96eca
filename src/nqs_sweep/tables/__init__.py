"""Tables: coordinates and provenance columns, atomic Parquet writes, aggregation."""
