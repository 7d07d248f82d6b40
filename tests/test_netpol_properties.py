"""Properties of the engine over random, valid NetworkPolicies (npconform.model.generate)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from npconform.model.generate import (
    MISSING_VALUE,
    GeneratedCase,
    external_peers,
    sample_cases,
    small_model,
)
from npconform.model.matrix import Matrix
from npconform.model.netpol import (
    EGRESS,
    INGRESS,
    Peer,
    PolicyEngine,
    dump_policies,
    effective_policy_types,
    load_policies,
    parse_policy,
)
from npconform.model.strategies import (
    label_selectors,
    policies,
    policy_sets,
    rules,
)

NAMESPACES, PODS = small_model(("x", "y", "z"), ("a", "b", "c"))
EXTERNAL = external_peers()
PEERS: list[Peer] = [*PODS, *EXTERNAL]
COLUMNS = [(80, "TCP"), (81, "TCP"), (80, "UDP"), (81, "UDP")]
MODES = st.sampled_from(["allow", "evaluate"])

POLICY_SETS = policy_sets(NAMESPACES, PODS, EXTERNAL, max_policies=4)
FEW = settings(max_examples=100, deadline=None)
MORE = settings(max_examples=150, deadline=None)


def matrix(policies: list[dict[str, Any]], self_traffic: str = "allow") -> Matrix:
    engine = PolicyEngine(NAMESPACES, PODS, policies, self_traffic=self_traffic)
    return engine.matrix(PEERS, PEERS, COLUMNS)


def losses(before: Matrix, after: Matrix) -> list[str]:
    return [str(c) for c, ok in before.items() if ok and not after[c]]


def test_small_model_shape() -> None:
    assert [n.name for n in NAMESPACES] == ["x", "y", "z"]
    assert len(PODS) == 9
    assert len({p.ip for p in PODS}) == 9
    a, b = PODS[0], PODS[1]
    assert {cp.name: cp.port for cp in a.ports if cp.protocol == "TCP"}["http"] == 80
    assert {cp.name: cp.port for cp in b.ports if cp.protocol == "TCP"}["http"] == 81


@FEW
@given(MODES, st.integers(1, 65535), st.sampled_from(["TCP", "UDP", "SCTP"]))
def test_no_policies_everything_reachable(mode: str, port: int, protocol: str) -> None:
    engine = PolicyEngine(NAMESPACES, PODS, [], self_traffic=mode)
    m = engine.matrix(PEERS, PEERS, [(port, protocol)])
    assert m.counts() == (len(PEERS) ** 2, 0)


@MORE
@given(POLICY_SETS)
def test_generated_policies_are_valid_and_round_trip_yaml(pols: list[dict[str, Any]]) -> None:
    for p in pols:
        parse_policy(p)
    assert load_policies(dump_policies(pols)) == pols


@MORE
@given(POLICY_SETS, policies(NAMESPACES, PODS, EXTERNAL, name="added"), MODES)
def test_adding_a_policy_that_isolates_nothing_new_never_removes_reachability(
    base: list[dict[str, Any]], new: dict[str, Any], mode: str
) -> None:
    before_engine = PolicyEngine(NAMESPACES, PODS, base, self_traffic=mode)
    parsed = parse_policy(new)
    selected = [
        p for p in PODS if p.namespace == parsed.namespace and parsed.pod_selector.matches(p.labels)
    ]
    types = [d for d in (INGRESS, EGRESS) if all(before_engine.isolated(p, d) for p in selected)]
    new = copy.deepcopy(new)
    if not types:
        # Nothing may be isolated anew: select no pod at all.
        new["spec"]["podSelector"] = {"matchLabels": {"pod": MISSING_VALUE}}
        types = [INGRESS, EGRESS]
    new["spec"]["policyTypes"] = types
    before = before_engine.matrix(PEERS, PEERS, COLUMNS)
    after = matrix([*base, new], mode)
    assert not losses(before, after)


@MORE
@given(
    POLICY_SETS.filter(bool),
    st.integers(0, 100),
    rules(INGRESS, NAMESPACES, PODS, EXTERNAL),
    rules(EGRESS, NAMESPACES, PODS, EXTERNAL),
    st.sampled_from([INGRESS, EGRESS]),
)
def test_appending_a_rule_never_removes_reachability(
    base: list[dict[str, Any]],
    index: int,
    in_rule: dict[str, Any],
    eg_rule: dict[str, Any],
    direction: str,
) -> None:
    changed = copy.deepcopy(base)
    target = changed[index % len(changed)]
    spec = target["spec"]
    # Pin the defaulted policyTypes first: appending the first egress rule to a policy
    # without policyTypes would otherwise make it isolate egress too.
    spec["policyTypes"] = effective_policy_types(target)
    key, rule = ("ingress", in_rule) if direction == INGRESS else ("egress", eg_rule)
    spec[key] = [*(spec.get(key) or []), rule]
    assert not losses(matrix(base), matrix(changed))


@FEW
@given(POLICY_SETS, MODES)
def test_default_deny_everywhere_blocks_all_but_self(
    extra: list[dict[str, Any]], mode: str
) -> None:
    # Other policies keep their selectors and types but lose their rules, so they can
    # only add isolation.
    stripped = copy.deepcopy(extra)
    for p in stripped:
        p["spec"]["ingress"] = []
        p["spec"]["egress"] = []
    deny = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns.name},
            "spec": {"podSelector": {}, "policyTypes": [INGRESS, EGRESS]},
        }
        for ns in NAMESPACES
    ]
    m = matrix([*stripped, *deny], mode)
    for cell, ok in m.items():
        external_only = cell.src.startswith("ext/") and cell.dst.startswith("ext/")
        self_pass = mode == "allow" and cell.src == cell.dst
        assert ok == (external_only or self_pass), cell


@MORE
@given(POLICY_SETS, MODES)
def test_ingress_and_egress_compose(pols: list[dict[str, Any]], mode: str) -> None:
    engine = PolicyEngine(NAMESPACES, PODS, pols, self_traffic=mode)
    for port, proto in COLUMNS:
        for src in PEERS:
            for dst in PEERS:
                v = engine.explain(src, dst, port, proto)
                assert v.allowed == engine.allowed(src, dst, port, proto)
                assert v.egress_ok == (not v.egress_isolated or bool(v.egress_allowed_by))
                assert v.ingress_ok == (not v.ingress_isolated or bool(v.ingress_allowed_by))
                assert set(v.egress_allowed_by) <= set(v.egress_isolated_by)
                assert set(v.ingress_allowed_by) <= set(v.ingress_isolated_by)
                if v.self_traffic:
                    assert v.allowed
                    assert src.id == dst.id
                else:
                    assert v.allowed == (v.egress_ok and v.ingress_ok)
                assert v.reason.startswith("allowed" if v.allowed else "blocked")


def halves(pols: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each policy split into an Ingress-only and an Egress-only policy."""
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    for p in pols:
        types = effective_policy_types(p)
        for direction, out in ((INGRESS, ingress), (EGRESS, egress)):
            if direction in types:
                half = copy.deepcopy(p)
                half["spec"]["policyTypes"] = [direction]
                out.append(half)
    return ingress, egress


@MORE
@given(POLICY_SETS)
def test_allowed_is_egress_half_and_ingress_half(pols: list[dict[str, Any]]) -> None:
    ingress, egress = halves(pols)
    full = matrix(pols, "evaluate")
    only_in = matrix(ingress, "evaluate")
    only_eg = matrix(egress, "evaluate")
    for cell, ok in full.items():
        assert ok == (only_in[cell] and only_eg[cell]), cell


@FEW
@given(label_selectors({"pod": ["a", "b"], "app": ["web"]}))
def test_label_selectors_are_valid(selector: dict[str, Any]) -> None:
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "s", "namespace": "x"},
        "spec": {"podSelector": selector},
    }
    parse_policy(policy)
    assert set(selector) <= {"matchLabels", "matchExpressions"}


# ---------------------------------------------------------------- seeded cases


def test_sample_cases_are_deterministic() -> None:
    a = sample_cases(1234, 6)
    b = sample_cases(1234, 6)
    assert [c.policies for c in a] == [c.policies for c in b]
    assert [c.policies for c in sample_cases(1234, 3)] == [c.policies for c in a[:3]]
    assert [c.policies for c in sample_cases(4321, 6)] != [c.policies for c in a]
    assert [c.name for c in a] == [f"seed1234-case{i}" for i in range(6)]
    assert all(c.seed == 1234 for c in a)
    assert [c.index for c in a] == list(range(6))


def test_sample_cases_serialize_to_yaml_and_evaluate() -> None:
    cases = sample_cases(7, 20, NAMESPACES, PODS, EXTERNAL, max_policies=3)
    assert all(1 <= len(c.policies) <= 3 for c in cases)
    for c in cases:
        text = c.to_yaml()
        back = GeneratedCase.from_yaml(c.name, c.seed, c.index, text)
        assert back.policies == c.policies
        names = [p["metadata"]["name"] for p in c.policies]
        assert len(set(names)) == len(names)
        assert all(n.startswith(f"gen{c.index}-p") for n in names)
        PolicyEngine(NAMESPACES, PODS, back.policies).matrix(PEERS, PEERS, COLUMNS)


def test_sample_cases_vary() -> None:
    """Over a few dozen cases the generator exercises every feature."""
    text = "".join(c.to_yaml() for c in sample_cases(99, 40))
    for feature in (
        "ipBlock",
        "except",
        "namespaceSelector",
        "matchExpressions",
        "endPort",
        "port: http",
        "policyTypes",
        "protocol: UDP",
        "DoesNotExist",
    ):
        assert feature in text, feature
