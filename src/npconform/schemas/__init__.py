"""JSON Schemas of the documents npconform writes and reads (read with importlib.resources)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load(name: str) -> dict[str, Any]:
    """The schema file ``name`` of this package (a fresh copy each call)."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def document_order(error: Any) -> tuple[list[tuple[int, int, str]], str]:
    """A jsonschema error's sort key: by its place in the document (indices before keys,
    so a document whose keys are numbers and names still sorts), then its message."""
    return (
        [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path],
        error.message,
    )
