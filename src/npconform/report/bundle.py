"""The evidence bundle: ``results.json``, ``report.html`` and ``SHA256SUMS`` in the report
directory, next to the ``junit.xml`` pytest writes.

The verdict is computed by :mod:`npconform.verdict.rules` from the rest of the document,
so a reader can recompute it from ``results.json`` alone. ``SHA256SUMS`` (the format of
``sha256sum -c``) lists every file of the bundle, so a later reader can tell whether any
was edited.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npconform.report.document import dumps_results
from npconform.report.html import render_html
from npconform.verdict.rules import finalize

MANIFEST = "SHA256SUMS"
BUNDLE_FILES = ("results.json", "report.html", "junit.xml")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(report_dir: Path) -> Path:
    """``SHA256SUMS`` over the bundle's files that exist."""
    lines = [
        f"{file_digest(report_dir / name)}  {name}"
        for name in BUNDLE_FILES
        if (report_dir / name).is_file()
    ]
    path = report_dir / MANIFEST
    _write_atomic(path, "\n".join(lines) + "\n")
    return path


def verify_manifest(report_dir: Path) -> list[str]:
    """The bundle's files whose sha256 no longer matches ``SHA256SUMS`` (or are gone)."""
    bad = []
    for line in (report_dir / MANIFEST).read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split(None, 1)
        p = report_dir / name.strip()
        if not p.is_file() or file_digest(p) != digest:
            bad.append(name.strip())
    return bad


def write_bundle(results: Mapping[str, Any], report_dir: Path) -> dict[str, Path]:
    """Write ``results.json`` and ``report.html`` (from the finalized results), each
    atomically, then ``SHA256SUMS``; return their paths by name."""
    report_dir.mkdir(parents=True, exist_ok=True)
    final = finalize(results)
    paths = {"results.json": report_dir / "results.json", "report.html": report_dir / "report.html"}
    _write_atomic(paths["results.json"], dumps_results(final))
    _write_atomic(paths["report.html"], render_html(final))
    paths[MANIFEST] = write_manifest(report_dir)
    return paths
