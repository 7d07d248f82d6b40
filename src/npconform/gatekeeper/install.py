"""Installing Gatekeeper and the require-networkpolicy safeguard, and waiting until
every webhook pod enforces it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.airgap import manifests
from npconform.cluster import kube
from npconform.cluster.client import Clients, to_dict
from npconform.cluster.kube import InstallReport
from npconform.gatekeeper import names as gk
from npconform.lock import Lock
from npconform.resources import own_manifest

AUDIT_INTERVAL = 10


def set_failure_policy(clients: Clients, policy: str) -> None:
    found = validation_webhook(clients)
    if found is not None:
        patch_webhook(clients, "replace", "failurePolicy", policy, found)


def validation_webhook(clients: Clients) -> tuple[int, dict[str, Any]] | None:
    """The index and content (camelCase) of the ``validation.gatekeeper.sh`` webhook in
    Gatekeeper's webhook configuration; None when either is absent."""
    adm = client.AdmissionregistrationV1Api(clients.api())
    try:
        cfg = to_dict(adm.read_validating_webhook_configuration(gk.WEBHOOK_CONFIG))
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    for i, w in enumerate(kube.dig(cfg, "webhooks", default=[])):
        if w.get("name") == gk.WEBHOOK:
            return i, w
    return None


def patch_webhook(
    clients: Clients,
    op: str,
    field: str,
    value: Any = None,
    found: tuple[int, dict[str, Any]] | None = None,
) -> None:
    """One JSON-patch operation on a field of the validation webhook (``found``: its
    lookup, when the caller has just made it)."""
    found = found or validation_webhook(clients)
    if found is None:
        raise LookupError(f"{gk.WEBHOOK_CONFIG} has no webhook {gk.WEBHOOK}")
    patch: dict[str, Any] = {"op": op, "path": f"/webhooks/{found[0]}/{field}"}
    if op != "remove":
        patch["value"] = value
    client.AdmissionregistrationV1Api(clients.api()).patch_validating_webhook_configuration(
        gk.WEBHOOK_CONFIG, [patch]
    )


def namespace_selector(clients: Clients, replace: dict[str, Any] | None = None) -> dict[str, Any]:
    """The validation webhook's namespaceSelector (before ``replace``, when given)."""
    found = validation_webhook(clients)
    if found is None:
        raise LookupError(f"{gk.WEBHOOK_CONFIG} has no webhook {gk.WEBHOOK}")
    if replace is not None:
        patch_webhook(clients, "replace", "namespaceSelector", replace, found)
    return dict(found[1].get("namespaceSelector") or {})


def set_config_match(clients: Clients, match: list[dict[str, Any]] | None) -> None:
    """Gatekeeper's Config ``spec.match`` (None removes it)."""
    clients.custom().patch_namespaced_custom_object(
        gk.CONFIG_GROUP,
        gk.CONFIG_VERSION,
        gk.NAMESPACE,
        gk.CONFIG_PLURAL,
        gk.CONFIG_NAME,
        {"spec": {"match": match}},
    )


def gatekeeper_version(clients: Clients) -> str | None:
    try:
        dep = clients.apps().read_namespaced_deployment(gk.CONTROLLER, gk.NAMESPACE)
    except ApiException as e:
        if e.status == 404:
            return None
        raise
    image = dep.spec.template.spec.containers[0].image
    return str(image).rsplit(":", 1)[-1]


# Flags of the audit replaced at install. The interval is short so that dryrun checks are
# quick. The audit lists only the kinds some constraint matches, as on Compliant Kubernetes
# (its Gatekeeper values set auditMatchKindOnly: true): the violations are the same, and an
# audit of every kind in the cluster every AUDIT_INTERVAL seconds would keep the API server
# and Gatekeeper busy (on an idle kind cluster, about a fifth of a core).
AUDIT_FLAGS = {"--audit-interval": str(AUDIT_INTERVAL), "--audit-match-kind-only": "true"}


# The workload kinds a require-networkpolicy constraint can match, by resource name.
RESOURCES = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}


def matched_resources(constraint: dict[str, Any] | None = None) -> list[str]:
    """The resources of the kinds the constraint (default: this suite's) matches, in its
    order. A kind without a known resource name (``*`` included) raises: the webhook's
    rules would not send it to Gatekeeper."""
    if constraint is None:
        (constraint,) = own_manifest("gatekeeper/constraint.yaml")
    kinds = [
        kind
        for entry in kube.dig(constraint, "spec", "match", "kinds", default=[])
        for kind in entry.get("kinds") or []
    ]
    unknown = [k for k in kinds if k not in RESOURCES]
    if unknown or not kinds:
        raise ValueError(f"no webhook resource for the constraint's kinds {unknown or kinds}")
    return [RESOURCES[k] for k in kinds]


def webhook_rules() -> list[dict[str, Any]]:
    """What Gatekeeper's webhooks are sent: CREATE and UPDATE of the kinds the constraint
    matches, in any API group, as on Compliant Kubernetes (its Gatekeeper values list the
    workload resources; upstream's manifest sends every write of every resource, node
    heartbeats and events included, to both webhooks)."""
    return [
        {
            "apiGroups": ["*"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": matched_resources(),
            "scope": "Namespaced",
        }
    ]


WEBHOOKS = {
    ("ValidatingWebhookConfiguration", gk.WEBHOOK_CONFIG): gk.WEBHOOK,
    ("MutatingWebhookConfiguration", gk.MUTATING_WEBHOOK_CONFIG): gk.MUTATING_WEBHOOK,
}


def _tune(docs: list[dict[str, Any]]) -> None:
    """Set the audit's flags (AUDIT_FLAGS), replacing any value the manifest gives, and
    the rules of the validating and mutating webhooks (``webhook_rules``)."""
    rules = webhook_rules()
    for d in docs:
        if d.get("kind") == "Deployment" and d["metadata"]["name"] == gk.AUDIT:
            c = d["spec"]["template"]["spec"]["containers"][0]
            args = [a for a in c.get("args", []) if a.split("=", 1)[0] not in AUDIT_FLAGS]
            c["args"] = args + [f"{k}={v}" for k, v in AUDIT_FLAGS.items()]
        hook = WEBHOOKS.get((d.get("kind", ""), d.get("metadata", {}).get("name", "")))
        for w in d.get("webhooks") or []:
            if hook and w.get("name") == hook:
                w["rules"] = rules


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
    kube.wait_pods_ready(clients, gk.NAMESPACE, "control-plane=controller-manager", timeout=300)
    kube.wait_pods_ready(clients, gk.NAMESPACE, "control-plane=audit-controller", timeout=300)
    # As on Compliant Kubernetes, the webhook fails closed (upstream installs it with
    # Ignore, which admits everything while Gatekeeper is down). Only now: while no
    # Gatekeeper pod runs, a closed webhook would refuse the CNI's own IPAM writes.
    set_failure_policy(clients, "Fail")
    rep.add(
        "gatekeeper-ready", "ready", t1, "controller-manager and audit Ready, webhook fails closed"
    )


def webhook_pods(clients: Clients) -> list[str]:
    pods = (
        clients.core()
        .list_namespaced_pod(gk.NAMESPACE, label_selector="control-plane=controller-manager")
        .items
    )
    return [p.metadata.name for p in pods if p.metadata.deletion_timestamp is None]


def _cluster_object(clients: Clients, gvp: tuple[str, str, str], name: str) -> Any:
    """A cluster-scoped custom object, or None when it does not exist."""
    try:
        return clients.custom().get_cluster_custom_object(*gvp, name)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def template_ready(clients: Clients, name: str = gk.CONSTRAINT_PLURAL) -> bool:
    t = _cluster_object(clients, (gk.TEMPLATE_GROUP, gk.TEMPLATE_VERSION, gk.TEMPLATE_PLURAL), name)
    if t is None:
        return False
    if not kube.dig(t, "status", "created"):
        return False
    by_pod = kube.dig(t, "status", "byPod", default=[])
    gen = t["metadata"].get("generation")
    ok = {p["id"] for p in by_pod if p.get("observedGeneration") == gen and not p.get("errors")}
    return set(webhook_pods(clients)) <= ok


def constraint_enforced(clients: Clients, name: str) -> bool:
    """Every webhook pod reports the constraint's current generation as enforced."""
    c = _cluster_object(
        clients, (gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL), name
    )
    if c is None:
        return False
    gen = c["metadata"].get("generation")
    by_pod = kube.dig(c, "status", "byPod", default=[])
    ok = {
        p["id"]
        for p in by_pod
        if p.get("observedGeneration") == gen
        and p.get("enforced")
        and "webhook" in kube.dig(p, "operations", default=["webhook"])
    }
    pods = webhook_pods(clients)
    return bool(pods) and set(pods) <= ok


def install_safeguard(clients: Clients, rep: InstallReport, enforcement: str = "deny") -> None:
    t0 = time.monotonic()
    kube.apply(clients, own_manifest("gatekeeper/sync-config.yaml"))
    kube.apply(clients, own_manifest("gatekeeper/template.yaml"))
    kube.wait_until(
        "ConstraintTemplate k8srequirenetworkpolicy to be created on every Gatekeeper pod",
        lambda: template_ready(clients),
        timeout=180,
        diagnose=lambda: kube.diagnose_pods(clients, gk.NAMESPACE),
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
        diagnose=lambda: kube.diagnose_pods(clients, gk.NAMESPACE),
    )
    rep.add("safeguard", "installed", t0, f"{gk.CONSTRAINT_KIND}/{name} ({enforcement})")
