"""The seed's two cases and the dynamics of policies and labels, as scenarios: namespaces,
pods, and steps of an action and the matrix expected after it. Everything a step does not
list as allowed is expected blocked (or the other way round), column by column."""

from __future__ import annotations

from npconform.model.expect import EVERYTHING, NOTHING, allowed_except, blocked_except
from npconform.model.netpol import network_policy
from npconform.scenario.objects import PodDef
from npconform.scenario.spec import Namespace, Scenario, Step

from .flows import (
    APP,
    COMPONENTS,
    DB,
    INGRESS_NS,
    PART,
    SHOP,
    TENANT,
    TENANTS,
    TIERS,
    WEB,
    component_policies,
    tenant_policies,
)

# ---- the seed's first case: tenants side by side ------------------------------------------

SINK = "outside/sink"  # a host no policy protects: only the tenants' egress keeps them off
_controller_egress_anywhere = network_policy(
    INGRESS_NS,
    "controller",
    {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}]},
)

TENANTS_SCENARIO = Scenario(
    name="tenants",
    namespaces=[
        *(Namespace(t, {TENANT: t}, exempt=False) for t in TENANTS),
        Namespace(INGRESS_NS, {"role": "ingress"}, exempt=False),
        Namespace("outside", {"role": "outside"}),
    ],
    policies=[
        *(p for t in TENANTS for p in tenant_policies(t, t)),
        _controller_egress_anywhere,
    ],
    pods=[
        *(
            PodDef(t, tier, {APP: "shop", PART: tier, "app.kubernetes.io/instance": t})
            for t in TENANTS
            for tier in TIERS
        ),
        PodDef(INGRESS_NS, "controller", {APP: "ingress-controller"}),
        PodDef("outside", "sink", {APP: "sink"}),
    ],
    steps=[
        Step(
            "platform policies",
            sources=["tenant-*/*", f"{INGRESS_NS}/*"],
            targets=["tenant-*/*", SINK],
            expect={
                f"{WEB}/TCP": blocked_except(
                    f"{INGRESS_NS}/controller -> tenant-*/frontend",
                    *(f"{t}/frontend -> {t}/backend" for t in TENANTS),
                    f"{INGRESS_NS}/controller -> {SINK}",
                ),
                f"{DB}/TCP": blocked_except(
                    *(f"{t}/backend -> {t}/database" for t in TENANTS),
                    f"{INGRESS_NS}/controller -> {SINK}",
                ),
                f"{WEB}/UDP {DB}/UDP": blocked_except(f"{INGRESS_NS}/controller -> {SINK}"),
            },
        )
    ],
)

# ---- the seed's second case: one application's components ------------------------------

COMPONENTS_SCENARIO = Scenario(
    name="components",
    namespaces=[Namespace(SHOP, {"team": "shop"}, exempt=False)],
    policies=component_policies(SHOP),
    pods=[PodDef(SHOP, c, {APP: "shop", PART: c}) for c in COMPONENTS],
    steps=[
        Step(
            "component policies",
            expect={
                # the queue listens on the web port (MQ == WEB)
                f"{WEB}/TCP": blocked_except(
                    f"{SHOP}/frontend -> {SHOP}/backend", f"{SHOP}/backend -> {SHOP}/queue"
                ),
                f"{DB}/TCP": blocked_except(
                    f"{SHOP}/backend -> {SHOP}/database", f"{SHOP}/backoffice -> {SHOP}/database"
                ),
                f"{WEB}/UDP {DB}/UDP": NOTHING,
            },
        )
    ],
)

# ---- dynamics: policies and labels change, enforcement follows --------------------------

SERVER = "x/server"
CLIENTS = ["x/client", "y/client", "y/other"]
BOTH = "8080/TCP 8081/TCP"


def _dyn_pods() -> list[PodDef]:
    return [
        PodDef("x", "server", {"app": "server"}),
        PodDef("x", "client", {"role": "client"}),
        PodDef("y", "client", {"role": "client"}),
        PodDef("y", "other", {"role": "other"}),
    ]


def _dyn(name: str, *steps: Step) -> Scenario:
    return Scenario(
        name=f"dyn-{name}",
        namespaces=[Namespace("x", {"team": "red"}), Namespace("y", {"team": "blue"})],
        pods=_dyn_pods(),
        steps=list(steps),
    )


def _into_server(name: str, expect: dict, **action) -> Step:
    return Step(name, expect, sources=CLIENTS, targets=[SERVER], **action)


def only_port(port: int) -> dict:
    spec = {
        "podSelector": {"matchLabels": {"app": "server"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": port, "protocol": "TCP"}]}],
    }
    return network_policy("x", "server-ingress", spec)


def server_ingress_from(name: str, namespace_selector: dict) -> dict:
    """Ingress to x/server from pods labelled role=client in the selected namespaces."""
    peer = {
        "namespaceSelector": namespace_selector,
        "podSelector": {"matchLabels": {"role": "client"}},
    }
    spec = {
        "podSelector": {"matchLabels": {"app": "server"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [peer]}],
    }
    return network_policy("x", name, spec)


UPDATE_AND_DELETE = _dyn(
    "policy",
    _into_server(
        "only 8080", {"8080/TCP": EVERYTHING, "8081/TCP": NOTHING}, apply=[only_port(8080)]
    ),
    _into_server(
        "updated to 8081", {"8080/TCP": NOTHING, "8081/TCP": EVERYTHING}, apply=[only_port(8081)]
    ),
    _into_server("deleted", {BOTH: EVERYTHING}, delete=["x/server-ingress"]),
)

RELABELLING = _dyn(
    "pod",
    _into_server(
        "blue clients only",
        {BOTH: blocked_except("y/client -> *")},
        apply=[server_ingress_from("from-blue-clients", {"matchLabels": {"team": "blue"}})],
    ),
    _into_server(
        "pod relabelled into the policy",
        {BOTH: blocked_except("y/* -> *")},
        relabel_pods={"y/other": {"role": "client"}},
    ),
    _into_server(
        "pod relabelled out of it",
        {BOTH: blocked_except("y/other -> *")},
        relabel_pods={"y/client": {"role": None}},
    ),
    _into_server(
        "namespace relabelled out of it", {BOTH: NOTHING}, relabel_namespaces={"y": {"team": "red"}}
    ),
    _into_server(
        "other namespace relabelled into it",
        {BOTH: blocked_except("x/client -> *")},
        relabel_namespaces={"x": {"team": "blue"}},
    ),
)

RECREATION = _dyn(
    "recreated",
    _into_server(
        "clients only",
        {BOTH: allowed_except("y/other -> *")},
        apply=[server_ingress_from("from-clients", {})],
    ),
    _into_server(
        "client recreated with a new IP",
        {BOTH: allowed_except("y/other -> *")},
        recreate={"y/client": None},
    ),
    _into_server(
        "client recreated without the label",
        {BOTH: blocked_except("x/client -> *")},
        recreate={"y/client": {"role": "visitor"}},
    ),
)
