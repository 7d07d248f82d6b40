"""The lock file (versions.toml): every upstream version npconform uses."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from npconform.resources import VERSIONS

DEFAULT_LOCK = VERSIONS


class LockError(ValueError):
    pass


@dataclass(frozen=True)
class Module:
    key: str
    path: str
    version: str
    local_replaces: str | dict[str, str] | None = None
    sum: str | None = None
    release: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.path}@{self.version}"

    @property
    def display_version(self) -> str:
        return self.release or self.version


@dataclass(frozen=True)
class Manifest:
    key: str
    module: str
    file: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Lock:
    path: Path
    raw: dict[str, Any]
    modules: dict[str, Module] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, Manifest] = field(default_factory=dict)

    def module(self, key: str) -> Module:
        try:
            return self.modules[key]
        except KeyError:
            raise LockError(f"{self.path}: no [modules.{key}]") from None

    def image(self, key: str) -> str:
        try:
            return self.images[key]
        except KeyError:
            raise LockError(f"{self.path}: no image '{key}' in [images]") from None

    @property
    def kubernetes_version(self) -> str:
        return self.module("kubernetes").version

    @property
    def debian_suite(self) -> str:
        return str(self.raw["debian"]["suite"])

    @property
    def debian_mirror(self) -> str:
        return str(self.raw["debian"]["mirror"])

    @property
    def python_pins(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.raw.get("python", {}).items()}


def load(path: Path | None = None) -> Lock:
    p = path or Path(os.environ.get("NPCONFORM_LOCK", DEFAULT_LOCK))
    return _load(p.resolve())


@cache
def _load(path: Path) -> Lock:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LockError(f"lock file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise LockError(f"lock file {path}: {e}") from None
    modules = {}
    for key, m in raw.get("modules", {}).items():
        try:
            modules[key] = Module(
                key=key,
                path=m["path"],
                version=m["version"],
                local_replaces=m.get("local_replaces"),
                sum=m.get("sum"),
                release=m.get("release"),
            )
        except KeyError as e:
            raise LockError(f"{path}: [modules.{key}] lacks {e.args[0]}") from None
    manifests = {
        key: Manifest(key=key, module=v["module"], file=v["file"], url=v["url"], sha256=v["sha256"])
        for key, v in raw.get("manifests", {}).items()
    }
    images = {str(k): str(v) for k, v in raw.get("images", {}).items()}
    return Lock(path=path, raw=raw, modules=modules, images=images, manifests=manifests)


def split_image(ref: str) -> tuple[str, str, str]:
    """``quay.io/calico/node:v3`` -> ("quay.io", "calico/node", "v3"); Docker Hub names
    are normalised (``registry:3`` -> ("docker.io", "library/registry", "3"))."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        name, tag = ref, "latest"
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repo = first, rest
    else:
        registry, repo = "docker.io", name
    if registry == "docker.io" and "/" not in repo:
        repo = f"library/{repo}"
    return registry, repo, tag
