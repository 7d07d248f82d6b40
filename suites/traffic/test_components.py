"""The seed's second case: one application's components, each allowed only the flows it
needs, on their ports only; the database talks to nothing but DNS."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell

from .flows import DB, SHOP, WEB
from .scenarios import COMPONENTS_SCENARIO

pytestmark = [pytest.mark.traffic, pytest.mark.cluster, pytest.mark.check("SEG-COMPONENTS")]


def test_components_only_required_flows(play_scenario) -> None:
    r = play_scenario(COMPONENTS_SCENARIO).step("component policies")
    assert r.reads(Cell(f"{SHOP}/frontend", f"{SHOP}/database", DB, "TCP")) is False, (
        "frontend reaches the database"
    )
    assert r.reads(Cell(f"{SHOP}/backend", f"{SHOP}/database", DB, "TCP")) is True, (
        "backend cannot reach the database"
    )
    assert r.reads(Cell(f"{SHOP}/backend", f"{SHOP}/database", WEB, "TCP")) is False, (
        "database reachable off its port"
    )
