"""What an auditor asks of a run: which cluster, seen by whom, and the exact objects the
verdict depends on (the constraint, its template, Gatekeeper's sync settings and webhook
configuration), each with a sha256 of its canonical content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients, to_dict
from npconform.gatekeeper import names as gk
from npconform.gatekeeper.state import find_constraint


def digest(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def identity(clients: Clients) -> dict[str, Any]:
    """The cluster (API server URL, kube-system namespace UID) and the user the API server
    sees (a SelfSubjectReview), each ``None`` with the reason when it cannot be read."""
    api = clients.api()
    out: dict[str, Any] = {"server": api.configuration.host, "context": clients.context}
    try:
        out["kube_system_uid"] = clients.core().read_namespace("kube-system").metadata.uid
    except ApiException as e:
        out["kube_system_uid"] = None
        out["kube_system_uid_error"] = f"HTTP {e.status}"
    try:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
        info = review.status.user_info
        out["user"] = {
            "username": info.username,
            "uid": info.uid,
            "groups": list(info.groups or []),
            "source": "SelfSubjectReview",
        }
    except ApiException as e:
        out["user"] = {"username": None, "source": f"SelfSubjectReview refused (HTTP {e.status})"}
    return out


def _object(kind: str, name: str, namespace: str | None, body: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        **({"namespace": namespace} if namespace else {}),
        "sha256": digest(body),
        "content": body,
    }


def _try(what: str, read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return read()
    except ApiException as e:
        if e.status == 404:
            return []
        return [{"kind": what, "name": "?", "sha256": None, "error": f"HTTP {e.status}"}]


def safeguard_objects(clients: Clients) -> list[dict[str, Any]]:
    """The constraint's spec, its template's spec (the Rego), Gatekeeper's Config and
    SyncSets (what it syncs and exempts) and the validating webhook (rules, selectors,
    failure policy): what the admission verdict depends on."""
    custom = clients.custom()

    def constraint() -> list[dict[str, Any]]:
        c = find_constraint(clients)
        if c is None:
            return []
        return [_object(c["kind"], c["metadata"]["name"], None, c.get("spec"))]

    def template() -> list[dict[str, Any]]:
        t = custom.get_cluster_custom_object(
            gk.TEMPLATE_GROUP, gk.TEMPLATE_VERSION, gk.TEMPLATE_PLURAL, gk.CONSTRAINT_PLURAL
        )
        return [_object("ConstraintTemplate", t["metadata"]["name"], None, t.get("spec"))]

    def config() -> list[dict[str, Any]]:
        cfg = custom.get_namespaced_custom_object(
            gk.CONFIG_GROUP, gk.CONFIG_VERSION, gk.NAMESPACE, gk.CONFIG_PLURAL, gk.CONFIG_NAME
        )
        return [_object("Config", "config", gk.NAMESPACE, cfg.get("spec"))]

    def syncsets() -> list[dict[str, Any]]:
        items = (
            custom.list_cluster_custom_object("syncset.gatekeeper.sh", "v1alpha1", "syncsets").get(
                "items"
            )
            or []
        )
        return [_object("SyncSet", s["metadata"]["name"], None, s.get("spec")) for s in items]

    def webhook() -> list[dict[str, Any]]:
        adm = client.AdmissionregistrationV1Api(clients.api())
        cfg = to_dict(adm.read_validating_webhook_configuration(gk.WEBHOOK_CONFIG))
        hooks = [
            {k: v for k, v in w.items() if k != "clientConfig"} for w in cfg.get("webhooks") or []
        ]
        return [_object("ValidatingWebhookConfiguration", gk.WEBHOOK_CONFIG, None, hooks)]

    out: list[dict[str, Any]] = []
    for what, read in (
        ("K8sRequireNetworkPolicy", constraint),
        ("ConstraintTemplate", template),
        ("Config", config),
        ("SyncSet", syncsets),
        ("ValidatingWebhookConfiguration", webhook),
    ):
        out += _try(what, read)
    return out


def cni_version(clients: Clients, cni: str | None) -> str | None:
    """The CNI's version, from the image tag of its node agent."""
    where = {
        "calico": ("kube-system", "calico-node"),
        "kube-router": ("kube-system", "kube-router"),
        "cilium": ("kube-system", "cilium"),
    }.get(cni or "")
    if where is None:
        return None
    try:
        ds = clients.apps().read_namespaced_daemon_set(where[1], where[0])
    except ApiException:
        return None
    image = str(ds.spec.template.spec.containers[0].image)
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
