"""Hosts outside the cluster: containers the suite starts on the kind network.

They serve TCP and UDP like the probe pods (agnhost serve-hostname) and can probe pods:
each gets a host route to every pod it talks to, via the node that runs the pod, so
traffic from outside enters the cluster the way it would from a neighbouring machine.
Only kind targets have them; nothing here touches any other network.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from npconform import NAME
from npconform.airgap.registry import NETWORK
from npconform.cluster.workload import serve_all_command
from npconform.proc import CommandError, run

LABEL = f"{NAME}.io/run"
#: Reads "<pod IP>/32 <node IP>" lines and adds each route; the first failure ends it.
ROUTE_LOOP = 'while read -r dst via; do ip route replace "$dst" via "$via" || exit 1; done'


@dataclass
class ExternalHost:
    name: str  # logical, e.g. "one"
    container: str
    ip: str

    def route(self, routes: Sequence[tuple[str, str]]) -> None:
        """A host route to each ``(pod IP, node IP)`` via its node, in one exec (a shell
        loop, so that busybox's ``ip`` does as well as iproute2's); the first that fails
        stops it with an error."""
        if routes:
            run(
                ["docker", "exec", "-i", self.container, "sh", "-c", ROUTE_LOOP],
                input="".join(f"{ip}/32 {node}\n" for ip, node in routes),
            )


def start(run_id: str, owner: str, name: str, image: str, ports: tuple[int, ...]) -> ExternalHost:
    """Start host ``name`` for ``owner`` (an xdist worker: each has its own hosts)."""
    container = f"{NAME}-{run_id}-{owner}-ext-{name}"
    subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    try:
        run(
            [
                "docker", "run", "-d", "--name", container, "--network", NETWORK,
                "--cap-add", "NET_ADMIN", "--label", f"{LABEL}={run_id}",
                "--entrypoint", "sh", image, "-c", serve_all_command(ports),
            ]
        )  # fmt: skip
        ip = run(
            [
                "docker",
                "inspect",
                "-f",
                f"{{{{.NetworkSettings.Networks.{NETWORK}.IPAddress}}}}",
                container,
            ]
        ).strip()
    except CommandError:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        raise
    return ExternalHost(name, container, ip)


def network_cidr() -> str:
    out = run(
        ["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", NETWORK]
    )
    v4 = [c for c in out.split() if ":" not in c]
    return v4[0]


def stop(hosts: list[ExternalHost]) -> None:
    if hosts:
        subprocess.run(
            ["docker", "rm", "-f", *[h.container for h in hosts]], capture_output=True, check=False
        )


def stop_all(run_id: str | None = None) -> None:
    """Remove the hosts of one run (or of every run): for cleanup of leftovers."""
    sel = f"label={LABEL}={run_id}" if run_id else f"label={LABEL}"
    ids = run(["docker", "ps", "-aq", "--filter", sel], check=False).split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)
