"""Installing the platform: CNI, Gatekeeper, and the require-networkpolicy safeguard.

Every installer looks first at what is already there and is idempotent (server-side
apply). Readiness waits are bounded and show pods, events and logs when they time out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.lock import Lock
from npconform.platform import kube, manifests
from npconform.platform.kube import WaitTimeout

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
GK_NS = "gatekeeper-system"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
CONSTRAINT_KIND = "K8sRequireNetworkPolicy"
CONSTRAINT_PLURAL = "k8srequirenetworkpolicy"
AUDIT_INTERVAL = 10


@dataclass
class InstallReport:
    """What was installed or found, with timings (seconds)."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, action: str, t0: float, detail: str = "") -> None:
        self.steps.append(
            {"step": name, "action": action, "seconds": kube.elapsed(t0), "detail": detail}
        )


def own_manifest(name: str) -> list[dict[str, Any]]:
    return kube.load_documents((MANIFESTS / name).read_text())


# ---------------------------------------------------------------------------------------
# CNI
# ---------------------------------------------------------------------------------------


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


def set_failure_policy(clients: Clients, policy: str) -> None:
    adm = client.AdmissionregistrationV1Api(clients.api())
    name = "gatekeeper-validating-webhook-configuration"
    patch = [
        {"op": "replace", "path": f"/webhooks/{i}/failurePolicy", "value": policy}
        for i, w in enumerate(adm.read_validating_webhook_configuration(name).webhooks or [])
        if w.name == "validation.gatekeeper.sh"
    ]
    if patch:
        adm.patch_validating_webhook_configuration(name, patch)


def gatekeeper_version(clients: Clients) -> str | None:
    try:
        dep = clients.apps().read_namespaced_deployment("gatekeeper-controller-manager", GK_NS)
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    image = dep.spec.template.spec.containers[0].image
    return str(image).rsplit(":", 1)[-1]


def _tune(docs: list[dict[str, Any]]) -> None:
    """The audit runs every AUDIT_INTERVAL seconds instead of 60, so dryrun checks are
    quick."""
    for d in docs:
        if d.get("kind") == "Deployment" and d["metadata"]["name"] == "gatekeeper-audit":
            c = d["spec"]["template"]["spec"]["containers"][0]
            c["args"] = [a for a in c.get("args", []) if not a.startswith("--audit-interval")]
            c["args"].append(f"--audit-interval={AUDIT_INTERVAL}")


def install_gatekeeper(
    clients: Clients, lock: Lock, cache: Path, offline: bool, rep: InstallReport
) -> None:
    t0 = time.monotonic()
    found = gatekeeper_version(clients)
    if found:
        rep.add("gatekeeper", "found", t0, f"gatekeeper {found} already installed")
    else:
        docs = kube.load_documents(manifests.fetch(lock, "gatekeeper", cache, offline))
        _tune(docs)
        kube.apply(clients, docs)
        rep.add("gatekeeper-apply", "installed", t0, lock.image("gatekeeper"))
    t1 = time.monotonic()
    kube.wait_pods_ready(clients, GK_NS, "control-plane=controller-manager", timeout=300)
    kube.wait_pods_ready(clients, GK_NS, "control-plane=audit-controller", timeout=300)
    # As on Compliant Kubernetes, the webhook fails closed (upstream installs it with
    # Ignore, which admits everything while Gatekeeper is down). Only now: while no
    # Gatekeeper pod runs, a closed webhook would refuse the CNI's own IPAM writes.
    set_failure_policy(clients, "Fail")
    rep.add(
        "gatekeeper-ready", "ready", t1, "controller-manager and audit Ready, webhook fails closed"
    )


# ---------------------------------------------------------------------------------------
# The safeguard: sync config, template, constraint
# ---------------------------------------------------------------------------------------


def webhook_pods(clients: Clients) -> list[str]:
    pods = (
        clients.core()
        .list_namespaced_pod(GK_NS, label_selector="control-plane=controller-manager")
        .items
    )
    return [p.metadata.name for p in pods if p.metadata.deletion_timestamp is None]


def template_ready(clients: Clients, name: str = CONSTRAINT_PLURAL) -> bool:
    try:
        t = clients.custom().get_cluster_custom_object(
            "templates.gatekeeper.sh", "v1", "constrainttemplates", name
        )
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    st = t.get("status", {})
    if not st.get("created"):
        return False
    by_pod = st.get("byPod", [])
    gen = t["metadata"].get("generation")
    ok = {p["id"] for p in by_pod if p.get("observedGeneration") == gen and not p.get("errors")}
    return set(webhook_pods(clients)) <= ok


def constraint_enforced(clients: Clients, name: str) -> bool:
    """Every webhook pod reports the constraint's current generation as enforced."""
    try:
        c = clients.custom().get_cluster_custom_object(
            CONSTRAINT_GROUP, "v1beta1", CONSTRAINT_PLURAL, name
        )
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    gen = c["metadata"].get("generation")
    by_pod = c.get("status", {}).get("byPod", [])
    ok = {
        p["id"]
        for p in by_pod
        if p.get("observedGeneration") == gen
        and p.get("enforced")
        and "webhook" in p.get("operations", ["webhook"])
    }
    return bool(webhook_pods(clients)) and set(webhook_pods(clients)) <= ok


def install_safeguard(clients: Clients, rep: InstallReport, enforcement: str = "deny") -> None:
    t0 = time.monotonic()
    kube.apply(clients, own_manifest("gatekeeper/sync-config.yaml"))
    kube.apply(clients, own_manifest("gatekeeper/template.yaml"))
    kube.wait_until(
        "ConstraintTemplate k8srequirenetworkpolicy to be created on every Gatekeeper pod",
        lambda: template_ready(clients),
        timeout=180,
        diagnose=lambda: kube.diagnose_pods(clients, GK_NS),
    )
    constraint = own_manifest("gatekeeper/constraint.yaml")
    for c in constraint:
        c["spec"]["enforcementAction"] = enforcement
    kube.apply(clients, constraint)
    name = constraint[0]["metadata"]["name"]
    kube.wait_until(
        f"constraint {name} to be enforced by every Gatekeeper webhook pod",
        lambda: constraint_enforced(clients, name),
        timeout=180,
        diagnose=lambda: kube.diagnose_pods(clients, GK_NS),
    )
    rep.add("safeguard", "installed", t0, f"{CONSTRAINT_KIND}/{name} ({enforcement})")
