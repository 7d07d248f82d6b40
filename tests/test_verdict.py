"""The verdict rules: a control is PASS only when every check it requires ran and passed;
what did not run is named; a failure anywhere fails the run."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from npconform.verdict import rules
from npconform.verdict.checks import BY_ID as CHECKS
from npconform.verdict.controls import CONTROLS

REQUIRED = [cid for c in CONTROLS for cid in c.required]


def nodeid(check: str, i: int = 0) -> str:
    return f"suites/x/test_{check.lower().replace('-', '_')}.py::test_{i}"


def doc(**over: Any) -> dict[str, Any]:
    """A run in which every required check ran one test, and it passed."""
    tests = [
        {"nodeid": nodeid(c), "outcome": "passed", "check": c, "duration_s": 1.0, "area": "x"}
        for c in dict.fromkeys(REQUIRED)
    ]
    d: dict[str, Any] = {
        "run": {"id": "r1", "exit_status": 0, "interrupted": False},
        "environment": {
            "cni": "calico",
            "cni_version": "v3.31.0",
            "gatekeeper": "v3.23.1",
            "constraint": {"name": "require-networkpolicy", "enforcementAction": "deny"},
        },
        "selection": {
            "collected": [{"nodeid": t["nodeid"], "check": t["check"]} for t in tests],
            "deselected": [],
            "narrowed": [],
        },
        "tests": tests,
        "scenarios": [
            {
                "test": nodeid("SEG-TENANTS"),
                "scenario": "tenants",
                "step": "platform policies",
                "ok": True,
                "namespaces": {"tenant-a": "npconform-r1-gw0-tenants-tenant-a"},
                "expected": [
                    {"src": "a/x", "dst": "b/y", "port": 80, "protocol": "TCP", "allowed": False},
                    {"src": "t/p", "dst": "b/y", "port": 80, "protocol": "TCP", "allowed": True},
                ],
                "observed": [
                    {
                        "src": "a/x",
                        "dst": "b/y",
                        "port": 80,
                        "protocol": "TCP",
                        "outcome": "timeout",
                        "allowed": False,
                    },
                    {
                        "src": "t/p",
                        "dst": "b/y",
                        "port": 80,
                        "protocol": "TCP",
                        "outcome": "connected",
                        "allowed": True,
                    },
                ],
            }
        ],
        "admission": [],
    }
    d.update(over)
    return d


def status(d: dict[str, Any], check: str) -> dict[str, Any]:
    return next(c for c in rules.compute_checks(d) if c["id"] == check)


def control(d: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in rules.compute_controls(d) if c["id"] == cid)


def test_every_required_check_passed_is_a_pass_with_a_claim_naming_objects() -> None:
    d = rules.finalize(doc())
    assert d["verdict"] == rules.PASS, d["verdict_reason"]
    seg = next(c for c in d["controls"] if c["id"] == "A.8.22")
    assert seg["verdict"] == rules.PASS and seg["iso2013"] == ["A.13.1.3"]
    assert "npconform-r1-gw0-tenants-tenant-a" in seg["evidence"]
    assert "2 probed cells" in seg["evidence"]
    assert "the cluster's own tenants were not examined" in seg["scope"]


@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("deny", "(deny) refused every matched workload kind"),
        ("warn", "(warn) admitted with its warning every matched workload kind"),
        ("dryrun", "(dryrun) admitted, to be listed by its audit, every matched workload kind"),
    ],
)
def test_the_admission_claim_says_what_the_mode_did_and_whose_namespaces(
    action: str, said: str
) -> None:
    """A warn-mode constraint warned, it did not refuse; a platform namespace an exemption
    case ran in is not one of the suite's own."""
    d = doc(
        environment={"constraint": {"name": "elastisys-require-networkpolicy",
                                    "enforcementAction": action}},
        admission=[
            {"test": nodeid("ADM-REFUSE-POD"), "namespace": "npconform-r1-gw0-adm-0"},
            {"test": nodeid("ADM-SCOPE"), "namespace": "kube-system"},
        ],
    )  # fmt: skip
    claim = control(rules.finalize(d), "A.8.21")["evidence"]
    assert said in claim, claim
    assert "in the suite's own namespaces npconform-r1-gw0-adm-0)" in claim, claim
    assert "exempted platform namespaces (also kube-system)" in claim, claim


def test_every_required_check_is_registered() -> None:
    assert set(REQUIRED) <= set(CHECKS)


def test_a_check_not_selected_makes_its_controls_incomplete_naming_it() -> None:
    d = doc()
    d["tests"] = [t for t in d["tests"] if t["check"] != "SEG-TENANTS"]
    d["selection"]["collected"] = [
        i for i in d["selection"]["collected"] if i["check"] != "SEG-TENANTS"
    ]
    assert status(d, "SEG-TENANTS")["status"] == rules.NOT_SELECTED
    c = control(d, "A.8.22")
    assert c["verdict"] == rules.INCOMPLETE
    assert c["missing"][0]["id"] == "SEG-TENANTS" and "SEG-TENANTS not selected" in c["evidence"]
    verdict, reason = rules.compute_verdict(d)
    assert verdict == rules.INCOMPLETE and "A.8.22 incomplete: SEG-TENANTS (not selected)" in reason


def test_deselected_and_narrowed_instances_are_not_proof() -> None:
    d = doc()
    d["selection"]["collected"].append(
        {"nodeid": nodeid("ADM-SELECTORS", 1), "check": "ADM-SELECTORS"}
    )
    d["selection"]["deselected"] = [nodeid("ADM-SELECTORS", 1)]
    assert status(d, "ADM-SELECTORS")["status"] == rules.DESELECTED
    d = doc()
    d["selection"]["narrowed"] = ["ADM-MODES"]
    assert status(d, "ADM-MODES")["status"] == rules.NARROWED
    assert control(d, "A.8.21")["verdict"] == rules.INCOMPLETE


def test_a_skipped_check_is_not_proof() -> None:
    d = doc()
    t = next(t for t in d["tests"] if t["check"] == "ADM-MODES")
    t["outcome"], t["message"] = "skipped", "needs --allow-cluster-changes"
    s = status(d, "ADM-MODES")
    assert s["status"] == rules.SKIPPED and "allow-cluster-changes" in s["reason"]
    assert control(d, "A.8.21")["verdict"] == rules.INCOMPLETE


def test_selected_but_never_run_is_not_run_and_the_run_is_interrupted() -> None:
    d = doc(run={"exit_status": 2, "interrupted": True})
    d["tests"] = [t for t in d["tests"] if t["check"] != "NET-GENERATED"]
    assert status(d, "NET-GENERATED")["status"] == rules.NOT_RUN
    verdict, reason = rules.compute_verdict(d)
    assert verdict == rules.INCOMPLETE and "interrupted" in reason


def test_an_interrupted_run_is_never_a_pass_even_if_everything_it_ran_passed() -> None:
    verdict, _ = rules.compute_verdict(doc(run={"exit_status": 2, "interrupted": True}))
    assert verdict == rules.INCOMPLETE


def test_a_test_error_is_incomplete_not_a_verdict() -> None:
    d = doc(run={"exit_status": 1, "interrupted": False})
    t = next(t for t in d["tests"] if t["check"] == "NET-DNS")
    t.update(
        outcome="failed",
        test_error="ProbeError",
        message="E   ProbeError: probe tool(s) missing in x/a: nc",
    )
    s = status(d, "NET-DNS")
    assert s["status"] == rules.ERROR and "missing in x/a: nc" in s["reason"]
    assert control(d, "A.8.20")["verdict"] == rules.INCOMPLETE
    verdict, reason = rules.compute_verdict(d)
    assert verdict == rules.INCOMPLETE and "could not measure" in reason


def test_a_failure_fails_its_controls_and_the_run() -> None:
    d = doc(run={"exit_status": 1, "interrupted": False})
    next(t for t in d["tests"] if t["check"] == "ADM-REFUSE-POD")["outcome"] = "failed"
    assert control(d, "A.8.21")["verdict"] == rules.FAIL
    assert control(d, "A.8.20")["verdict"] == rules.PASS
    assert rules.compute_verdict(d)[0] == rules.FAIL


def test_a_failure_outside_every_control_still_fails_the_run() -> None:
    d = doc(run={"exit_status": 1, "interrupted": False})
    d["tests"].append(
        {"nodeid": "tests/e2e/test_smoke.py::t", "outcome": "failed", "check": "SMOKE-NODES"}
    )
    assert rules.compute_verdict(d)[0] == rules.FAIL


@pytest.mark.parametrize(
    ("outcome", "allowed", "kind"),
    [("connected", True, "leak"), ("refused", None, "refused")],
)
def test_evidence_contradicting_a_passed_test_fails_its_check(
    outcome: str, allowed: bool | None, kind: str
) -> None:
    d = doc()
    d["scenarios"][0]["observed"][0].update(outcome=outcome, allowed=allowed)
    assert rules.compare_step(d["scenarios"][0])[kind]
    assert status(d, "SEG-TENANTS")["status"] == rules.FAILED
    assert rules.compute_verdict(d)[0] == rules.FAIL


def test_a_nonzero_exit_without_failures_is_incomplete() -> None:
    verdict, reason = rules.compute_verdict(doc(run={"exit_status": 3, "interrupted": False}))
    assert verdict == rules.INCOMPLETE and "status 3" in reason


def test_finalize_is_idempotent_and_leaves_its_input_alone() -> None:
    d = doc()
    before = copy.deepcopy(d)
    once = rules.finalize(d)
    assert d == before
    assert rules.finalize(once) == once


def _with_isolation(outcome: str, test_error: str = "") -> dict[str, Any]:
    d = doc()
    t = {
        "nodeid": nodeid("SEG-DEPLOYED"),
        "outcome": outcome,
        "check": "SEG-DEPLOYED",
        "duration_s": 1.0,
        "area": "x",
    }
    if test_error:
        t.update(test_error=test_error, message="E   IsolationUndetermined: not determined")
    d["tests"].append(t)
    d["selection"]["collected"].append({"nodeid": t["nodeid"], "check": "SEG-DEPLOYED"})
    d["isolation"] = {
        "scope": "every namespace but the runs' own",
        "tenantModel": "tenants by namespace label tenant",
        "inventory": {"namespaces": 9, "pods": 40, "policies": 12, "classes": 15, "tenants": 3},
        "counts": {"FAIL": 0, "WARN": 2, "INFO": 1},
        "matrix": {"tenants": ["blog", "shop", "wiki"], "cells": []},
    }
    return d


def test_the_deployed_isolation_widens_a822_only_when_it_ran_and_passed() -> None:
    plain = control(doc(), "A.8.22")
    assert "deployed" not in plain["evidence"]
    assert "the cluster's own tenants were not examined" in plain["scope"]
    wide = control(_with_isolation("passed"), "A.8.22")
    assert wide["verdict"] == rules.PASS
    assert (
        "The workloads deployed on the cluster, computed from their pods and NetworkPolicies "
        "(not probed), are segregated too: 40 running pods in 15 classes"
    ) in wide["evidence"]
    assert "3 tenants (blog, shop, wiki; tenants by namespace label tenant)" in wide["evidence"]
    assert "were computed from their pods and NetworkPolicies" in wide["scope"]
    failed = control(_with_isolation("failed"), "A.8.22")
    assert failed["verdict"] == rules.FAIL
    assert [m["id"] for m in failed["missing"]] == ["SEG-DEPLOYED"]
    error = control(_with_isolation("failed", test_error="IsolationUndetermined"), "A.8.22")
    assert error["verdict"] == rules.INCOMPLETE and "SEG-DEPLOYED error" in error["evidence"]
    skipped = control(_with_isolation("skipped"), "A.8.22")
    assert skipped["verdict"] == rules.PASS
    assert "deployed" not in skipped["evidence"] and skipped["scope"] == plain["scope"]
