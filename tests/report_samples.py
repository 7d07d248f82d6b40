"""Realistic results documents for the report tests: a passing and a failing run.

The failing run has a traffic leak, a traffic loss, an unobserved probe, a failed test, an
admission mismatch, audit violations and a required check that could not be tested; its
messages carry markup (``<script>``) that the report must escape.
"""

from __future__ import annotations

import copy
from typing import Any

SCRIPT = '<script>alert("owned")</script>'

TENANT_PODS = ["tenant-a/frontend", "tenant-a/backend", "tenant-b/frontend", "tenant-b/database"]
TENANT_PORTS = [(8080, "TCP"), (5432, "TCP")]
XYZ_PODS = [f"{ns}/{p}" for ns in ("x", "y", "z") for p in ("a", "b", "c")]
XYZ_PORTS = [(80, "TCP"), (81, "TCP"), (80, "UDP"), (81, "UDP")]

T_SMOKE = "tests/e2e/test_smoke.py::test_cluster_ready_and_enforcing"
T_ADM_DENY = "suites/admission/test_require_networkpolicy.py::test_pod_without_policy_denied"
T_ADM_ALLOW = "suites/admission/test_require_networkpolicy.py::test_pod_with_policy_admitted"
T_ADM_DEPLOY = "suites/admission/test_require_networkpolicy.py::test_deployment_without_policy"
T_ADM_EXEMPT = "suites/admission/test_require_networkpolicy.py::test_exempt_namespace_admitted"
T_TENANTS = "suites/traffic/test_tenants.py::test_cross_tenant_blocked"
T_XYZ = "suites/traffic/test_upstream.py::test_deny_all_then_allow_same_namespace"
T_EGRESS = "suites/traffic/test_egress.py::test_egress_to_external_blocked"
T_SCTP = "suites/traffic/test_protocols.py::test_sctp_policy"
T_IPV6 = "suites/traffic/test_protocols.py::test_ipv6_ipblock"


def _cells(
    sources: list[str], dests: list[str], ports: list[tuple[int, str]], allowed: Any
) -> list[dict[str, Any]]:
    return [
        {"src": s, "dst": d, "port": p, "protocol": proto, "allowed": bool(allowed(s, d, p))}
        for s in sources
        for d in dests
        for p, proto in ports
    ]


def _ns(ref: str) -> str:
    return ref.split("/", 1)[0]


def _policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
    }


def _scenarios() -> list[dict[str, Any]]:
    tenant_sources = [*TENANT_PODS, "ext/host"]

    def same_tenant(s: str, d: str, p: int) -> bool:
        return _ns(s) == _ns(d)

    def opened(s: str, d: str, p: int) -> bool:
        return same_tenant(s, d, p) or (s, d, p) == ("tenant-a/backend", "tenant-b/database", 5432)

    same_ns = {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}]}],
    }
    platform = [
        _policy(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        for ns in ("tenant-a", "tenant-b")
    ] + [_policy(ns, "allow-same-namespace", same_ns) for ns in ("tenant-a", "tenant-b")]
    db = _policy(
        "tenant-b",
        "database-from-tenant-a-backend",
        {
            "podSelector": {"matchLabels": {"app": "database"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "tenant-a"}
                            },
                            "podSelector": {"matchLabels": {"app": "backend"}},
                        }
                    ],
                    "ports": [{"port": 5432, "protocol": "TCP"}],
                }
            ],
        },
    )
    tenants1 = _cells(tenant_sources, TENANT_PODS, TENANT_PORTS, same_tenant)
    tenants2 = _cells(tenant_sources, TENANT_PODS, TENANT_PORTS, opened)
    xyz = _cells(XYZ_PODS, XYZ_PODS, XYZ_PORTS, lambda s, d, p: _ns(s) == _ns(d))
    return [
        {
            "test": T_TENANTS,
            "scenario": "tenants",
            "step": "platform policies",
            "ok": True,
            "oracle_agrees": True,
            "converge_s": 1.4,
            "rounds": 2,
            "flapping": [],
            "expected": tenants1,
            "observed": copy.deepcopy(tenants1),
            "policies": platform,
        },
        {
            "test": T_TENANTS,
            "scenario": "tenants",
            "step": "tenant-b opens its database to tenant-a/backend",
            "ok": True,
            "oracle_agrees": True,
            "converge_s": 2.9,
            "rounds": 3,
            "flapping": ["tenant-a/backend -> tenant-b/database:5432/TCP"],
            "expected": tenants2,
            "observed": copy.deepcopy(tenants2),
            "policies": [*platform, db],
        },
        {
            "test": T_XYZ,
            "scenario": "upstream deny-all, allow same namespace",
            "step": "allow same namespace",
            "ok": True,
            "oracle_agrees": True,
            "converge_s": 3.8,
            "rounds": 2,
            "flapping": [],
            "expected": xyz,
            "observed": copy.deepcopy(xyz),
            "policies": [_policy(ns, "allow-same-namespace", same_ns) for ns in ("x", "y", "z")],
        },
    ]


def _test(nodeid: str, outcome: str, duration: float, area: str, msg: str = "") -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "outcome": outcome,
        "duration_s": duration,
        "area": area,
        "message": msg,
    }


def passing_results() -> dict[str, Any]:
    """A clean run on kind: every required check passed; SCTP and IPv6 skipped (optional)."""
    tests = [
        _test(T_SMOKE, "passed", 8.2, "smoke"),
        _test(T_ADM_DENY, "passed", 1.1, "admission"),
        _test(T_ADM_ALLOW, "passed", 1.3, "admission"),
        _test(T_ADM_DEPLOY, "passed", 2.0, "admission"),
        _test(T_ADM_EXEMPT, "passed", 0.9, "admission"),
        _test(T_TENANTS, "passed", 24.6, "traffic"),
        _test(T_XYZ, "passed", 31.2, "traffic"),
        _test(T_EGRESS, "passed", 9.8, "traffic"),
        _test(T_SCTP, "skipped", 0.0, "traffic", "the kernel has no SCTP support (sctp module)"),
        _test(T_IPV6, "skipped", 0.0, "traffic", "the cluster is IPv4-only"),
    ]
    return {
        "tool": {"name": "npconform", "version": "0.1.0"},
        "run": {
            "id": "a1b2c3",
            "started": "2026-11-27T13:00:00Z",
            "finished": "2026-11-27T13:05:12Z",
            "duration_s": 312.4,
            "options": {"target": "kind", "workers": 2, "seed": 4711, "offline": True},
            "command": "pytest suites -n 2",
        },
        "environment": {
            "target": "kind",
            "kubernetes": "v1.37.2",
            "cni": "calico",
            "gatekeeper": "v3.23.1",
            "constraint": {"name": "require-networkpolicy", "enforcementAction": "deny"},
            "nodes": [
                {
                    "name": "npconform-control-plane",
                    "ready": True,
                    "control_plane": True,
                    "internal_ip": "172.18.0.2",
                },
                {
                    "name": "npconform-worker",
                    "ready": True,
                    "control_plane": False,
                    "internal_ip": "172.18.0.3",
                },
                {
                    "name": "npconform-worker2",
                    "ready": True,
                    "control_plane": False,
                    "internal_ip": "172.18.0.4",
                },
            ],
            "offline": True,
            "images": {"probe": "registry.k8s.io/e2e-test-images/agnhost:2.66.1"},
        },
        "verdict": "PASS",
        "summary": {"passed": 8, "failed": 0, "skipped": 2, "error": 0, "total": 10},
        "controls": [],
        "tests": tests,
        "scenarios": _scenarios(),
        "admission": [
            {
                "test": T_ADM_DENY,
                "case": "pod without policy",
                "kind": "Pod",
                "expected": "denied",
                "observed": "denied",
                "ok": True,
                "message": (
                    'admission webhook "validation.gatekeeper.sh" denied the request: '
                    "[require-networkpolicy] No matching networkpolicy found"
                ),
            },
            {
                "test": T_ADM_ALLOW,
                "case": "pod selected by a policy",
                "kind": "Pod",
                "expected": "admitted",
                "observed": "admitted",
                "ok": True,
                "message": "",
            },
            {
                "test": T_ADM_DEPLOY,
                "case": "deployment without policy",
                "kind": "Deployment",
                "expected": "denied",
                "observed": "denied",
                "ok": True,
                "message": (
                    'admission webhook "validation.gatekeeper.sh" denied the request: '
                    "[require-networkpolicy] No matching networkpolicy found"
                ),
            },
            {
                "test": T_ADM_EXEMPT,
                "case": "pod in exempt namespace kube-system",
                "kind": "Pod",
                "expected": "admitted",
                "observed": "admitted",
                "ok": True,
                "message": "",
            },
        ],
        "audit_violations": [],
        "not_tested": [
            {"what": "SCTP", "reason": "the kernel has no SCTP support", "required": False},
            {"what": "IPv6 ipBlock", "reason": "the cluster is IPv4-only", "required": False},
        ],
        "timings": [
            {"step": "cluster", "seconds": 61.2},
            {"step": "cni-ready", "seconds": 40.1},
            {"step": "gatekeeper-ready", "seconds": 35.7},
            {"step": "probes", "seconds": 12.4},
            {"step": "tests", "seconds": 163.0},
        ],
    }


LEAK = ("tenant-a/frontend", "tenant-b/database", 5432, "TCP")
LOSS = ("tenant-a/frontend", "tenant-a/backend", 8080, "TCP")
UNOBSERVED = ("ext/host", "tenant-b/frontend", 8080, "TCP")

FAILURE_MESSAGE = """AssertionError: reachability differs from policy in step 'platform policies'
difference 5432/TCP (+ leak, - loss, ? unknown)
                  |  0  1  2  3
---------------------------------
tenant-a/frontend |  .  .  .  +
tenant-a/backend  |  .  .  .  .
columns: 0=tenant-a/frontend  1=tenant-a/backend  2=tenant-b/frontend  3=tenant-b/database
reachability: correct:38, incorrect:2
annotation from the pod: """


def failing_results() -> dict[str, Any]:
    """The passing run with a CNI that leaks: one cell allowed that policy blocks, one blocked
    that policy allows, a probe without an answer, a constraint that let a Deployment in."""
    r = passing_results()
    r["run"]["id"] = "f00d42"
    r["verdict"] = "FAIL"
    step = r["scenarios"][0]
    step["ok"] = False
    step["flapping"] = ["tenant-a/frontend -> tenant-b/database:5432/TCP"]
    step["rounds"] = 6
    step["converge_s"] = 30.0
    observed = []
    for c in step["observed"]:
        key = (c["src"], c["dst"], c["port"], c["protocol"])
        if key == UNOBSERVED:
            continue
        if key in (LEAK, LOSS):
            c = {**c, "allowed": key == LEAK}
        observed.append(c)
    step["observed"] = observed
    for t in r["tests"]:
        if t["nodeid"] == T_TENANTS:
            t["outcome"] = "failed"
            t["message"] = FAILURE_MESSAGE + SCRIPT
        if t["nodeid"] == T_ADM_DEPLOY:
            t["outcome"] = "failed"
            t["message"] = "AssertionError: expected denied, observed admitted"
    deploy = r["admission"][2]
    deploy.update(
        {
            "observed": "admitted",
            "ok": False,
            "message": f"deployment.apps/web-{SCRIPT} created",
        }
    )
    r["tests"].append(
        _test(
            "suites/traffic/test_tenants.py::test_dns_egress",
            "error",
            0.4,
            "traffic",
            "fixture 'coredns' failed: timed out after 30s waiting for kube-dns endpoints",
        )
    )
    r["audit_violations"] = [
        {
            "kind": "Pod",
            "namespace": "legacy",
            "name": "batch-7f9c",
            "message": "No matching networkpolicy found for Pod legacy/batch-7f9c",
            "enforcementAction": "deny",
        },
        {
            "kind": "Deployment",
            "namespace": "legacy",
            "name": f"web-{SCRIPT}",
            "message": "No matching networkpolicy found",
            "enforcementAction": "deny",
        },
    ]
    r["not_tested"].append(
        {
            "what": "egress to the cloud metadata service",
            "reason": "no external endpoint reachable in offline mode",
            "required": True,
            "area": "traffic",
        }
    )
    return r
