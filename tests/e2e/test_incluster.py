"""The suite as a CronJob inside the cluster: `npconform install-cronjob` installs the
suite image (built offline, served by the local mirror), a run started from the CronJob
writes the verdict ConfigMap and the bundle, `npconform fetch-report` gets the bundle back
intact, a second run beside an active one is refused; with a fault of the fault table
injected (a Calico GlobalNetworkPolicy of order 0 allowing everything), the next run's Job
fails and the verdict ConfigMap names the control."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from tests.e2e.cli import npconform
from tests.faults.inject import ALLOW_ALL, _create_gnp, _delete_gnp

from npconform.cluster.client import Clients, to_dict
from npconform.incluster.install import binding_name
from npconform.incluster.publish import VERDICT_CONFIGMAP, VERDICT_LABEL
from npconform.platform.target import RunState

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.mutates_network,
    pytest.mark.check("INCLUSTER-RUN"),
]

CRONJOB = "npconform"
#: What the scheduled run runs here: the tenant and component scenarios (A.8.22), so that
#: one control is complete and the injected fault fails it.
SUITES = ["suites/traffic/test_tenants.py", "suites/traffic/test_components.py", "-n", "2"]


def start_run(c: Clients, ns: str, name: str) -> None:
    """`kubectl create job --from=cronjob/npconform NAME`."""
    cj = c.batch().read_namespaced_cron_job(CRONJOB, ns)
    template = to_dict(cj.spec.job_template)
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": template["metadata"]["labels"],
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": CRONJOB,
                    "uid": cj.metadata.uid,
                    "controller": True,
                }
            ],
        },
        "spec": template["spec"],
    }
    c.batch().create_namespaced_job(ns, body)


def logs(c: Clients, ns: str, job: str) -> str:
    pods = c.core().list_namespaced_pod(ns, label_selector=f"job-name={job}").items
    out = []
    for p in pods:
        try:
            out.append(c.core().read_namespaced_pod_log(p.metadata.name, ns)[-4000:])
        except ApiException as e:
            out.append(f"(no log of {p.metadata.name}: HTTP {e.status})")
    return "\n".join(out)


def wait_job(c: Clients, ns: str, job: str, timeout: float = 900) -> str:
    """'succeeded' or 'failed'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = c.batch().read_namespaced_job(job, ns).status
        if st.succeeded:
            return "succeeded"
        if st.failed:
            return "failed"
        time.sleep(3)
    raise AssertionError(f"job {job} did not finish in {timeout:.0f}s:\n{logs(c, ns, job)}")


def verdict(c: Clients, ns: str) -> tuple[dict[str, str], dict[str, str]]:
    cm = c.core().read_namespaced_config_map(VERDICT_CONFIGMAP, ns)
    return dict(cm.data or {}), dict(cm.metadata.labels or {})


@contextlib.contextmanager
def without_creating_policies(c: Clients, ns: str) -> Iterator[str]:
    """The run's binding moved to a copy of the verifier ClusterRole that may not create
    NetworkPolicies; restored after."""
    role = to_dict(c.rbac().read_cluster_role("npconform-verifier"))
    reduced = f"npconform-verifier-no-netpol-{ns}"
    for rule in role["rules"]:
        if "networkpolicies" in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "create"]
    c.rbac().create_cluster_role({"metadata": {"name": reduced}, "rules": role["rules"]})
    name = binding_name(ns, "npconform-verifier")
    original = to_dict(c.rbac().read_cluster_role_binding(name))

    def bind(role_name: str) -> None:
        c.rbac().delete_cluster_role_binding(name)
        c.rbac().create_cluster_role_binding(
            {
                "metadata": {"name": name, "labels": original["metadata"].get("labels", {})},
                "roleRef": {**original["roleRef"], "name": role_name},
                "subjects": original["subjects"],
            }
        )

    bind(reduced)
    try:
        yield reduced
    finally:
        bind("npconform-verifier")
        c.rbac().delete_cluster_role(reduced)


def test_cronjob_runs_publishes_and_fails_on_a_fault(run_state: RunState, tmp_path: Path) -> None:
    kc = run_state.kubeconfig
    assert kc is not None
    c = run_state.clients()
    ns = f"npconform-ic-{run_state.options.run_id}"
    inst = npconform(
        kc,
        "install-cronjob",
        "--namespace",
        ns,
        # a platform namespace by the run's platform rule: its ServiceAccount may patch
        # namespaces (the suite relabels its own), which a tenant's must not
        "--namespace-label",
        "owner=operator",
        "--schedule",
        "@yearly",
        "--keep",
        "2",
        "--",
        *SUITES,
    )
    assert inst.returncode == 0, inst.stderr
    print(inst.stdout)
    try:
        cj = c.batch().read_namespaced_cron_job(CRONJOB, ns)
        assert cj.spec.concurrency_policy == "Forbid"
        pod = cj.spec.job_template.spec.template.spec
        assert pod.containers[0].security_context.read_only_root_filesystem is True
        assert pod.security_context.run_as_non_root is True

        # -- a healthy run, and a second one beside it, refused --------------------------
        t0 = time.monotonic()
        start_run(c, ns, "run-1")
        time.sleep(1)
        start_run(c, ns, "run-2")
        assert wait_job(c, ns, "run-2", 300) == "failed"
        assert "refused: run run-1 is still active" in logs(c, ns, "run-2")
        state = wait_job(c, ns, "run-1")
        took = time.monotonic() - t0
        log1 = logs(c, ns, "run-1")
        print(f"run-1: {state} in {took:.1f}s\n{log1[-1500:]}")
        assert state == "succeeded", log1
        data, labels = verdict(c, ns)
        print(json.dumps(data, indent=1))
        assert data["job"] == "run-1"
        controls = dict(line.split(": ", 1) for line in data["controls"].splitlines())
        assert controls["A.8.22"] == "PASS", data["controls"]
        assert labels[VERDICT_LABEL] == data["verdict"] == "INCOMPLETE", data  # A.8.20/21 not run
        assert data["bundle.sha256"] and int(data["bundle.parts"]) >= 1

        out = tmp_path / "bundle"
        fetched = npconform(kc, "fetch-report", "--namespace", ns, "--out", str(out))
        assert fetched.returncode == 0, fetched.stderr
        print(fetched.stdout)
        results = json.loads((out / "results.json").read_text())
        assert results["run"]["id"] == data["run"]
        assert results["run"]["options"]["target"] == "in-cluster"
        assert "serviceaccount" in results["identity"]["user"]["username"]
        check = npconform(kc, "verdict", str(out))
        assert check.returncode == 3, check.stdout + check.stderr

        # -- a permission the run lacks: INCOMPLETE, naming it; never PASS -----------------
        with without_creating_policies(c, ns):
            start_run(c, ns, "run-3")
            state = wait_job(c, ns, "run-3")
        data, labels = verdict(c, ns)
        print(f"run-3: {state}\n{json.dumps(data, indent=1)}")
        assert data["job"] == "run-3"
        assert state == "succeeded"  # --fail-on fail: INCOMPLETE does not fail the Job
        assert labels[VERDICT_LABEL] == data["verdict"] == "INCOMPLETE", data
        assert "A.8.22 (INCOMPLETE)" in data["not-passed"], data
        assert "missing permission: networkpolicies.networking.k8s.io" in data["checks"], data
        assert 'cannot create resource "networkpolicies"' in data["checks"], data

        # -- a platform fault: the next run's Job fails, naming the control -------------
        # The fault opens the whole cluster: no other test takes a traffic verdict meanwhile.
        with run_state.network_lock(exclusive=True):
            _create_gnp(ALLOW_ALL)(c)
            try:
                start_run(c, ns, "run-4")
                state = wait_job(c, ns, "run-4")
                log4 = logs(c, ns, "run-4")
                print(f"run-4: {state}\n{log4[-2500:]}")
            finally:
                _delete_gnp(ALLOW_ALL["metadata"]["name"])(c)
        assert state == "failed", log4
        data, labels = verdict(c, ns)
        print(json.dumps(data, indent=1))
        assert data["job"] == "run-4"
        assert labels[VERDICT_LABEL] == data["verdict"] == "FAIL"
        assert "A.8.22 (FAIL)" in data["not-passed"], data
        assert "leak" in data["reason"], data["reason"]
        assert "SEG-TENANTS failed" in data["checks"], data["checks"]
        listed = npconform(kc, "fetch-report", "--namespace", ns, "--list")
        # --keep 2: the bundles of the last two runs that wrote one
        assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2, listed.stdout
    finally:
        gone = npconform(kc, "uninstall-cronjob", "--namespace", ns)
        print(gone.stdout, gone.stderr)
