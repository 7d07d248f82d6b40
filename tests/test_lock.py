"""The lock file is the one place for upstream versions; everything else agrees with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from npconform.airgap import recipes
from npconform.lock import LockError, load, split_image

ROOT = Path(__file__).resolve().parents[1]


def test_lock_loads_and_names_every_component() -> None:
    lock = load()
    for key in (
        "kind",
        "kubernetes",
        "etcd",
        "coredns",
        "containerd",
        "runc",
        "cri-tools",
        "cni-plugins",
        "calico",
        "gatekeeper",
        "registry",
        "kube-router",
    ):
        assert lock.module(key).version.startswith("v")
    assert lock.kubernetes_version == lock.image("kube-apiserver").rsplit(":", 1)[1]
    assert lock.image("node").endswith(lock.kubernetes_version)


def test_constraints_txt_matches_the_lock() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name] = version
    assert pins == load().python_pins


def test_every_image_a_recipe_builds_is_in_the_lock() -> None:
    lock = load()
    assert recipes.problems(lock) == []
    for key in recipes.served(lock, second_cni=True):
        assert lock.image(key)


def test_third_party_manifests_are_pinned_by_checksum() -> None:
    for m in load().manifests.values():
        assert len(m.sha256) == 64
        assert m.module in load().modules


def test_missing_lock_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="not found"):
        load(tmp_path / "nope.toml")


def test_broken_lock_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[modules.kind]\npath = 'sigs.k8s.io/kind'\n")
    with pytest.raises(LockError, match="lacks version"):
        load(p)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("quay.io/calico/node:v3.31.0", ("quay.io", "calico/node", "v3.31.0")),
        ("registry:3.0.0", ("docker.io", "library/registry", "3.0.0")),
        (
            "openpolicyagent/gatekeeper:v3.23.1",
            ("docker.io", "openpolicyagent/gatekeeper", "v3.23.1"),
        ),
        (
            "registry.k8s.io/coredns/coredns:v1.14.6",
            ("registry.k8s.io", "coredns/coredns", "v1.14.6"),
        ),
        ("localhost:5001/x/y:1", ("localhost:5001", "x/y", "1")),
    ],
)
def test_split_image(ref: str, expected: tuple[str, str, str]) -> None:
    assert split_image(ref) == expected


def test_tox_uses_the_pinned_actionlint() -> None:
    pin = load().raw["tools"]["actionlint"]
    assert pin in (ROOT / "tox.ini").read_text()
