"""What the cluster under test offers, discovered once per run and shared with tests and
reports. A capability the conformance claim depends on, when missing, makes the tests
that need it fail with the stated reason; an optional one makes them skip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.platform.install import (
    CONSTRAINT_GROUP,
    CONSTRAINT_KIND,
    CONSTRAINT_PLURAL,
    GK_NS,
    detect_cni,
    gatekeeper_version,
)

CONSTRAINT_NAMES = ("require-networkpolicy", "elastisys-require-networkpolicy")
WEBHOOK_CONFIG = "gatekeeper-validating-webhook-configuration"


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


def find_constraint(clients: Clients) -> dict[str, Any] | None:
    """The require-networkpolicy constraint, found by its kind under either known name
    (or the only constraint of that kind)."""
    try:
        items = clients.custom().list_cluster_custom_object(
            CONSTRAINT_GROUP, "v1beta1", CONSTRAINT_PLURAL
        )
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    objs = items.get("items", [])
    for name in CONSTRAINT_NAMES:
        for o in objs:
            if o["metadata"]["name"] == name:
                return dict(o)
    return dict(objs[0]) if len(objs) == 1 else None


def exemption_label(constraint: dict[str, Any]) -> tuple[str, str] | None:
    sel = constraint.get("spec", {}).get("match", {}).get("namespaceSelector") or {}
    for e in sel.get("matchExpressions", []):
        if e.get("operator") == "NotIn" and e.get("values"):
            return (e["key"], e["values"][0])
        if e.get("operator") == "DoesNotExist":
            return (e["key"], "true")
    return None


def sync_includes_netpol(clients: Clients) -> bool:
    try:
        cfg = clients.custom().get_namespaced_custom_object(
            "config.gatekeeper.sh", "v1alpha1", GK_NS, "configs", "config"
        )
        for s in cfg.get("spec", {}).get("sync", {}).get("syncOnly", []):
            if s.get("kind") == "NetworkPolicy" and s.get("group") == "networking.k8s.io":
                return True
    except ApiException:
        pass
    try:
        sets = clients.custom().list_cluster_custom_object(
            "syncset.gatekeeper.sh", "v1alpha1", "syncsets"
        )
        for ss in sets.get("items", []):
            for g in ss.get("spec", {}).get("gvks", []):
                if g.get("kind") == "NetworkPolicy":
                    return True
    except ApiException:
        pass
    return False


def webhook(clients: Clients) -> tuple[bool, str | None]:
    adm = client.AdmissionregistrationV1Api(clients.api())
    try:
        cfg = adm.read_validating_webhook_configuration(WEBHOOK_CONFIG)
    except ApiException as e:
        if e.status == 404:
            return False, None
        raise
    for w in cfg.webhooks or []:
        if w.name == "validation.gatekeeper.sh":
            return True, w.failure_policy
    return False, None


def audit_interval(clients: Clients) -> int:
    """Gatekeeper's audit interval, from the audit Deployment's flags (default 60 s)."""
    try:
        dep = clients.apps().read_namespaced_deployment("gatekeeper-audit", GK_NS)
    except ApiException:
        return 60
    for c in dep.spec.template.spec.containers:
        for a in c.args or []:
            if a.startswith("--audit-interval="):
                return int(a.split("=", 1)[1])
    return 60


def discover(clients: Clients) -> Capabilities:
    caps = Capabilities()
    caps.kubernetes_version = clients.check_reachable()
    caps.nodes = _nodes(clients)
    caps.cni = detect_cni(clients)
    caps.gatekeeper_version = gatekeeper_version(clients)
    c = find_constraint(clients)
    try:
        client.ApiextensionsV1Api(clients.api()).read_custom_resource_definition(
            f"{CONSTRAINT_PLURAL}.{CONSTRAINT_GROUP}"
        )
        caps.constraint_crd = True
    except ApiException:
        caps.constraint_crd = False
    if c is not None:
        caps.constraint_name = c["metadata"]["name"]
        caps.enforcement_action = c.get("spec", {}).get("enforcementAction", "deny")
        caps.exemption_label = exemption_label(c)
    caps.sync_networkpolicies = sync_includes_netpol(clients)
    caps.webhook_registered, caps.webhook_failure_policy = webhook(clients)
    caps.audit_interval = audit_interval(clients)
    if caps.constraint_name is None:
        caps.notes.append(f"no {CONSTRAINT_KIND} constraint found")
    return caps
