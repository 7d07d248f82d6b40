"""Proof that the suite fails on broken clusters, with the right diagnosis.

For each fault: the part of the suite that checks the broken safeguard runs against the
broken cluster (as an existing target, in a separate pytest process) and must fail with
a message naming the cause; then the fault is repaired and the same part must pass."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from npconform.platform.target import RunState

from .inject import FAULT_IMAGES, FAULTS, Fault

pytestmark = [pytest.mark.faults, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(args: list[str], report: Path, timeout: int) -> tuple[int, str]:
    """Run part of the suite in its own pytest process; (exit status, output)."""
    cmd = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-q"]
    cmd += ["--report-dir", str(report)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def run_suite(state: RunState, fault: Fault, tmp: Path, broken: bool) -> tuple[int, str]:
    args = [*fault.selection, "--target", "existing", "--kubeconfig", str(state.kubeconfig)]
    args += ["--expect-enforcement", "deny", "--allow-cluster-changes", *fault.extra_args]
    if broken:
        args += [FAULT_IMAGES[a[1:]]() if a.startswith("@") else a for a in fault.broken_args]
    return pytest_run(args, tmp, 900)


def results_of(report: Path) -> dict[str, Any]:
    path = report / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def bad_checks(results: dict[str, Any]) -> list[str]:
    return [c["id"] for c in results.get("checks", []) if c["status"] in ("failed", "error")]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_caught_and_repair_passes(
    fault: Fault, run_state: RunState, tmp_path: Path, record_evidence
) -> None:
    clients = run_state.clients()
    fault.inject(clients)
    try:
        code, out = run_suite(run_state, fault, tmp_path / "broken", broken=True)
    finally:
        fault.repair(clients)
    broken = results_of(tmp_path / "broken")
    missing = [s for s in fault.expect if s not in out]
    caught = code == 1 and not missing and broken.get("verdict") == fault.verdict
    failed_tests = [
        t["nodeid"] for t in broken.get("tests", []) if t["outcome"] in ("failed", "error")
    ]
    code2, out2 = run_suite(run_state, fault, tmp_path / "repaired", broken=False)
    repaired = results_of(tmp_path / "repaired")
    record_evidence(
        "fault",
        {
            "fault": fault.name,
            "what": fault.what,
            "caught": caught,
            "exit": code,
            "verdict": broken.get("verdict"),
            "verdict_reason": broken.get("verdict_reason"),
            "caught_by": failed_tests,
            "expect": fault.expect,
            "repaired_exit": code2,
            "repaired_bad_checks": bad_checks(repaired),
        },
    )
    assert code == 1, f"the suite did not fail on '{fault.name}' (exit {code}):\n{out[-3000:]}"
    assert not missing, f"the failure does not name the cause: missing {missing}\n{out[-5000:]}"
    assert broken.get("verdict") == fault.verdict, (
        f"verdict {broken.get('verdict')} ({broken.get('verdict_reason')}), "
        f"expected {fault.verdict}"
    )
    assert code2 == 0, (
        f"after repairing '{fault.name}' the suite still fails (exit {code2}):\n{out2[-3000:]}"
    )
    assert not bad_checks(repaired), bad_checks(repaired)
    if fault.verdict == "FAIL":
        # the drift between the healthy and the broken run, as a reviewer would see it
        diff = subprocess.run(
            [
                sys.executable,
                "-m",
                "npconform.cli",
                "diff",
                str(tmp_path / "repaired"),
                str(tmp_path / "broken"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert diff.returncode == 1, diff.stdout + diff.stderr
        assert "FAIL" in diff.stdout, diff.stdout


def test_a_partial_run_is_incomplete_naming_what_is_missing(
    run_state: RunState, tmp_path: Path, record_evidence
) -> None:
    """`-k tenants`: what ran passes, but nothing else was proven."""
    args = [
        "suites",
        "-k",
        "tenants",
        "--target",
        "existing",
        "--kubeconfig",
        str(run_state.kubeconfig),
    ]
    code, out = pytest_run(args, tmp_path, 900)
    results = results_of(tmp_path)
    reason = str(results.get("verdict_reason"))
    record_evidence(
        "fault",
        {
            "fault": "partial run",
            "what": "pytest suites -k tenants",
            "caught": results.get("verdict") == "INCOMPLETE",
            "exit": code,
            "verdict": results.get("verdict"),
            "verdict_reason": reason,
            "caught_by": [],
            "expect": ["INCOMPLETE", "NET-SEMANTICS (deselected)", "ADM-WEBHOOK (deselected)"],
            "repaired_exit": None,
        },
    )
    assert code == 0, out[-3000:]
    assert results.get("verdict") == "INCOMPLETE", reason
    assert "NET-SEMANTICS (deselected)" in reason and "ADM-WEBHOOK (deselected)" in reason, reason
    seg = next(c for c in results["controls"] if c["id"] == "A.8.22")
    assert seg["verdict"] == "INCOMPLETE" and seg["missing"][0]["id"] == "SEG-COMPONENTS", seg


def test_an_interrupted_run_is_incomplete(
    run_state: RunState, tmp_path: Path, record_evidence
) -> None:
    """SIGTERM in the middle of a run: the bundle is written, and it says INCOMPLETE."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites/traffic/test_semantics.py",
        "-p",
        "no:cacheprovider",
    ]
    cmd += ["-q", "--report-dir", str(tmp_path), "--target", "existing"]
    cmd += ["--kubeconfig", str(run_state.kubeconfig)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    time.sleep(60)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    results = results_of(tmp_path)
    record_evidence(
        "fault",
        {
            "fault": "interrupted run",
            "what": "SIGTERM 60 s into suites/traffic/test_semantics.py",
            "caught": results.get("verdict") == "INCOMPLETE",
            "exit": proc.returncode,
            "verdict": results.get("verdict"),
            "verdict_reason": results.get("verdict_reason"),
            "caught_by": [],
            "expect": ["INCOMPLETE", "interrupted"],
            "repaired_exit": None,
        },
    )
    assert results.get("run", {}).get("interrupted") is True, out[-3000:]
    assert results.get("verdict") == "INCOMPLETE", results.get("verdict_reason")
    assert "interrupted" in str(results.get("verdict_reason"))
    assert results["selection"]["not_run"], "some selected tests did not run"


def run_own_cluster(args: list[str], tmp: Path) -> tuple[int, str]:
    # kube-router rejects denied traffic (REJECT, icmp-port-unreachable): on a kind run that
    # installs it, --deny-response defaults to "reject", its documented behaviour
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
