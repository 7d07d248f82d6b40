"""Policies and labels change; enforcement follows. Updating and deleting policies,
relabelling pods and namespaces, and a pod recreated with a new IP address: the policies
select by labels, never by addresses (the steps are in ``scenarios``)."""

from __future__ import annotations

import pytest

from .scenarios import RECREATION, RELABELLING, UPDATE_AND_DELETE

pytestmark = [pytest.mark.traffic, pytest.mark.cluster, pytest.mark.check("NET-DYNAMICS")]


def test_policy_update_and_delete(play_scenario) -> None:
    play_scenario(UPDATE_AND_DELETE)


def test_pod_and_namespace_relabelling(play_scenario) -> None:
    play_scenario(RELABELLING)


def test_recreated_pod_keeps_its_verdict_not_its_address(play_scenario) -> None:
    played = play_scenario(RECREATION)
    (old, new), (_, newest) = played.addresses["y/client"]
    assert new != old and newest != new, f"a recreated pod kept its address: {old}, {new}, {newest}"
