"""What Gatekeeper reports about the safeguard on a cluster: the constraint, its
exemption label, the sync of NetworkPolicies, the webhook, the audit interval."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.gatekeeper import names as gk


def find_constraint(clients: Clients) -> dict[str, Any] | None:
    """The require-networkpolicy constraint, found by its kind under either known name
    (or the only constraint of that kind)."""
    try:
        items = clients.custom().list_cluster_custom_object(
            gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL
        )
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    objs = kube.dig(items, "items", default=[])
    for name in gk.CONSTRAINT_NAMES:
        for o in objs:
            if o["metadata"]["name"] == name:
                return dict(o)
    return dict(objs[0]) if len(objs) == 1 else None


def exemption_label(constraint: dict[str, Any]) -> tuple[str, str] | None:
    exprs = kube.dig(constraint, "spec", "match", "namespaceSelector", "matchExpressions")
    for e in exprs or []:
        if e.get("operator") == "NotIn" and e.get("values"):
            return (e["key"], e["values"][0])
        if e.get("operator") == "DoesNotExist":
            return (e["key"], "true")
    return None


def sync_includes_netpol(clients: Clients) -> bool:
    try:
        cfg = clients.custom().get_namespaced_custom_object(
            gk.CONFIG_GROUP, gk.CONFIG_VERSION, gk.NAMESPACE, gk.CONFIG_PLURAL, gk.CONFIG_NAME
        )
        for s in kube.dig(cfg, "spec", "sync", "syncOnly", default=[]):
            if s.get("kind") == "NetworkPolicy" and s.get("group") == "networking.k8s.io":
                return True
    except ApiException:
        pass
    try:
        sets = clients.custom().list_cluster_custom_object(
            "syncset.gatekeeper.sh", "v1alpha1", "syncsets"
        )
        for ss in kube.dig(sets, "items", default=[]):
            for g in kube.dig(ss, "spec", "gvks", default=[]):
                if g.get("kind") == "NetworkPolicy":
                    return True
    except ApiException:
        pass
    return False


def webhook(clients: Clients) -> tuple[bool, str | None]:
    adm = client.AdmissionregistrationV1Api(clients.api())
    try:
        cfg = adm.read_validating_webhook_configuration(gk.WEBHOOK_CONFIG)
    except ApiException as e:
        if e.status == 404:
            return False, None
        raise
    for w in cfg.webhooks or []:
        if w.name == gk.WEBHOOK:
            return True, w.failure_policy
    return False, None


def audit_interval(clients: Clients) -> int:
    """Gatekeeper's audit interval, from the audit Deployment's flags (default 60 s)."""
    try:
        dep = clients.apps().read_namespaced_deployment(gk.AUDIT, gk.NAMESPACE)
    except ApiException:
        return 60
    for c in dep.spec.template.spec.containers:
        for a in c.args or []:
            if a.startswith("--audit-interval="):
                return int(a.split("=", 1)[1])
    return 60
