"""Bad input: one clear line, a non-zero exit, and nothing created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from npconform.cluster.options import RunOptions, UsageError
from npconform.platform.capabilities import Capabilities
from npconform.session import Session

ROOT = Path(__file__).resolve().parents[1]


def run_suite(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-k",
            "zzz_nothing",
            "-p",
            "no:cacheprovider",
            "--report-dir",
            str(tmp_path / "reports"),
            "--cluster-name",
            "npconform-badinput",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [
        ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("ERROR: npconform:")
    ]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return lines[0]


def no_cluster_named(name: str) -> bool:
    out = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return not any(n.startswith(name) for n in out.stdout.split())


def test_unknown_cni(tmp_path: Path) -> None:
    p = run_suite(tmp_path, "--cni", "flannel")
    assert p.returncode == 4
    assert "unknown CNI 'flannel'" in error_line(p)


def test_bad_run_id(tmp_path: Path) -> None:
    p = run_suite(tmp_path, "--run-id", "BAD_ID")
    assert p.returncode == 4
    assert error_line(p) == (
        "ERROR: npconform: --run-id 'BAD_ID': must be 1-12 lowercase letters, digits or '-', "
        "starting and ending with a letter or digit"
    )
    assert no_cluster_named("npconform-badinput")
    assert not (tmp_path / "reports" / ".run" / "BAD_ID").exists()


def test_bad_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text("this: is: not: a kubeconfig")
    p = run_suite(tmp_path, "--target", "existing", "--kubeconfig", str(kc))
    assert p.returncode == 4
    assert "bad kubeconfig" in error_line(p)


def test_missing_kubeconfig(tmp_path: Path) -> None:
    p = run_suite(tmp_path, "--target", "existing", "--kubeconfig", str(tmp_path / "none"))
    assert p.returncode == 4
    assert "does not exist" in error_line(p)


def test_unreachable_api_server(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: "
        "{server: 'https://127.0.0.1:1', "
        "insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    p = run_suite(tmp_path, "--target", "existing", "--kubeconfig", str(kc))
    assert p.returncode == 4
    assert "unreachable" in error_line(p)


def test_docker_not_running(tmp_path: Path) -> None:
    p = run_suite(tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert p.returncode == 4
    assert "Docker engine is not running" in error_line(p)
    assert no_cluster_named("npconform-badinput")


def test_kind_missing(tmp_path: Path) -> None:
    env = {"NPCONFORM_CACHE": str(tmp_path / "empty-cache"), "PATH": "/usr/bin:/bin"}
    p = run_suite(tmp_path, env=env)
    assert p.returncode == 4
    assert "kind is not installed" in error_line(p)


def test_missing_image_offline(tmp_path: Path) -> None:
    p = run_suite(tmp_path, "--images", "offline", "--node-image", "kindest/node:v0.0.0-missing")
    assert p.returncode == 4
    line = error_line(p)
    assert "offline images missing: kindest/node:v0.0.0-missing" in line
    assert "scripts/build-images" in line
    assert no_cluster_named("npconform-badinput")


def test_cluster_without_gatekeeper_is_refused() -> None:
    s = Session(RunOptions(target="existing"), Path("/nonexistent"))
    with pytest.raises(UsageError, match="Gatekeeper is not installed"):
        s._require_platform(Capabilities())


def test_build_images_names_a_version_that_does_not_exist(tmp_path: Path) -> None:
    lock = (
        (ROOT / "versions.toml")
        .read_text()
        .replace('version = "v0.33.0"', 'version = "v0.0.99"', 1)
    )
    bad = tmp_path / "versions.toml"
    bad.write_text(lock)
    p = subprocess.run(
        [
            str(ROOT / "scripts" / "build-images"),
            "--lock",
            str(bad),
            "--cache",
            str(tmp_path / "cache"),
            "--only",
            "go:kind",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == 1
    assert "module sigs.k8s.io/kind has no version v0.0.99" in p.stderr
