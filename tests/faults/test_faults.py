"""Proof that the suite fails on broken clusters, with the right diagnosis.

For each fault: the part of the suite that checks the broken safeguard runs against the
broken cluster (as an existing target, in a separate pytest process) and must fail with
a message naming the cause; then the fault is repaired and the same part must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from npconform.faults import FAULTS, Fault
from npconform.session import RunState

pytestmark = [pytest.mark.faults, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(args: list[str], report: Path, timeout: int) -> tuple[int, str]:
    """Run part of the suite in its own pytest process; (exit status, output)."""
    cmd = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-q"]
    cmd += ["--report-dir", str(report)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def run_suite(state: RunState, fault: Fault, tmp: Path) -> tuple[int, str]:
    args = [*fault.selection, "--target", "existing", "--kubeconfig", str(state.kubeconfig)]
    args += ["--expect-enforcement", "deny", "--allow-cluster-changes", *fault.extra_args]
    return pytest_run(args, tmp, 900)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_caught_and_repair_passes(
    fault: Fault, run_state: RunState, tmp_path: Path, record_evidence
) -> None:
    clients = run_state.clients()
    fault.inject(clients)
    try:
        code, out = run_suite(run_state, fault, tmp_path / "broken")
    finally:
        fault.repair(clients)
    missing = [s for s in fault.expect if s not in out]
    caught = code == 1 and not missing
    failed_tests = (
        [
            t["nodeid"]
            for t in json.loads((tmp_path / "broken" / "results.json").read_text())["tests"]
            if t["outcome"] in ("failed", "error")
        ]
        if (tmp_path / "broken" / "results.json").exists()
        else []
    )
    code2, out2 = run_suite(run_state, fault, tmp_path / "repaired")
    record_evidence(
        "fault",
        {
            "fault": fault.name,
            "what": fault.what,
            "caught": caught,
            "exit": code,
            "caught_by": failed_tests,
            "expect": fault.expect,
            "repaired_exit": code2,
        },
    )
    assert code == 1, f"the suite did not fail on '{fault.name}' (exit {code}):\n{out[-3000:]}"
    assert not missing, f"the failure does not name the cause: missing {missing}\n{out[-5000:]}"
    assert code2 == 0, (
        f"after repairing '{fault.name}' the suite still fails (exit {code2}):\n{out2[-3000:]}"
    )


def run_own_cluster(args: list[str], tmp: Path) -> tuple[int, str]:
    selection = ["suites/traffic/test_tenants.py", "suites/traffic/test_components.py"]
    own = ["--cni", "kube-router", "--cluster-name", "npconform-cni-fault"]
    return pytest_run([*selection, *own, *args], tmp, 1800)


def test_cni_ignoring_networkpolicies_is_caught(tmp_path: Path, record_evidence) -> None:
    """A CNI that routes pod traffic but ignores NetworkPolicies (kube-router without its
    firewall), on a kind cluster of its own; then the same CNI with its firewall on."""
    code, out = run_own_cluster(["--no-cni-firewall"], tmp_path / "broken")
    expect = ["kube-router runs without its firewall", "leak"]
    missing = [s for s in expect if s not in out]
    code2, out2 = run_own_cluster([], tmp_path / "repaired")
    record_evidence(
        "fault",
        {
            "fault": "CNI ignoring NetworkPolicies",
            "what": "kube-router routing pod traffic with --run-firewall=false",
            "caught": code == 1 and not missing,
            "exit": code,
            "caught_by": [
                "test_tenant_pairs_are_segregated",
                "test_components_only_required_flows",
            ],
            "expect": expect,
            "repaired_exit": code2,
        },
    )
    assert code == 1, f"the suite did not fail on a CNI without policy enforcement:\n{out[-3000:]}"
    assert not missing, f"the failure does not name the cause: missing {missing}\n{out[-5000:]}"
    assert code2 == 0, f"with kube-router's firewall on the suite still fails:\n{out2[-3000:]}"
