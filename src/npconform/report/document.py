"""The results document as bytes: its canonical text and digests (no rendering, no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def dumps_results(results: Mapping[str, Any]) -> str:
    """``results.json`` text: indented, keys sorted, UTF-8, newline-terminated."""
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def results_digest(results: Mapping[str, Any]) -> str:
    """sha256 of the ``results.json`` bytes for ``results`` (as written by the bundle)."""
    return hashlib.sha256(dumps_results(results).encode("utf-8")).hexdigest()


def fingerprint(env: Mapping[str, Any]) -> str:
    """A short, stable digest of the cluster under test (versions, constraint, nodes)."""
    keys = ("target", "kubernetes", "cni", "gatekeeper", "constraint", "nodes", "images")
    doc = {k: env.get(k) for k in keys}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:12]
