"""When traffic disagrees with the policies: what on the cluster could explain it."""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.platform.cni import detect_cni, kube_router_firewall


def _calico_policies(clients: Clients) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    custom = clients.custom()
    try:
        for p in (
            custom.list_cluster_custom_object(
                "crd.projectcalico.org", "v1", "globalnetworkpolicies"
            ).get("items")
            or []
        ):
            out.append((f"Calico GlobalNetworkPolicy {p['metadata']['name']}", p))
        for p in (
            custom.list_cluster_custom_object("crd.projectcalico.org", "v1", "networkpolicies").get(
                "items"
            )
            or []
        ):
            out.append(
                (f"Calico NetworkPolicy {p['metadata']['namespace']}/{p['metadata']['name']}", p)
            )
    except ApiException:
        pass
    return out


def _acts_broadly(policy: dict[str, Any], direction: str, action: str) -> bool:
    rules = kube.dig(policy, "spec", direction, default=[])
    return any(
        r.get("action") == action and not r.get("source") and not r.get("destination")
        for r in rules
    )


def _broad_calico_rules(clients: Clients, action: str, verb: str, effect: str) -> list[str]:
    out = []
    for name, pol in _calico_policies(clients):
        order = kube.dig(pol, "spec", "order")
        for word in ("ingress", "egress"):
            if _acts_broadly(pol, word, action):
                out.append(
                    f"{name} (order {order}) {verb} all {word} of the pods it selects: Calico "
                    f"evaluates it before Kubernetes NetworkPolicies, {effect}"
                )
    return out


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
        hints += _broad_calico_rules(clients, "Allow", "allows", "which it overrides")
        if cni in ("kindnet", "flannel"):
            hints.append(f"CNI '{cni}' is known not to enforce NetworkPolicies here")
        if not hints:
            hints.append("traffic the policies forbid got through: the CNI does not enforce them")
    if losses:
        denies = _broad_calico_rules(
            clients, "Deny", "denies", "so nothing they allow gets through"
        )
        hints += denies
        if not leaks and not denies:
            hints.append(
                "traffic the policies allow was blocked: an extra policy, a server that does not "
                "listen (a refusal says so), or a broken network"
            )
    return hints
