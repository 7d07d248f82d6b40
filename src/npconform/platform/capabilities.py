"""What the cluster under test offers, discovered once per run and shared with tests and
reports. A capability the conformance claim depends on, when missing, makes the tests
that need it fail with the stated reason; an optional one makes them skip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.gatekeeper import names as gk
from npconform.gatekeeper.install import gatekeeper_version
from npconform.gatekeeper.state import (
    audit_interval,
    exemption_label,
    find_constraint,
    sync_includes_netpol,
    webhook,
)
from npconform.platform.cni import detect_cni


@dataclass
class NodeInfo:
    name: str
    ready: bool
    schedulable: bool
    control_plane: bool
    internal_ip: str


@dataclass
class Capabilities:
    kubernetes_version: str = ""
    nodes: list[NodeInfo] = field(default_factory=list)
    cni: str | None = None
    gatekeeper_version: str | None = None
    constraint_crd: bool = False
    constraint_name: str | None = None
    enforcement_action: str | None = None
    exemption_label: tuple[str, str] | None = None  # label that takes a namespace out of the match
    sync_networkpolicies: bool = False
    webhook_registered: bool = False
    webhook_failure_policy: str | None = None
    audit_interval: int = 60  # seconds between Gatekeeper audit runs (its default: 60)
    notes: list[str] = field(default_factory=list)

    @property
    def workers(self) -> list[str]:
        return [n.name for n in self.nodes if n.ready and n.schedulable]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Capabilities:
        d = dict(d)
        d["nodes"] = [NodeInfo(**n) for n in d.get("nodes", [])]
        if d.get("exemption_label"):
            d["exemption_label"] = tuple(d["exemption_label"])
        return cls(**d)


def _nodes(clients: Clients) -> list[NodeInfo]:
    out = []
    for n in clients.core().list_node().items:
        ready = any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        taints = [t for t in (n.spec.taints or []) if t.effect in ("NoSchedule", "NoExecute")]
        cp = "node-role.kubernetes.io/control-plane" in (n.metadata.labels or {})
        ip = next((a.address for a in n.status.addresses or [] if a.type == "InternalIP"), "")
        out.append(
            NodeInfo(n.metadata.name, ready, not n.spec.unschedulable and not taints, cp, ip)
        )
    return out


def discover(clients: Clients) -> Capabilities:
    caps = Capabilities()
    caps.kubernetes_version = clients.check_reachable()
    caps.nodes = _nodes(clients)
    caps.cni = detect_cni(clients)
    caps.gatekeeper_version = gatekeeper_version(clients)
    c = find_constraint(clients)
    try:
        client.ApiextensionsV1Api(clients.api()).read_custom_resource_definition(
            f"{gk.CONSTRAINT_PLURAL}.{gk.CONSTRAINT_GROUP}"
        )
        caps.constraint_crd = True
    except ApiException:
        caps.constraint_crd = False
    if c is not None:
        caps.constraint_name = c["metadata"]["name"]
        caps.enforcement_action = kube.dig(c, "spec", "enforcementAction", default="deny")
        caps.exemption_label = exemption_label(c)
    caps.sync_networkpolicies = sync_includes_netpol(clients)
    caps.webhook_registered, caps.webhook_failure_policy = webhook(clients)
    caps.audit_interval = audit_interval(clients)
    if caps.constraint_name is None:
        caps.notes.append(f"no {gk.CONSTRAINT_KIND} constraint found")
    return caps
