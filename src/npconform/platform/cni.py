"""Installing and recognising the CNI: Calico, or kube-router for the fault runs.

Every installer looks first at what is already there and is idempotent (server-side
apply). Readiness waits are bounded and show pods, events and logs when they time out.
"""

from __future__ import annotations

import time
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from npconform.airgap import manifests
from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.cluster.kube import InstallReport, WaitTimeout
from npconform.lock import Lock
from npconform.resources import MANIFESTS


def detect_cni(clients: Clients) -> str | None:
    apps = clients.apps()
    for ns in ("kube-system", "calico-system"):
        try:
            for ds in apps.list_namespaced_daemon_set(ns).items:
                name = ds.metadata.name
                if name == "calico-node":
                    return "calico"
                if name in ("cilium", "kube-router", "kindnet", "antrea-agent", "kube-flannel-ds"):
                    return str(
                        {"kube-flannel-ds": "flannel", "antrea-agent": "antrea"}.get(name, name)
                    )
        except ApiException:
            continue
    return None


def install_calico(
    clients: Clients, lock: Lock, cache: Path, offline: bool, rep: InstallReport
) -> None:
    t0 = time.monotonic()
    found = detect_cni(clients)
    if found == "calico":
        rep.add("cni", "found", t0, "calico already installed")
    elif found is not None:
        raise WaitTimeout(
            f"the cluster already runs CNI '{found}'; cannot install calico beside it"
        )
    else:
        docs = kube.load_documents(manifests.fetch(lock, "calico", cache, offline))
        kube.apply(clients, docs)
        rep.add("cni-apply", "installed", t0, lock.image("calico-node"))
    t1 = time.monotonic()
    kube.wait_pods_ready(clients, "kube-system", "k8s-app=calico-node", timeout=300)
    kube.wait_pods_ready(clients, "kube-system", "k8s-app=calico-kube-controllers", timeout=180)
    kube.wait_pods_ready(clients, "kube-system", "k8s-app=kube-dns", timeout=180)
    rep.add("cni-ready", "ready", t1, "calico-node, calico-kube-controllers, coredns Ready")


def install_kube_router(clients: Clients, lock: Lock, firewall: bool, rep: InstallReport) -> None:
    """kube-router as the CNI (routing), with its NetworkPolicy firewall unless disabled."""
    t0 = time.monotonic()
    found = detect_cni(clients)
    if found == "kube-router":
        rep.add("cni", "found", t0, "kube-router already installed")
    elif found is not None:
        raise WaitTimeout(f"the cluster already runs CNI '{found}'; cannot install kube-router")
    else:
        text = (MANIFESTS / "cni" / "kube-router.yaml").read_text()
        text = text.replace("image: IMAGE", f"image: {lock.image('kube-router')}")
        text = text.replace("--run-firewall=FIREWALL", f"--run-firewall={str(firewall).lower()}")
        kube.apply(clients, kube.load_documents(text))
        rep.add("cni-apply", "installed", t0, f"{lock.image('kube-router')} firewall={firewall}")
    t1 = time.monotonic()
    kube.wait_pods_ready(clients, "kube-system", "k8s-app=kube-router", timeout=300)
    kube.wait_pods_ready(clients, "kube-system", "k8s-app=kube-dns", timeout=180)
    rep.add("cni-ready", "ready", t1, "kube-router, coredns Ready")


def kube_router_firewall(clients: Clients) -> bool | None:
    """Whether the cluster's kube-router enforces NetworkPolicies (None: no kube-router)."""
    try:
        ds = clients.apps().read_namespaced_daemon_set("kube-router", "kube-system")
    except ApiException:
        return None
    args = [a for c in ds.spec.template.spec.containers for a in (c.args or [])]
    return "--run-firewall=true" in args or "--run-firewall" in args


# ---------------------------------------------------------------------------------------
# Gatekeeper
# ---------------------------------------------------------------------------------------
