"""Tenant isolation computed on pod classes: it agrees with the pod-by-pod engine on random
policy sets, and its findings name exactly the open policy, the cross-tenant hole and the
unselected pods of a small multi-tenant cluster, each with the rule that opens it."""

from __future__ import annotations

import json

import pytest

from npconform.model.generate import sample_cases, small_model
from npconform.model.isolation import FAIL, WARN, State, compute
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine
from npconform.model.tenants import TenantModel, load


def _state(namespaces: list[NamespaceModel], pods: list[PodModel], policies: list[dict]) -> State:
    return State(
        namespaces={n.name: dict(n.labels) for n in namespaces},
        pods=list(pods),
        policies=policies,
        ready={p.id for p in pods},
    )


@pytest.mark.parametrize("seed", range(6))
def test_classes_agree_with_the_pod_engine(seed: int) -> None:
    namespaces, pods = small_model()
    for case in sample_cases(seed, 60, namespaces, pods, max_policies=5):
        state = _state(namespaces, pods, case.policies)
        iso = compute(state, TenantModel(platform_labels=()))
        engine = PolicyEngine(namespaces, pods, case.policies)
        of = {pid: c.index for c in iso.classes for pid in (f"{c.namespace}/{n}" for n in c.pods)}
        for src in pods:
            for dst in pods:
                if src.id == dst.id:
                    continue
                declared = {(c.port, c.protocol) for c in dst.ports}
                # also the numbered ports of the rules that select it
                assert declared <= set(iso.columns[of[dst.id]])
                for port, proto in iso.columns[of[dst.id]]:
                    want = engine.allowed(src, dst, port, proto)
                    got = iso.expected(of[src.id], of[dst.id], (port, proto))
                    assert got == want, (case.name, src.id, dst.id, port, proto, case.to_yaml())


def _pod(ns: str, name: str, labels: dict[str, str], ip: str, port: int = 8080) -> PodModel:
    return PodModel(ns, name, labels, ip, (ContainerPort(port, "TCP", "http"),))


def _np(ns: str, name: str, spec: dict) -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


TENANTS = """
version: 1
tenants: {label: tenant}
intended:
  - description: ingress controller to each tenant's web port
    from: {platform: true, namespace: ingress}
    to: {tenant: "*", pods: {app: web}}
    ports: [8080/TCP]
"""

DEMO = {
    "podSelector": {"matchLabels": {"app": "demo"}},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}],
    "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}],
}
SEGREGATED = {
    "podSelector": {},
    "policyTypes": ["Ingress"],
    "ingress": [{"from": [{"podSelector": {}}]}],
}


def _cluster(hole: bool) -> State:
    ns = {
        "ingress": {"owner": "operator"},
        "a-web": {"tenant": "a"},
        "a-db": {"tenant": "a"},
        "b": {"tenant": "b"},
        "c": {"tenant": "c"},
    }
    pods = [
        _pod("a-web", "demo-1", {"app": "demo"}, "10.1.0.1"),
        _pod("a-db", "db-1", {"app": "db"}, "10.1.0.2", 5432),
        _pod("b", "web-1", {"app": "web"}, "10.1.0.3"),
        _pod("b", "web-2", {"app": "web"}, "10.1.0.4"),
        _pod("c", "api-1", {"app": "api"}, "10.1.0.5"),
        _pod("ingress", "ctl-1", {"app": "ctl"}, "10.1.0.6", 80),
    ]
    b_in = [{"from": [{"podSelector": {}}]}]
    if hole:
        b_in.append({"from": [{"namespaceSelector": {"matchLabels": {"tenant": "c"}}}]})
    policies = [
        _np("a-web", "demo", DEMO),
        _np(
            "a-db",
            "db",
            {
                "podSelector": {},
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"tenant": "a"}}}]}],
            },
        ),
        _np(
            "b",
            "segregated",
            {
                **SEGREGATED,
                "ingress": [
                    *b_in,
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "ingress"}
                                }
                            }
                        ],
                        "ports": [{"port": 8080}],
                    },
                ],
            },
        ),
        _np("c", "segregated", SEGREGATED),
        _np("ingress", "ctl", {"podSelector": {}, "policyTypes": ["Ingress"]}),
    ]
    return State(namespaces=ns, pods=pods, policies=policies, ready={p.id for p in pods})


def test_findings_name_the_open_policy_and_the_hole() -> None:
    model = load(TENANTS, "tenants.yaml")
    iso = compute(_cluster(hole=True), model)
    lines = [f.line() for f in iso.findings]
    fails = [f for f in iso.findings if f.severity == FAIL]
    assert iso.verdict == "FAIL"
    # the demo's open ingress reaches tenant a from b and c; the hole opens b to c
    subjects = sorted((f.subject, f.opened_by[0]) for f in fails)
    assert subjects == [
        ("a-web/demo-1 (tenant a)", "a-web/demo ingress[0]"),
        ("b/web-1 (+1) (tenant b)", "b/segregated ingress[1]"),
    ], lines
    hole = next(f for f in fails if f.subject.startswith("b/"))
    assert "tenant(s) c " in hole.message and "8080/TCP" in hole.message
    opens = [f for f in iso.findings if f.kind == "admitted-but-open"]
    assert sorted((f.subject, f.opened_by[0]) for f in opens) == [
        ("a-web/demo", "a-web/demo egress[0]"),
        ("a-web/demo", "a-web/demo ingress[0]"),
        ("b/segregated", "b/segregated ingress[1]"),
    ], lines
    assert all(f.severity == WARN for f in opens)
    # one cell: c's class to b's class (two pods) on 8080/TCP
    cell = next(
        c for c in iso.to_json()["matrix"]["cells"] if (c["source"], c["target"]) == ("c", "b")
    )
    assert (cell["cells"], cell["unintended"]) == (1, 1)
    assert cell["pairs"] == [
        {"source": "c/api-1", "target": "b/web-1 (+1)", "port": "8080/TCP", "intended": False}
    ]
    assert ("a", "b") not in iso.matrix  # a's demo may send DNS only
    json.dumps(iso.to_json())


def test_closing_the_hole_leaves_only_the_open_policy() -> None:
    iso = compute(_cluster(hole=False), load(TENANTS, "tenants.yaml"))
    fails = [f.subject for f in iso.findings if f.severity == FAIL]
    assert fails == ["a-web/demo-1 (tenant a)"]


def test_unselected_pods_and_unreadable_namespaces() -> None:
    state = _cluster(hole=False)
    state.policies = [p for p in state.policies if p["metadata"]["namespace"] != "c"]
    state.unreadable = {"d": "403 Forbidden: pods"}
    iso = compute(state, load(TENANTS, "tenants.yaml"))
    unsel = [f for f in iso.findings if f.kind == "unselected"]
    assert [(f.severity, f.subject) for f in unsel] == [("WARN", "c/api-1")]
    assert "admission safeguard" in unsel[0].message
    # c is open now: every other tenant reaches it
    assert any(f.subject == "c/api-1 (tenant c)" for f in iso.findings if f.severity == FAIL)
    state.policies.append(_np("c", "segregated", SEGREGATED))
    state.policies = [p for p in state.policies if p["metadata"]["name"] != "demo"]
    state.policies.append(_np("a-web", "segregated", SEGREGATED))
    iso = compute(state, load(TENANTS, "tenants.yaml"))
    assert iso.verdict == "INCOMPLETE", [f.line() for f in iso.findings]
    assert iso.to_json()["unreadable"] == [{"namespace": "d", "why": "403 Forbidden: pods"}]


def test_state_round_trips_through_json() -> None:
    state = _cluster(hole=True)
    again = State.from_json(json.loads(json.dumps(state.to_json())))
    model = load(TENANTS, "tenants.yaml")
    assert (
        compute(again, model).to_json()["findings"] == compute(state, model).to_json()["findings"]
    )


def test_a_hole_on_a_port_no_container_declares_is_found() -> None:
    state = _cluster(hole=False)
    b = next(p for p in state.policies if p["metadata"]["namespace"] == "b")
    b["spec"]["ingress"].append(
        {
            "from": [{"namespaceSelector": {"matchLabels": {"tenant": "c"}}}],
            "ports": [{"port": 5432}],
        }
    )
    iso = compute(state, load(TENANTS, "tenants.yaml"))
    hole = [f for f in iso.findings if f.subject.startswith("b/")]
    assert len(hole) == 1 and "reachable on 5432/TCP from tenant(s) c " in hole[0].message
