"""Thin wrappers over the docker CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from npconform.proc import CommandError, run

KEY_LABEL = "io.npconform.build-key"


class DockerError(RuntimeError):
    pass


def require_engine() -> None:
    if shutil.which("docker") is None:
        raise DockerError("the docker CLI is not installed (run scripts/docker-up)")
    proc = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DockerError("the Docker engine is not running (start it with scripts/docker-up)")


def inspect(ref: str, kind: str = "image") -> dict[str, object] | None:
    proc = subprocess.run(
        ["docker", kind, "inspect", ref], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout)
    return data[0] if data else None


def image_key(ref: str) -> str | None:
    info = inspect(ref)
    if info is None:
        return None
    cfg = info.get("Config") or {}
    assert isinstance(cfg, dict)
    labels = cfg.get("Labels") or {}
    return str(labels.get(KEY_LABEL)) if KEY_LABEL in labels else None


def image_id(ref: str) -> str | None:
    info = inspect(ref)
    return None if info is None else str(info["Id"])


def build(
    context: Path,
    tags: Sequence[str],
    key: str,
    log: Path,
    labels: Mapping[str, str] | None = None,
) -> str:
    """``docker build`` the context; every tag is applied only once the build succeeded,
    so an interrupted build leaves no tag behind."""
    lab = {KEY_LABEL: key, **(labels or {})}
    iidfile = context / ".iid"
    iidfile.unlink(missing_ok=True)
    args = ["docker", "build", "--network", "none", "--iidfile", str(iidfile), "-q"]
    for k, v in lab.items():
        args += ["--label", f"{k}={v}"]
    try:
        run([*args, str(context)], log=log)
    except CommandError as e:
        raise DockerError(f"docker build of {tags[0]} failed: {e} (log: {log})") from None
    iid = iidfile.read_text().strip()
    for t in tags:
        run(["docker", "tag", iid, t], log=log)
    return iid


def import_tar(tar: Path, ref: str, log: Path) -> str:
    """``docker import`` a rootfs tarball."""
    out = run(["docker", "import", str(tar), ref], log=log)
    return out.strip().splitlines()[-1]
