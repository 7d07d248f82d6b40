"""What is deployed: the reachability that the NetworkPolicies already in some namespaces
imply for the pods already there, computed by the oracle (nothing is created)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from npconform.cluster.client import Clients, to_dict
from npconform.model.matrix import Matrix, render
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine


def read_world(
    clients: Clients, namespaces: Sequence[str]
) -> tuple[list[NamespaceModel], list[PodModel], list[dict[str, Any]]]:
    core, net = clients.core(), clients.net()
    ns_models: list[NamespaceModel] = []
    pods: list[PodModel] = []
    policies: list[dict[str, Any]] = []
    for ns in namespaces:
        n = core.read_namespace(ns)
        ns_models.append(NamespaceModel(ns, dict(n.metadata.labels or {})))
        for p in core.list_namespaced_pod(ns).items:
            if p.status.phase != "Running" or not p.status.pod_ip:
                continue
            ports = tuple(
                ContainerPort(cp.container_port, cp.protocol or "TCP", cp.name)
                for c in p.spec.containers
                for cp in c.ports or []
            )
            pods.append(
                PodModel(ns, p.metadata.name, dict(p.metadata.labels or {}), p.status.pod_ip, ports)
            )
        for pol in net.list_namespaced_network_policy(ns).items:
            d = to_dict(pol)
            d.pop("status", None)
            d["metadata"] = {"name": d["metadata"]["name"], "namespace": ns}
            policies.append(d)
    return ns_models, pods, policies


def deployed_matrix(clients: Clients, namespaces: Sequence[str], ports: str = "") -> Matrix:
    ns_models, pods, policies = read_world(clients, namespaces)
    engine = PolicyEngine(ns_models, pods, policies)
    if ports:
        cols = [(int(c.split("/")[0]), c.split("/")[1].upper()) for c in ports.split(",")]
    else:
        cols = sorted({(cp.port, cp.protocol) for p in pods for cp in p.ports})
    return engine.matrix(pods, pods, cols)


def report_deployed(clients: Clients, namespaces: Sequence[str], ports: str = "") -> str:
    m = deployed_matrix(clients, namespaces, ports)
    if not len(m):
        return "no running pods with declared ports in " + ", ".join(namespaces)
    allowed, blocked = m.counts()
    return (
        render(m, "implied by the deployed NetworkPolicies")
        + f"\n\n{allowed} allowed, {blocked} blocked"
    )
