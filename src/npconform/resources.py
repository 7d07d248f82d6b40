"""The project's own files, shipped as package data (``npconform/data``; the checkout's
``manifests`` and ``versions.toml`` are links to them): the manifests and the pins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"
MANIFESTS = DATA / "manifests"
VERSIONS = DATA / "versions.toml"


def own_manifest(name: str) -> list[dict[str, Any]]:
    """The documents of one of this project's manifests (``manifests/<name>``)."""
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
