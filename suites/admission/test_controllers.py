"""Scenario 3: controllers. Without a selecting policy the workload is refused (its kind is
matched) or, where only Pods are matched, it gets no pods and FailedCreate events naming
the constraint; with a policy its pods run."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.cluster.workload import apply_policies
from npconform.gatekeeper import admission as adm
from npconform.platform.target import RunState

from .conftest import Constraint, Verify
from .policies import policy

pytestmark = [pytest.mark.admission, pytest.mark.cluster, pytest.mark.check("ADM-CONTROLLERS")]

KINDS = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
]
LABELS = {"app": "ctl"}


def _pods(clients: Clients, namespace: str) -> list[str]:
    return [
        p.metadata.name
        for p in clients.core().list_namespaced_pod(namespace, label_selector="app=ctl").items
    ]


def _failed_create_events(clients: Clients, namespace: str) -> list[str]:
    return [
        e.message or ""
        for e in clients.core().list_namespaced_event(namespace).items
        if e.reason == "FailedCreate"
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_controller_without_policy(
    kind: str,
    clients: Clients,
    namespace: str,
    verify: Verify,
    enforcing: Constraint,
    probe_image: str,
    run_state: RunState,
) -> None:
    body = adm.workload_manifest(
        kind, namespace, kind.lower(), LABELS, probe_image, run_state.options.run_id
    )
    result = adm.create(clients, body)
    if enforcing.matches(kind):
        verify.refused(result, f"{kind} without policy")
        return
    # Only Pods are matched: the controller exists, its pods are refused.
    assert result.admitted, result.describe()
    if verify.action != "deny":
        pytest.skip(
            f"{kind} is not matched by {enforcing.name}; in {verify.action} mode the "
            "warnings or audit entries of its pods are not observable from here"
        )
    if kind == "CronJob":
        pytest.skip(
            "a suspended CronJob creates no pods; its kind is not matched by this constraint"
        )
    kube.wait_until(
        f"FailedCreate events naming {enforcing.name} for the {kind}",
        lambda: any(enforcing.name in m for m in _failed_create_events(clients, namespace)),
        timeout=60,
    )
    assert _pods(clients, namespace) == [], "pods were created although no policy selects them"


@pytest.mark.parametrize("kind", KINDS)
def test_controller_with_policy_runs_pods(
    kind: str,
    clients: Clients,
    namespace: str,
    verify: Verify,
    probe_image: str,
    run_state: RunState,
) -> None:
    run_id = run_state.options.run_id
    apply_policies(clients, [policy(namespace, "ctl", {"matchLabels": LABELS})], run_id)
    body = adm.workload_manifest(
        kind, namespace, kind.lower(), LABELS, probe_image, run_id, start=True
    )
    verify.admitted(adm.create_after_sync(clients, body), f"{kind} with policy")
    if kind == "CronJob":
        # Its pods come from Jobs made from its template: make one, as
        # `kubectl create job --from=cronjob/...` does.
        cj = clients.batch().read_namespaced_cron_job(kind.lower(), namespace)
        job = adm.workload_manifest(
            "Job", namespace, "from-cronjob", LABELS, probe_image, run_id, start=True
        )
        job["spec"]["template"] = clients.api().sanitize_for_serialization(
            cj.spec.job_template.spec.template
        )
        verify.admitted(adm.create(clients, job), "Job from the CronJob's template")
    try:
        kube.wait_until(
            f"a pod of the {kind} to run",
            lambda: _running(clients, namespace),
            timeout=120,
            diagnose=lambda: kube.diagnose_pods(clients, namespace),
        )
    except ApiException as e:  # pragma: no cover - surfaced by wait_until
        raise AssertionError(str(e)) from None


def _running(clients: Clients, namespace: str) -> bool:
    pods = clients.core().list_namespaced_pod(namespace, label_selector="app=ctl").items
    return any(p.status.phase == "Running" for p in pods)
