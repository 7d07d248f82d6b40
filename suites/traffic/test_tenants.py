"""The seed's first case: tenants hosted side by side. One tenant's app never reaches the
other tenant's database (or anything else of it); every flow the app needs still works."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell

from .flows import (
    APP,
    DB,
    INGRESS_NS,
    PART,
    TENANT,
    TENANTS,
    TIERS,
    WEB,
    Flow,
    expected,
    np,
    tenant_flows,
    tenant_policies,
)

pytestmark = [pytest.mark.traffic, pytest.mark.cluster]

COLUMNS = [(WEB, "TCP"), (DB, "TCP"), (WEB, "UDP"), (DB, "UDP")]


def test_tenant_pairs_are_segregated(make_world) -> None:
    w = make_world("tenants")
    for t in TENANTS:
        w.namespace(t, {TENANT: t}, exempt=False)
        w.apply(*tenant_policies(t, t))
    w.namespace(INGRESS_NS, {"role": "ingress"}, exempt=False)
    w.apply(
        np(
            INGRESS_NS,
            "controller",
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{}],
                "egress": [{}],
            },
        )
    )
    from npconform.world import PodDef

    pods = [
        PodDef(t, tier, {APP: "shop", PART: tier, "app.kubernetes.io/instance": t})
        for t in TENANTS
        for tier in TIERS
    ]
    pods.append(PodDef(INGRESS_NS, "controller", {APP: "ingress-controller"}))
    # A host no policy protects: only the tenants' own egress rules keep them from it.
    w.namespace("outside", {"role": "outside"})
    sink = PodDef("outside", "sink", {APP: "sink"})
    w.add_pods([*pods, sink])

    sources = [p.id for p in pods]
    targets = [p.id for p in pods if p.ns in TENANTS] + [sink.id]
    flows = tenant_flows() | {
        Flow(f"{INGRESS_NS}/controller", sink.id, port, proto) for port, proto in COLUMNS
    }
    want = expected(sources, targets, COLUMNS, flows)
    r = w.expect("platform policies", want)

    # Spelled out: the worst mistake, and its allowed twin.
    obs = r.outcome.observed
    for a, b in (("tenant-a", "tenant-b"), ("tenant-b", "tenant-a")):
        assert obs[Cell(f"{a}/backend", f"{b}/database", DB, "TCP")] is False, (
            f"{a}'s app reaches {b}'s database"
        )
        assert obs[Cell(f"{a}/backend", f"{a}/database", DB, "TCP")] is True, (
            f"{a}'s app cannot reach its own database"
        )
        assert obs[Cell(f"{a}/database", "outside/sink", WEB, "TCP")] is False, (
            f"{a}'s database reaches outside"
        )
