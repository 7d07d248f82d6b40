"""Scenario 6: the audit lists pods that no policy selects, including pods that existed
before the constraint reached them. The suite reproduces the seed's check,

    kubectl get k8srequirenetworkpolicy.constraints.gatekeeper.sh <name> -ojson \\
      | jq .status.violations

and puts the violations in the report."""

from __future__ import annotations

import pytest

from npconform.cluster.client import Clients
from npconform.cluster.workload import delete_namespaces, ensure_namespace, set_namespace_labels
from npconform.gatekeeper import admission as adm
from npconform.platform.target import RunState

from .conftest import Constraint

pytestmark = [pytest.mark.admission, pytest.mark.cluster, pytest.mark.check("ADM-AUDIT")]


def test_preexisting_pod_appears_in_audit_violations(
    clients: Clients,
    run_state: RunState,
    enforcing: Constraint,
    probe_image: str,
    worker_id_short: str,
    record_evidence,
) -> None:
    label = run_state.capabilities.exemption_label
    if label is None:
        pytest.skip(
            f"{enforcing.name} exempts no namespace by label: "
            "cannot place a pod before the constraint"
        )
    name = f"{run_state.options.namespace_prefix}-{worker_id_short}-audit"
    run_id = run_state.options.run_id
    ensure_namespace(clients, name, {label[0]: label[1]}, run_id)
    try:
        # Exempt at creation: the pod exists before the constraint applies to it ...
        body = adm.workload_manifest("Pod", name, "old-pod", {"app": "legacy"}, probe_image, run_id)
        assert adm.create(clients, body).admitted
        # ... then the namespace comes into the constraint's scope.
        set_namespace_labels(clients, name, {label[0]: None})
        listed = adm.wait_audited(
            clients, enforcing.name, name, "old-pod", "Pod", enforcing.audit_timeout
        )
        vs, total, ts = adm.violations(clients, enforcing.name)
        record_evidence("audit_violations", vs)
        assert listed, (
            f"pod {name}/old-pod has no selecting policy but {enforcing.name}'s audit "
            "did not list it "
            f"within {enforcing.audit_timeout:.0f}s (totalViolations {total}, last audit {ts})"
        )
        assert total >= 1
        ours = [v for v in vs if v.get("namespace") == name]
        assert all("No matching networkpolicy found" in v.get("message", "") for v in ours), ours
    finally:
        delete_namespaces(clients, f"kubernetes.io/metadata.name={name}")
