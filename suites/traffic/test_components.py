"""The seed's second case: one application's components, each allowed only the flows it
needs, on their ports only; the database talks to nothing but DNS."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell
from npconform.world import PodDef

from .flows import (
    APP,
    COMPONENTS,
    DB,
    PART,
    SHOP,
    WEB,
    component_flows,
    component_policies,
    expected,
)

pytestmark = [pytest.mark.traffic, pytest.mark.cluster]

COLUMNS = [(WEB, "TCP"), (DB, "TCP"), (WEB, "UDP"), (DB, "UDP")]


def test_components_only_required_flows(make_world) -> None:
    w = make_world("components")
    w.namespace(SHOP, {"team": "shop"}, exempt=False)
    w.apply(*component_policies(SHOP))
    pods = [PodDef(SHOP, c, {APP: "shop", PART: c}) for c in COMPONENTS]
    w.add_pods(pods)
    ids = [p.id for p in pods]
    r = w.expect("component policies", expected(ids, ids, COLUMNS, component_flows()))
    obs = r.outcome.observed
    assert obs[Cell(f"{SHOP}/frontend", f"{SHOP}/database", DB, "TCP")] is False, (
        "frontend reaches the database"
    )
    assert obs[Cell(f"{SHOP}/backend", f"{SHOP}/database", DB, "TCP")] is True, (
        "backend cannot reach the database"
    )
    assert obs[Cell(f"{SHOP}/backend", f"{SHOP}/database", WEB, "TCP")] is False, (
        "database reachable off its port"
    )
