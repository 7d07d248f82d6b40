"""The local registry mirror: a registry container on the kind network.

Images are pushed under a path naming their upstream registry
(``localhost:5001/quay.io/calico/node:v3.31.0``); the node image's containerd has one
``hosts.toml`` per upstream registry pointing at that path, so upstream manifests pull
their images unchanged.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from npconform.airgap import docker
from npconform.lock import split_image
from npconform.proc import run

NAME = "npconform-registry"
NETWORK = "kind"
HOST_PORT = 5001
VOLUME = "npconform-registry-data"
MIRRORED = ("docker.io", "quay.io", "registry.k8s.io", "ghcr.io")
IN_NETWORK = f"http://{NAME}:5000"

_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def local_ref(ref: str) -> str:
    reg, repo, tag = split_image(ref)
    return f"localhost:{HOST_PORT}/{reg}/{repo}:{tag}"


def hosts_toml(upstream: str) -> str:
    server = "https://registry-1.docker.io" if upstream == "docker.io" else f"https://{upstream}"
    return (
        f'server = "{server}"\n\n'
        f'[host."{IN_NETWORK}/v2/{upstream}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
        "  override_path = true\n"
    )


def ensure_network(log: Path) -> None:
    if docker.inspect(NETWORK, "network") is None:
        # The options kind itself uses for its network, so kind adopts it unchanged.
        run(
            [
                "docker",
                "network",
                "create",
                "-d",
                "bridge",
                "-o",
                "com.docker.network.bridge.enable_ip_masquerade=true",
                "-o",
                "com.docker.network.driver.mtu=1500",
                NETWORK,
            ],
            log=log,
        )


def running_image() -> str | None:
    info = docker.inspect(NAME, "container")
    if info is None:
        return None
    state = info.get("State") or {}
    assert isinstance(state, dict)
    return str(info.get("Image")) if state.get("Running") else None


def _start(image_ref: str, log: Path) -> None:
    if docker.inspect(NAME, "container") is not None:
        run(["docker", "rm", "-f", NAME], log=log)
    run(
        [
            "docker",
            "run",
            "-d",
            "--restart=always",
            "--name",
            NAME,
            "--network",
            NETWORK,
            "-p",
            f"127.0.0.1:{HOST_PORT}:5000",
            "-v",
            f"{VOLUME}:/var/lib/registry",
            "--label",
            "io.npconform.component=registry",
            image_ref,
        ],
        log=log,
    )


def _answers_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _get("/v2/") is not None:
            return True
        time.sleep(0.5)
    return False


def ensure_running(image_ref: str, log: Path) -> None:
    """Start (or restart on a new image) the registry container; wait until it answers.

    A container left running by an earlier boot (``--restart=always``) can come back
    with its published port not forwarding; it is then recreated once.
    """
    ensure_network(log)
    want = docker.image_id(image_ref)
    if want is None:
        raise docker.DockerError(f"registry image {image_ref} is not built")
    if running_image() == want:
        if _answers_within(10):
            return
        log_line = (
            f"registry: {NAME} runs but 127.0.0.1:{HOST_PORT} does not answer; recreating it\n"
        )
        with log.open("a") as fh:
            fh.write(log_line)
    _start(image_ref, log)
    if _answers_within(30):
        return
    tail = run(["docker", "logs", "--tail", "5", NAME], check=False)
    port = run(["docker", "port", NAME], check=False).strip() or "no published port"
    raise docker.DockerError(
        f"the local registry did not answer on 127.0.0.1:{HOST_PORT} (docker port: {port}): "
        f"{tail[-300:]}"
    )


def _get(path: str, method: str = "GET") -> Any:
    req = urllib.request.Request(
        f"http://127.0.0.1:{HOST_PORT}{path}", method=method, headers={"Accept": _ACCEPT}
    )
    try:
        return urllib.request.urlopen(req, timeout=5)
    except (urllib.error.URLError, OSError):
        return None


def remote_digest(ref: str) -> str | None:
    reg, repo, tag = split_image(ref)
    resp = _get(f"/v2/{reg}/{repo}/manifests/{tag}", method="HEAD")
    return None if resp is None else resp.headers.get("Docker-Content-Digest")


def is_pushed(ref: str) -> bool:
    """The registry serves ``ref`` and it is the image the local tag points at."""
    digest = remote_digest(ref)
    if digest is None:
        return False
    info = docker.inspect(local_ref(ref))
    if info is None or docker.image_id(ref) != info["Id"]:
        return False
    repo_digests = info.get("RepoDigests") or []
    assert isinstance(repo_digests, list)
    return any(str(d).endswith("@" + digest) for d in repo_digests)


def push(ref: str, log: Path) -> None:
    target = local_ref(ref)
    run(["docker", "tag", ref, target], log=log)
    run(["docker", "push", target], log=log)


def catalog() -> list[str]:
    resp = _get("/v2/_catalog?n=1000")
    if resp is None:
        return []
    return list(json.load(resp).get("repositories", []))


def missing(refs: list[str]) -> list[str]:
    """Which of ``refs`` the running registry does not serve."""
    if running_image() is None:
        return list(refs)
    return [r for r in refs if remote_digest(r) is None]


def stop() -> None:
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, check=False)
