"""JSON Schemas of the documents npconform writes (read with importlib.resources)."""
