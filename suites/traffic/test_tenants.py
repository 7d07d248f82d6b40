"""The seed's first case: tenants hosted side by side. One tenant's app never reaches the
other tenant's database (or anything else of it); every flow the app needs still works."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell

from .flows import DB, WEB
from .scenarios import SINK, TENANTS_SCENARIO

pytestmark = [pytest.mark.traffic, pytest.mark.cluster, pytest.mark.check("SEG-TENANTS")]


def test_tenant_pairs_are_segregated(play_scenario) -> None:
    r = play_scenario(TENANTS_SCENARIO).step("platform policies")
    # Spelled out: the worst mistake, and its allowed twin.
    for a, b in (("tenant-a", "tenant-b"), ("tenant-b", "tenant-a")):
        assert r.reads(Cell(f"{a}/backend", f"{b}/database", DB, "TCP")) is False, (
            f"{a}'s app reaches {b}'s database"
        )
        assert r.reads(Cell(f"{a}/backend", f"{a}/database", DB, "TCP")) is True, (
            f"{a}'s app cannot reach its own database"
        )
        assert r.reads(Cell(f"{a}/database", SINK, WEB, "TCP")) is False, (
            f"{a}'s database reaches outside"
        )
