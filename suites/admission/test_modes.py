"""Scenario 1, all three modes: the constraint is switched to deny, warn and dryrun in turn
and each must behave as documented. These tests change the cluster's constraint: they run
together in one xdist group and restore the original mode, even when they fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.gatekeeper import admission as adm
from npconform.gatekeeper import install as gkinstall
from npconform.platform.target import RunState

from .conftest import Constraint, Verify

pytestmark = [
    pytest.mark.admission,
    pytest.mark.cluster,
    pytest.mark.mutates_constraint,
    pytest.mark.xdist_group("constraint"),
    pytest.mark.check("ADM-MODES"),
]


@pytest.fixture
def switch(
    clients: Clients, enforcing: Constraint, run_state: RunState, record_evidence
) -> Iterator[object]:
    if not run_state.options.allow_cluster_changes:
        pytest.skip(
            "changing the constraint's mode needs --allow-cluster-changes on an existing cluster"
        )
    original = enforcing.action

    def to(action: str) -> None:
        record_evidence(
            "cluster_change",
            {
                "object": f"K8sRequireNetworkPolicy {enforcing.name}",
                "change": f"spec.enforcementAction -> {action}",
                "restores": action == original,
            },
        )
        adm.set_enforcement(clients, enforcing.name, action)
        kube.wait_until(
            f"{enforcing.name} in {action} mode on every webhook pod",
            lambda: gkinstall.constraint_enforced(clients, enforcing.name),
            timeout=60,
        )

    yield to
    to(original)


@pytest.mark.parametrize("mode", ["deny", "warn", "dryrun"])
def test_mode_behaves_as_documented(
    mode: str,
    switch,
    clients: Clients,
    namespace: str,
    enforcing: Constraint,
    probe_image: str,
    run_state: RunState,
    record_evidence,
) -> None:
    switch(mode)
    rows: list[dict] = []
    record_evidence("admission", rows)
    v = Verify(clients, enforcing, mode, rows)
    body = adm.workload_manifest(
        "Pod", namespace, f"no-policy-{mode}", {"app": "web"}, probe_image, run_state.options.run_id
    )
    v.refused(adm.create(clients, body), f"pod without policy ({mode} mode)")
