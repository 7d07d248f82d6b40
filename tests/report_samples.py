"""Results documents (v2) for the report tests, raw as ``npconform.report.collect.build``
writes them: the tests finalize them (``npconform.verdict.rules.finalize``).

* ``passing_results()``: every required check of every control has passing tests, and
  ``selection.collected`` lists them; SCTP is skipped (not required). Finalizes to PASS.
* ``failing_results()``: a leak, a loss and a refusal where a block was expected (the CNI
  drops, so a refusal is not a block), a probe that could not run (its test marked
  ``test_error``), a failed admission test with its mismatching case, audit violations and
  a safeguard object changed during the run. Its messages carry markup (``<script>``) that
  the report must escape.
* ``incomplete_results()``: an interrupted run of a partial selection: a check none of
  whose tests was selected, one deselected, one narrowed by node id, one not run.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from npconform.model.netpol import network_policy

SCRIPT = '<script>alert("owned")</script>'
TWIN = "twin/probe"
SCHEMA = "https://npconform.io/schemas/results/v2.json"

A = "suites/admission/"
TR = "suites/traffic/"
T_WEBHOOK = A + "test_enforcement.py::test_webhook_registered_and_constraint_current_on_every_pod"
T_ACTION = A + "test_enforcement.py::test_enforcement_action_is_the_expected_one"
T_REFUSE = A + "test_enforcement.py::test_pod_without_policy_is_refused"
T_ADMIT = A + "test_enforcement.py::test_pod_with_selecting_policy_is_admitted"
T_SELECTORS = [A + f"test_selectors.py::test_selector[{op}]" for op in ("matchLabels", "In")]
T_CONTROLLERS = [
    A + f"test_controllers.py::test_controller_without_policy[{k}]"
    for k in ("Deployment", "StatefulSet", "CronJob")
]
T_LIFECYCLE = A + "test_lifecycle.py::test_after_last_policy_is_deleted_new_pods_are_refused"
T_SCOPE = A + "test_scope.py::test_kube_system_admits_pods_without_policy"
T_AUDIT = A + "test_audit.py::test_preexisting_pod_appears_in_audit_violations"
T_COVERAGE = A + "test_coverage.py::test_every_namespace_is_covered_or_platform"
T_MODES = [A + f"test_modes.py::test_mode_behaves_as_documented[{m}]" for m in ("deny", "warn")]
T_SEMANTICS = TR + "test_semantics.py::test_e2e_category[allow-same-namespace]"
T_IPBLOCK = TR + "test_semantics.py::test_ipblock_egress_with_except"
T_DYNAMICS = [
    TR + "test_dynamics.py::test_policy_update_and_delete",
    TR + "test_dynamics.py::test_pod_and_namespace_relabelling",
]
T_GENERATED = TR + "test_generated.py::test_generated_case[seed4711-case0]"
T_DNS = TR + "test_dns.py::test_dns_only_where_allowed"
T_SCTP = TR + "test_sctp.py::test_sctp"
T_TENANTS = TR + "test_tenants.py::test_tenant_pairs_are_segregated"
T_COMPONENTS = TR + "test_components.py::test_components_only_required_flows"

#: (nodeid, check, area, seconds) of every test of the suite, in collection order.
TESTS: list[tuple[str, str, str, float]] = [
    (T_WEBHOOK, "ADM-WEBHOOK", "admission", 2.1),
    (T_ACTION, "ADM-ACTION", "admission", 0.3),
    (T_REFUSE, "ADM-REFUSE-POD", "admission", 1.2),
    (T_ADMIT, "ADM-ADMIT-POD", "admission", 1.4),
    *((t, "ADM-SELECTORS", "admission", 1.1) for t in T_SELECTORS),
    *((t, "ADM-CONTROLLERS", "admission", 3.2) for t in T_CONTROLLERS),
    (T_LIFECYCLE, "ADM-LIFECYCLE", "admission", 4.0),
    (T_SCOPE, "ADM-SCOPE", "admission", 0.9),
    (T_AUDIT, "ADM-AUDIT", "admission", 41.7),
    *((t, "ADM-MODES", "admission", 6.5) for t in T_MODES),
    (T_COVERAGE, "ADM-COVERAGE", "admission", 1.8),
    (T_SEMANTICS, "NET-SEMANTICS", "traffic", 12.8),
    (T_IPBLOCK, "NET-IPBLOCK", "traffic", 5.1),
    *((t, "NET-DYNAMICS", "traffic", 9.4) for t in T_DYNAMICS),
    (T_GENERATED, "NET-GENERATED", "traffic", 7.7),
    (T_DNS, "NET-DNS", "traffic", 3.3),
    (T_SCTP, "NET-SCTP", "traffic", 0.6),
    (T_TENANTS, "SEG-TENANTS", "traffic", 24.6),
    (T_COMPONENTS, "SEG-COMPONENTS", "traffic", 11.0),
]


def sha256(doc: Any) -> str:
    """As ``npconform.platform.inventory.digest``."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


policy = network_policy


def policy_sha256(p: dict[str, Any]) -> str:
    """As ``npconform.scenario.step.policy_digest``."""
    meta = p["metadata"]
    doc = {"name": meta["name"], "namespace": meta["namespace"], "spec": p["spec"]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _ns(ref: str) -> str:
    return ref.split("/", 1)[0]


Cell = tuple[str, str, int, str, str]  # src, dst, port, protocol, via


def grid(
    sources: Iterable[str],
    targets: Iterable[str],
    ports: Iterable[tuple[int, str]],
    allowed: Callable[[str, str, int, str], bool],
    vias: Iterable[str] = ("pod",),
) -> dict[Cell, bool]:
    targets, ports, vias = list(targets), list(ports), list(vias)
    return {
        (s, d, p, proto, via): allowed(s, d, p, proto)
        for s in sources
        for d in targets
        if s != d
        for p, proto in ports
        for via in vias
    }


def step(
    test: str,
    scenario: str,
    name: str,
    cells: dict[Cell, bool],
    policies: list[dict[str, Any]],
    *,
    provenance: str = "hand-written+engine",
    converge_s: float = 1.2,
) -> dict[str, Any]:
    """A traffic step as ``StepResult.to_json`` writes it, every cell observed as
    expected (``connected`` or ``timeout``), with the allowed twin of every blocked target
    port that has no allowed cell (``npconform.model.pairing``)."""
    cells = dict(cells)
    allowed = {(d, p, pr, v) for (_, d, p, pr, v), ok in cells.items() if ok}
    twins = []
    for _, d, p, pr, v in list(cells):
        if (d, p, pr, v) not in allowed and (TWIN, d, p, pr, v) not in cells:
            cells[(TWIN, d, p, pr, v)] = True
            twins.append((TWIN, d, p, pr, v))

    def row(c: Cell) -> dict[str, Any]:
        src, dst, port, proto, via = c
        return {
            "src": src,
            "dst": dst,
            "port": port,
            "protocol": proto,
            **({"via": via} if via != "pod" else {}),
        }

    expected = [
        {**row(c), "allowed": ok, **({"twin": True} if c in twins else {})}
        for c, ok in cells.items()
    ]
    observed = [
        {**row(c), "outcome": "connected" if ok else "timeout", "allowed": ok}
        for c, ok in cells.items()
    ]
    logical = sorted(
        {_ns(x) for c in cells for x in c[:2] if not x.startswith(("ext/", "kube-system/"))}
    )
    return {
        "test": test,
        "scenario": scenario,
        "step": name,
        "ok": True,
        "provenance": provenance,
        "blocking": ["timeout"],
        "converge_s": converge_s,
        "rounds": 2,
        "round_s": [0.61, 0.58],
        "flapping": [],
        "expected": expected,
        "observed": observed,
        "outcomes": outcome_counts(observed),
        "policies": policies,
        "policy_sha256": {
            f"{p['metadata']['namespace']}/{p['metadata']['name']}": policy_sha256(p)
            for p in policies
        },
        "namespaces": {ns: f"npconform-a1b2c3-w0-{scenario.split()[0]}-{ns}" for ns in logical},
        "repro": [],
        "causes": [],
    }


def outcome_counts(observed: list[dict[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(("connected", "timeout", "refused", "error"), 0)
    for c in observed:
        out[c["outcome"]] += 1
    return out


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
SAME_NS = {
    "podSelector": {},
    "policyTypes": ["Ingress"],
    "ingress": [{"from": [{"podSelector": {}}]}],
}
TENANT_PODS = ["tenant-a/frontend", "tenant-a/backend", "tenant-b/frontend", "tenant-b/database"]
TENANT_PORTS = [(8080, "TCP"), (5432, "TCP")]
XYZ = [f"{ns}/{p}" for ns in ("x", "y", "z") for p in ("a", "b", "c")]
SHOP = ["shop/frontend", "shop/backend", "shop/database"]
FLOWS = {("shop/frontend", "shop/backend", 8080), ("shop/backend", "shop/database", 5432)}


def _scenarios() -> list[dict[str, Any]]:
    deny = [policy(ns, "default-deny", DENY_ALL) for ns in ("tenant-a", "tenant-b")]
    same = [policy(ns, "allow-same-namespace", SAME_NS) for ns in ("tenant-a", "tenant-b")]
    tenants = [*TENANT_PODS, "ext/host"]
    ipblock = policy(
        "x",
        "egress-ipblock-except",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "172.18.0.0/16", "except": ["172.18.0.9/32"]}}]}
            ],
        },
    )
    return [
        step(T_TENANTS, "tenants", "default deny in both tenants",
             grid(tenants, TENANT_PODS, TENANT_PORTS, lambda *_: False), deny),
        step(T_TENANTS, "tenants", "platform policies",
             grid(tenants, TENANT_PODS, TENANT_PORTS, lambda s, d, p, pr: _ns(s) == _ns(d)),
             [*deny, *same], converge_s=2.9),
        step(T_COMPONENTS, "components", "component policies",
             grid(SHOP, SHOP, [(8080, "TCP"), (5432, "TCP")],
                  lambda s, d, p, pr: (s, d, p) in FLOWS, vias=("pod", "service")),
             [policy("shop", "frontend-to-backend", SAME_NS)]),
        step(T_SEMANTICS, "allow-same-namespace", "allow-same-namespace",
             grid(XYZ, XYZ, [(80, "TCP"), (81, "TCP"), (80, "UDP"), (81, "UDP")],
                  lambda s, d, p, pr: _ns(s) == _ns(d)),
             [policy(ns, "allow-same-namespace", SAME_NS) for ns in ("x", "y", "z")],
             converge_s=3.8),
        step(T_IPBLOCK, "ipblock", "egress to the external host's range, except one address",
             grid(["x/a", "x/b"], ["ext/web", "ext/blocked"], [(80, "TCP")],
                  lambda s, d, p, pr: s == "x/a" and d == "ext/web"), [ipblock]),
        step(T_DYNAMICS[0], "dynamics", "policy updated to port 81",
             grid(["x/a", "y/a"], ["x/b"], [(80, "TCP"), (81, "TCP")],
                  lambda s, d, p, pr: p == 81), [policy("x", "allow-81", SAME_NS)]),
        step(T_DYNAMICS[1], "dynamics", "y/a relabelled out of the policy",
             grid(["x/a", "y/a"], ["x/b"], [(80, "TCP")], lambda s, d, p, pr: s == "x/a"),
             [policy("x", "allow-labelled", SAME_NS)]),
        step(T_GENERATED, "generated seed 4711", "case 0",
             grid(["x/a", "y/b"], ["x/a", "y/b", "z/c"], [(80, "TCP")],
                  lambda s, d, p, pr: d != "z/c"),
             [policy("z", "generated-0", DENY_ALL)], provenance="engine"),
        step(T_DNS, "dns", "DNS from a namespace that allows it, and from one that does not",
             grid(["open/client", "closed/client"], ["kube-system/kube-dns"],
                  [(53, "UDP"), (53, "TCP")], lambda s, d, p, pr: s == "open/client"),
             [policy(ns, "default-deny", DENY_ALL) for ns in ("open", "closed")]),
    ]  # fmt: skip


def _admission_row(test: str, case: str, kind: str, expected: str, msg: str = "") -> dict[str, Any]:
    return {
        "test": test,
        "case": case,
        "kind": kind,
        "expected": expected,
        "observed": expected,
        "ok": True,
        "message": msg,
    }


DENIED = (
    'admission webhook "validation.gatekeeper.sh" denied the request: '
    "[require-networkpolicy] No matching networkpolicy found"
)


def _admission() -> list[dict[str, Any]]:
    rows = [
        _admission_row(T_REFUSE, "pod without policy", "Pod", "denied", DENIED),
        _admission_row(T_ADMIT, "pod selected by a policy", "Pod", "admitted"),
        _admission_row(T_SCOPE, "pod without policy in kube-system", "Pod", "admitted"),
        _admission_row(
            T_LIFECYCLE, "pod after its last policy is deleted", "Pod", "denied", DENIED
        ),
    ]
    for t in T_CONTROLLERS:
        kind = t.rsplit("[", 1)[1].rstrip("]")
        rows.append(_admission_row(t, f"{kind} without policy", kind, "denied", DENIED))
    for t in T_SELECTORS:
        op = t.rsplit("[", 1)[1].rstrip("]")
        rows.append(_admission_row(t, f"policy with {op} selecting the pod", "Pod", "admitted"))
    return rows


CONSTRAINT_SPEC = {
    "enforcementAction": "deny",
    "match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]},
}


def _artifacts() -> list[dict[str, Any]]:
    objects = [
        ("K8sRequireNetworkPolicy", "require-networkpolicy", None, CONSTRAINT_SPEC),
        ("ConstraintTemplate", "k8srequirenetworkpolicy", None, {"crd": {"spec": {}}}),
        ("Config", "config", "gatekeeper-system",
         {"sync": {"syncOnly": [{"kind": "NetworkPolicy"}]}}),
        ("ValidatingWebhookConfiguration", "gatekeeper-validating-webhook-configuration", None,
         [{"name": "validation.gatekeeper.sh", "failurePolicy": "Ignore"}]),
    ]  # fmt: skip
    return [
        {
            "kind": kind,
            "name": name,
            **({"namespace": ns} if ns else {}),
            "sha256": sha256(body),
            "content": body,
        }
        for kind, name, ns, body in objects
    ]


def _test(nodeid: str, check: str, area: str, seconds: float) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "outcome": "passed",
        "duration_s": seconds,
        "area": area,
        "check": check,
        "message": "",
    }


def coverage() -> dict[str, Any]:
    """The coverage evidence of a kind cluster: computed by the model, answered as
    computed."""
    from npconform.model.coverage import Snapshot, compute
    from npconform.model.rbac import Finding

    platform = ["kube-system", "calico-system", "gatekeeper-system"]
    snap = Snapshot(
        namespaces=[
            {"name": n, "labels": {}} for n in ["default", "local-path-storage", *platform]
        ],
        pods={"local-path-storage": [{"name": "provisioner", "labels": {"app": "lp"}}]},
        constraints=[
            {
                "metadata": {"name": "require-networkpolicy"},
                "spec": {"enforcementAction": "deny", "match": {"excludedNamespaces": platform}},
            }
        ],
        config={"metadata": {"name": "config"}, "spec": {}},
        webhook={
            "name": "validation.gatekeeper.sh",
            "rules": [{"apiGroups": ["*"], "operations": ["CREATE"], "resources": ["*"]}],
        },
    )
    cov = compute(snap)
    for row in cov.rows:
        row.live = row.expected
    cov.live = True
    cov.switches = [
        Finding(
            "Group system:masters", "Group", "system:masters", "", "label or annotate namespaces",
            "patch", "cluster", "ClusterRoleBinding cluster-admin -> ClusterRole cluster-admin",
            platform=True, confirmed=True,
        )
    ]  # fmt: skip
    return {"test": T_COVERAGE, **cov.to_json()}


def passing_results() -> dict[str, Any]:
    """A clean run on kind: every required check passed; SCTP skipped (not required)."""
    tests = [_test(*t) for t in TESTS]
    sctp = next(t for t in tests if t["nodeid"] == T_SCTP)
    sctp.update(outcome="skipped", message="SCTP not testable: the nodes' kernel has no SCTP")
    collected = [{"nodeid": n, "check": c} for n, c, _, _ in TESTS]
    options = {
        "target": "kind",
        "run_id": "a1b2c3",
        "workers": 2,
        "seed": 4711,
        "deny_response": "drop",
        "probe_target": "both",
        "allow_cluster_changes": True,
    }
    return {
        "$schema": SCHEMA,
        "tool": {
            "name": "npconform",
            "version": "0.1.0",
            "commit": "86c4cab0e1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6",
            "dirty": False,
        },
        "run": {
            "id": "a1b2c3",
            "started": "2026-11-27T13:00:00Z",
            "finished": "2026-11-27T13:05:12Z",
            "duration_s": 312.4,
            "options": options,
            "command": "pytest suites -n 2",
            "exit_status": 0,
            "interrupted": False,
        },
        "identity": {
            "server": "https://127.0.0.1:40123",
            "context": "kind-npconform",
            "kube_system_uid": "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            "user": {
                "username": "kubernetes-admin",
                "uid": "",
                "groups": ["kubeadm:cluster-admins", "system:authenticated"],
                "source": "SelfSubjectReview",
            },
        },
        "environment": {
            "target": "kind",
            "kubernetes": "v1.37.2",
            "cni": "calico",
            "cni_version": "v3.31.2",
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
            ],
            "offline": True,
            "images": {"probe": "registry.k8s.io/e2e-test-images/agnhost:2.66.1"},
            "deny_response": "drop",
        },
        "artifacts": _artifacts(),
        "artifacts_changed": [],
        "selection": {
            "args": ["suites", "-n", "2"],
            "collected": collected,
            "deselected": [],
            "narrowed": [],
            "selected": len(collected),
            "not_run": [],
        },
        "tests": tests,
        "scenarios": _scenarios(),
        "admission": _admission(),
        "coverage": coverage(),
        "audit_violations": [
            {
                "kind": "Pod",
                "namespace": "npc-a1b2-w0-audit",
                "name": "old-pod",
                "message": "No matching networkpolicy found",
                "enforcementAction": "deny",
            },
        ],
        "not_tested": [
            {
                "test": T_SCTP,
                "what": "SCTP NetworkPolicy rules",
                "reason": "the nodes' kernel has no SCTP support",
                "required": False,
                "area": "traffic",
            }
        ],
        "conduct": {
            "cluster_changes": [
                {
                    "test": T_MODES[1],
                    "object": "K8sRequireNetworkPolicy/require-networkpolicy",
                    "change": "spec.enforcementAction deny -> warn",
                    "restored": True,
                }
            ],
            "cleanup": {
                "selector": "npconform.io/run=a1b2c3",
                "done": True,
                "reason": "the kind cluster is deleted",
            },
        },
        "timings": [
            {"step": "cluster", "seconds": 61.2},
            {"step": "calico", "action": "install", "seconds": 40.1},
            {"step": "gatekeeper", "action": "install", "seconds": 35.7},
            {"step": "tests", "seconds": 163.0},
        ],
    }


def _cell(step: dict[str, Any], key: str, src: str, dst: str, port: int) -> dict[str, Any]:
    return next(c for c in step[key] if (c["src"], c["dst"], c["port"]) == (src, dst, port))


LEAK = ("tenant-a/frontend", "tenant-b/database", 5432, "TCP", "pod")
LOSS = ("tenant-a/frontend", "tenant-a/backend", 8080, "TCP", "pod")
REFUSED = ("ext/host", "tenant-b/frontend", 8080, "TCP", "pod")
ERRED = ("closed/client", "kube-system/kube-dns", 53, "UDP", "pod")

FAILURE_MESSAGE = """AssertionError: scenario 'tenants', step 'platform policies'
difference 5432/TCP (+ leak, - loss, R refused, ? unknown)
                  |  0  1  2  3
---------------------------------
tenant-a/frontend |  .  .  .  +
reachability: correct:37, incorrect:3
annotation from the pod: """


def failing_results() -> dict[str, Any]:
    """The passing run on a CNI that leaks: a cell connected that policy blocks, one timed
    out that policy allows, one refused where a block was expected; a probe that could not
    run; a Deployment admitted that the constraint should refuse."""
    r = passing_results()
    r["run"].update(id="f00d42", exit_status=1)
    r["run"]["options"]["run_id"] = "f00d42"
    r["tool"]["dirty"] = True
    tenants = next(s for s in r["scenarios"] if s["step"] == "platform policies")
    for key, outcome, detail in (
        (LEAK, "connected", "connected to 10.244.1.7:5432"),
        (LOSS, "timeout", "no answer in 1s"),
        (REFUSED, "refused", "connect: connection refused"),
    ):
        cell = _cell(tenants, "observed", *key[:3])
        cell.update(outcome=outcome, allowed={"connected": True, "timeout": False}.get(outcome))
        cell["detail"] = detail
    tenants.update(
        ok=False,
        rounds=6,
        converge_s=30.0,
        flapping=["tenant-a/frontend -> tenant-b/database:5432/TCP"],
        outcomes=outcome_counts(tenants["observed"]),
        repro=[
            "kubectl -n npconform-a1b2c3-w0-tenants-tenant-a exec frontend -- /agnhost connect "
            "10.244.1.7:5432 --timeout=1s; echo exit=$?"
        ],
        causes=[f"the CNI does not enforce egress policies {SCRIPT}"],
    )
    dns = next(s for s in r["scenarios"] if s["test"] == T_DNS)
    cell = _cell(dns, "observed", *ERRED[:3])
    cell.update(outcome="error", allowed=None, detail="exec: nslookup: not found")
    dns.update(ok=False, outcomes=outcome_counts(dns["observed"]))
    for t in r["tests"]:
        if t["nodeid"] == T_TENANTS:
            t.update(outcome="failed", message=FAILURE_MESSAGE + SCRIPT)
        elif t["nodeid"] == T_DNS:
            t.update(
                outcome="failed",
                test_error="ProbeError",
                message="ProbeError: 1 probe(s) could not run (an error of the test, not a "
                "verdict):\n  closed/client -> kube-system/kube-dns:53/UDP: nslookup: not found",
            )
        elif t["nodeid"] == T_CONTROLLERS[0]:
            t.update(outcome="failed", message="AssertionError: expected denied, observed admitted")
    deploy = next(a for a in r["admission"] if a["test"] == T_CONTROLLERS[0])
    deploy.update(observed="admitted", ok=False, message=f"deployment.apps/web-{SCRIPT} created")
    r["audit_violations"].append(
        {"kind": "Deployment", "namespace": "legacy", "name": f"web-{SCRIPT}",
         "message": "No matching networkpolicy found", "enforcementAction": "deny"}
    )  # fmt: skip
    constraint = r["artifacts"][0]
    r["artifacts_changed"] = [
        {"kind": constraint["kind"], "name": constraint["name"], "start": constraint["sha256"],
         "end": sha256({**CONSTRAINT_SPEC, "enforcementAction": "warn"})}
    ]  # fmt: skip
    r["conduct"]["cleanup"] = {
        "selector": "npconform.io/run=f00d42",
        "done": False,
        "removed": ["npconform-a1b2c3-w0-tenants-tenant-a"],
        "left": ["npconform-a1b2c3-w0-tenants-tenant-b"],
    }
    return r


#: The checks ``incomplete_results`` leaves open, and how.
INCOMPLETE_CHECKS = {
    "SEG-COMPONENTS": "not selected",
    "ADM-MODES": "deselected",
    "ADM-SELECTORS": "narrowed",
    "NET-DYNAMICS": "not run",
}


def incomplete_results() -> dict[str, Any]:
    """The passing run cut short: ``-k 'not modes'``, the components test left out, one
    selector parameter chosen by node id, then interrupted before the second dynamics
    test."""
    r = passing_results()
    r["run"].update(id="beef01", finished="2026-11-27T13:01:38Z", duration_s=98.2)
    r["run"].update(exit_status=2, interrupted=True)
    r["run"]["options"]["run_id"] = "beef01"
    sel = r["selection"]
    sel["args"] = [
        "suites/admission",
        "suites/admission/test_selectors.py::test_selector[matchLabels]",
        "suites/traffic/test_semantics.py",
        "suites/traffic/test_dynamics.py",
        "suites/traffic/test_generated.py",
        "suites/traffic/test_dns.py",
        "suites/traffic/test_tenants.py",
        "-k",
        "not mode_behaves",
    ]
    drop = {T_COMPONENTS, T_SELECTORS[1]}
    sel["collected"] = [i for i in sel["collected"] if i["nodeid"] not in drop]
    sel["deselected"] = list(T_MODES)
    sel["narrowed"] = ["ADM-SELECTORS"]
    sel["selected"] = len(sel["collected"]) - len(T_MODES)
    sel["not_run"] = [T_DYNAMICS[1]]
    gone = drop | set(T_MODES) | {T_DYNAMICS[1]}
    r["tests"] = [t for t in r["tests"] if t["nodeid"] not in gone]
    r["scenarios"] = [s for s in r["scenarios"] if s["test"] not in gone]
    r["admission"] = [a for a in r["admission"] if a["test"] not in gone]
    r["conduct"]["cluster_changes"] = []
    r["timings"] = r["timings"][:3]
    return r


def finalized(raw: dict[str, Any]) -> dict[str, Any]:
    from npconform.verdict.rules import finalize

    return finalize(copy.deepcopy(raw))
