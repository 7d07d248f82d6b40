"""Scenario 5: exemptions and the limits of the constraint's match."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.cluster.workload import delete_namespaces, ensure_namespace
from npconform.gatekeeper import admission as adm
from npconform.platform.target import RunState

from .conftest import Constraint, Verify

pytestmark = [pytest.mark.admission, pytest.mark.cluster, pytest.mark.check("ADM-SCOPE")]


def test_kube_system_admits_pods_without_policy(
    clients: Clients, enforcing: Constraint, verify: Verify, probe_image: str, run_state: RunState
) -> None:
    """Checked with a server-side dry run: nothing is created in kube-system."""
    body = adm.workload_manifest(
        "Pod",
        "kube-system",
        f"npconform-{run_state.options.run_id}-exempt",
        {"app": "x"},
        probe_image,
        run_state.options.run_id,
    )
    try:
        result = adm.create(clients, body, dry_run=True)
    except ApiException as e:
        if e.status == 403:
            pytest.skip(
                "the suite's credentials may not create pods in kube-system (even as a dry run)"
            )
        raise
    verify.admitted(result, "pod without policy in kube-system (dry run)")


def test_namespace_with_platform_label_admits_pods_without_policy(
    clients: Clients,
    run_state: RunState,
    enforcing: Constraint,
    verify: Verify,
    probe_image: str,
    worker_id_short: str,
) -> None:
    label = run_state.capabilities.exemption_label
    if label is None:
        pytest.skip(f"{enforcing.name} exempts no namespace by label")
    name = f"{run_state.options.namespace_prefix}-{worker_id_short}-platform"
    ensure_namespace(clients, name, {label[0]: label[1]}, run_state.options.run_id)
    try:
        body = adm.workload_manifest(
            "Pod", name, "platform-pod", {"app": "x"}, probe_image, run_state.options.run_id
        )
        verify.admitted(
            adm.create(clients, body),
            f"pod without policy in a namespace labelled {label[0]}={label[1]}",
        )
    finally:
        delete_namespaces(clients, f"kubernetes.io/metadata.name={name}")


def test_unmatched_kinds_are_not_refused(
    clients: Clients, namespace: str, enforcing: Constraint, verify: Verify
) -> None:
    """A Service or ConfigMap is outside the constraint's match: created without any policy."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "namespace": namespace},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
    }
    resp = clients.core().create_namespaced_service_with_http_info(namespace, svc)
    warnings = adm.parse_warnings(adm.status_headers(resp)[1])
    assert not any("No matching networkpolicy" in w for w in warnings), warnings
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": namespace},
        "data": {},
    }
    clients.core().create_namespaced_config_map(namespace, cm)
