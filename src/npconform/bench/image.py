"""The suite image's build time: its own steps (the Python root filesystem, the wheels,
the image, its push) from nothing in npconform's cache, then again with everything
cached. Debian's packages are downloaded again; pip's own download cache is kept."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

from npconform.airgap import docker, recipes
from npconform.airgap.build import default_cache
from npconform.bench.measure import ROOT
from npconform.lock import load
from npconform.proc import run

STEPS = ("rootfs:python", "py:suite", "image:npconform", "push")


def _build() -> float:
    t0 = time.monotonic()
    subprocess.run([str(ROOT / "scripts" / "build-images")], cwd=ROOT, check=True)
    return round(time.monotonic() - t0, 1)


def _forget() -> None:
    """Remove what the suite image's steps built (not their dependencies)."""
    lock = load()
    cache = default_cache()
    g, _ = recipes.graph(lock, cache)
    run(["docker", "rmi", "-f", lock.image("npconform")], check=False)
    run(["docker", "rmi", "-f", recipes.rootfs_ref("python", g.key("rootfs:python"))], check=False)
    shutil.rmtree(cache / "py", ignore_errors=True)
    shutil.rmtree(cache / "debs" / "python", ignore_errors=True)


def suite_image() -> dict[str, Any]:
    _build()  # everything else cached first, so the cold figure is the suite image's own
    _forget()
    cold = _build()
    cached = _build()
    ref = load().image("npconform")
    info = docker.inspect(ref) or {}
    return {
        "ref": ref,
        "cold_seconds": cold,
        "cached_seconds": cached,
        "size_mib": round(float(str(info.get("Size") or 0)) / 2**20, 1),
        "steps": list(STEPS),
    }
