"""The platform-style policies of the seed's two cases: default deny, DNS, and one policy
per component allowing only its required flows (the scenarios are in ``scenarios``)."""

from __future__ import annotations

from typing import Any

from npconform.model.netpol import network_policy

APP = "app.kubernetes.io/name"
PART = "app.kubernetes.io/component"
TENANT = "tenant"


def default_deny(ns: str) -> dict[str, Any]:
    return network_policy(
        ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    )


def allow_dns(ns: str) -> dict[str, Any]:
    return network_policy(
        ns,
        "allow-dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                }
            ],
        },
    )


def allow(
    ns: str,
    name: str,
    component: str,
    *,
    ingress_from: list[dict[str, Any]] | None = None,
    ingress_port: int | None = None,
    egress_to: list[tuple[dict[str, Any], int]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": {PART: component}}, "policyTypes": []}
    if ingress_from is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = [
            {"from": ingress_from, "ports": [{"port": ingress_port, "protocol": "TCP"}]}
        ]
    if egress_to is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = [
            {"to": [peer], "ports": [{"port": port, "protocol": "TCP"}]} for peer, port in egress_to
        ]
    return network_policy(ns, name, spec)


def component(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {PART: name}}}


# ---- the seed's first case: tenant pairs ------------------------------------------------

TENANTS = ("tenant-a", "tenant-b")
TIERS = ("frontend", "backend", "database")
INGRESS_NS = "ingress"
WEB, DB = 8080, 8081


def tenant_policies(ns: str, tenant: str) -> list[dict[str, Any]]:
    """What a platform team installs per app instance: default deny, DNS, the app's own
    flows, and ingress from the ingress controller's namespace."""
    from_ingress = {"namespaceSelector": {"matchLabels": {"role": "ingress"}}}
    return [
        default_deny(ns),
        allow_dns(ns),
        allow(
            ns,
            "frontend",
            "frontend",
            ingress_from=[from_ingress],
            ingress_port=WEB,
            egress_to=[(component("backend"), WEB)],
        ),
        allow(
            ns,
            "backend",
            "backend",
            ingress_from=[component("frontend")],
            ingress_port=WEB,
            egress_to=[(component("database"), DB)],
        ),
        allow(ns, "database", "database", ingress_from=[component("backend")], ingress_port=DB),
    ]


# ---- the seed's second case: component segregation -----------------------------------------

SHOP = "shop"
COMPONENTS = ("frontend", "backend", "backoffice", "database", "queue")
MQ = 8080


def component_policies(ns: str) -> list[dict[str, Any]]:
    return [
        default_deny(ns),
        allow_dns(ns),
        allow(ns, "frontend", "frontend", egress_to=[(component("backend"), WEB)]),
        allow(
            ns,
            "backend",
            "backend",
            ingress_from=[component("frontend")],
            ingress_port=WEB,
            egress_to=[(component("database"), DB), (component("queue"), MQ)],
        ),
        allow(ns, "backoffice", "backoffice", egress_to=[(component("database"), DB)]),
        allow(
            ns,
            "database",
            "database",
            ingress_from=[component("backend"), component("backoffice")],
            ingress_port=DB,
        ),
        allow(ns, "queue", "queue", ingress_from=[component("backend")], ingress_port=MQ),
    ]
