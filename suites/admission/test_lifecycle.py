"""Scenario 4: policies and pods over time."""

from __future__ import annotations

import time

import pytest
from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.cluster.workload import apply_policies, delete_policy
from npconform.gatekeeper import admission as adm
from npconform.platform.target import RunState

from .conftest import Verify
from .policies import policy

pytestmark = [pytest.mark.admission, pytest.mark.cluster, pytest.mark.check("ADM-LIFECYCLE")]


def test_pod_right_after_its_policy_is_admitted(
    clients: Clients,
    namespace: str,
    verify: Verify,
    probe_image: str,
    run_state: RunState,
    record_evidence,
) -> None:
    run_id = run_state.options.run_id
    t0 = time.monotonic()
    apply_policies(clients, [policy(namespace, "web", {"matchLabels": {"app": "web"}})], run_id)
    body = adm.workload_manifest("Pod", namespace, "fresh", {"app": "web"}, probe_image, run_id)
    verify.admitted(adm.create_after_sync(clients, body), "pod created right after its policy")
    record_evidence(
        "timing",
        {"what": "policy to Gatekeeper inventory", "seconds": round(time.monotonic() - t0, 2)},
    )


def test_after_last_policy_is_deleted_new_pods_are_refused(
    clients: Clients, namespace: str, verify: Verify, probe_image: str, run_state: RunState
) -> None:
    run_id = run_state.options.run_id
    apply_policies(clients, [policy(namespace, "only", {})], run_id)
    first = adm.workload_manifest("Pod", namespace, "before", {"app": "web"}, probe_image, run_id)
    verify.admitted(adm.create_after_sync(clients, first), "pod while a policy exists")
    delete_policy(clients, namespace, "only")
    second = adm.workload_manifest("Pod", namespace, "after", {"app": "web"}, probe_image, run_id)
    result = (
        adm.wait_refused(clients, second)
        if verify.action != "dryrun"
        else adm.create(clients, second)
    )
    verify.refused(result, "pod after the last policy was deleted")


def test_label_update_escaping_every_policy_is_refused(
    clients: Clients, namespace: str, verify: Verify, probe_image: str, run_state: RunState
) -> None:
    run_id = run_state.options.run_id
    apply_policies(clients, [policy(namespace, "web", {"matchLabels": {"app": "web"}})], run_id)
    body = adm.workload_manifest("Pod", namespace, "relabel", {"app": "web"}, probe_image, run_id)
    verify.admitted(adm.create_after_sync(clients, body), "pod selected by its policy")
    verify.refused(
        adm.patch_pod_labels(clients, namespace, "relabel", {"app": "other"}),
        "label update that escapes every policy",
    )
    # A label update that stays covered is admitted.
    verify.admitted(
        adm.patch_pod_labels(clients, namespace, "relabel", {"app": "web", "extra": "1"}),
        "label update that stays selected",
    )


def test_deleting_pods_is_never_blocked(
    clients: Clients, namespace: str, verify: Verify, probe_image: str, run_state: RunState
) -> None:
    run_id = run_state.options.run_id
    apply_policies(clients, [policy(namespace, "all", {})], run_id)
    body = adm.workload_manifest("Pod", namespace, "doomed", {"app": "web"}, probe_image, run_id)
    verify.admitted(adm.create_after_sync(clients, body), "pod to delete")
    delete_policy(clients, namespace, "all")
    try:
        clients.core().delete_namespaced_pod("doomed", namespace, grace_period_seconds=0)
    except ApiException as e:
        pytest.fail(f"deleting a pod without any policy was blocked: HTTP {e.status} {e.body}")
