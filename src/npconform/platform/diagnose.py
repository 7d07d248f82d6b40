"""When traffic disagrees with the policies: what on the cluster could explain it."""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.platform import kube
from npconform.platform.install import detect_cni, kube_router_firewall


def _calico_policies(clients: Clients) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    custom = clients.custom()
    try:
        for p in custom.list_cluster_custom_object(
            "crd.projectcalico.org", "v1", "globalnetworkpolicies"
        ).get("items", []):
            out.append((f"Calico GlobalNetworkPolicy {p['metadata']['name']}", p))
        for p in custom.list_cluster_custom_object(
            "crd.projectcalico.org", "v1", "networkpolicies"
        ).get("items", []):
            out.append(
                (f"Calico NetworkPolicy {p['metadata']['namespace']}/{p['metadata']['name']}", p)
            )
    except ApiException:
        pass
    return out


def _allows_broadly(policy: dict[str, Any], direction: str) -> bool:
    rules = policy.get("spec", {}).get(direction) or []
    return any(
        r.get("action") == "Allow" and not r.get("source") and not r.get("destination")
        for r in rules
    )


def traffic_causes(clients: Clients, leaks: int, losses: int) -> list[str]:
    """Readable hints, most likely first. Never a verdict: the matrices are the verdict."""
    hints: list[str] = []
    try:
        cni = detect_cni(clients)
    except ApiException:
        cni = None
    if cni is None:
        hints.append("no known CNI DaemonSet found: NetworkPolicies may not be enforced at all")
    elif cni == "calico" and not kube.pods_ready(clients, "kube-system", "k8s-app=calico-node"):
        hints.append("not every calico-node pod is Ready: its node enforces no or stale policy")
    elif cni == "kube-router" and kube_router_firewall(clients) is False:
        hints.append(
            "kube-router runs without its firewall (--run-firewall=false): it routes pod "
            "traffic but enforces no NetworkPolicy"
        )
    if leaks:
        for name, pol in _calico_policies(clients):
            order = pol.get("spec", {}).get("order")
            for direction, word in (("ingress", "ingress"), ("egress", "egress")):
                if _allows_broadly(pol, direction):
                    hints.append(
                        f"{name} (order {order}) allows all {word} of the pods it selects: Calico "
                        "evaluates it before Kubernetes NetworkPolicies, which it overrides"
                    )
        if cni in ("kindnet", "flannel"):
            hints.append(f"CNI '{cni}' is known not to enforce NetworkPolicies here")
        if not hints:
            hints.append("traffic the policies forbid got through: the CNI does not enforce them")
    if losses and not leaks:
        hints.append("traffic the policies allow was blocked: an extra policy or a broken network")
    return hints
