"""Scenarios 1 and 7: the enforcement mode, and proof that something enforces at all."""

from __future__ import annotations

import pytest

from npconform.cluster.client import Clients
from npconform.cluster.workload import apply_policies
from npconform.gatekeeper import admission as adm
from npconform.gatekeeper import install as gkinstall
from npconform.platform import capabilities
from npconform.platform.target import RunState

from .conftest import Constraint, Verify
from .policies import policy

pytestmark = [pytest.mark.admission, pytest.mark.cluster]


@pytest.mark.check("ADM-WEBHOOK")
def test_webhook_registered_and_constraint_current_on_every_pod(
    clients: Clients, enforcing: Constraint
) -> None:
    registered, failure_policy = capabilities.webhook(clients)
    assert registered
    pods = gkinstall.webhook_pods(clients)
    assert pods, "no Gatekeeper webhook pod"
    assert gkinstall.constraint_enforced(clients, enforcing.name), (
        f"not every webhook pod ({pods}) reports the current generation of {enforcing.name}"
    )
    if failure_policy == "Ignore":
        # Admission is fail-open: verdicts only hold while the webhook pods are up.
        assert gkinstall.webhook_pods(clients)


@pytest.mark.check("ADM-ACTION")
def test_enforcement_action_is_the_expected_one(
    run_state: RunState, action: str, enforcing: Constraint
) -> None:
    assert action in ("deny", "warn", "dryrun"), f"unknown enforcementAction {action!r}"
    want = run_state.options.expect_enforcement
    assert want == "any" or action == want


@pytest.mark.check("ADM-REFUSE-POD")
def test_pod_without_policy_is_refused(
    clients: Clients, namespace: str, verify: Verify, probe_image: str, run_state: RunState
) -> None:
    body = adm.workload_manifest(
        "Pod", namespace, "no-policy", {"app": "web"}, probe_image, run_state.options.run_id
    )
    verify.refused(adm.create(clients, body), "pod without any NetworkPolicy")


@pytest.mark.check("ADM-ADMIT-POD")
def test_pod_with_selecting_policy_is_admitted(
    clients: Clients, namespace: str, verify: Verify, probe_image: str, run_state: RunState
) -> None:
    apply_policies(
        clients,
        [policy(namespace, "web", {"matchLabels": {"app": "web"}})],
        run_state.options.run_id,
    )
    body = adm.workload_manifest(
        "Pod", namespace, "with-policy", {"app": "web"}, probe_image, run_state.options.run_id
    )
    result = adm.create_after_sync(clients, body)
    verify.admitted(result, "pod selected by a NetworkPolicy")
