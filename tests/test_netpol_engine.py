"""Edge cases of the NetworkPolicy engine: defaults, empty-vs-absent, ports, errors, reasons."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from npconform.model.matrix import Cell
from npconform.model.netpol import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    ExternalPeer,
    LabelSelector,
    NamespaceModel,
    NetworkPolicyError,
    Peer,
    PodModel,
    PolicyEngine,
    Requirement,
    dump_policies,
    effective_policy_types,
    load_policies,
    parse_policy,
)

TCP_UDP = tuple(ContainerPort(p, proto) for p in (80, 81) for proto in ("TCP", "UDP"))
NS = [NamespaceModel("x", {"team": "red"}), NamespaceModel("y", {"team": "blue"})]
XA = PodModel("x", "a", {"pod": "a"}, "10.0.1.1", TCP_UDP)
XB = PodModel("x", "b", {"pod": "b"}, "10.0.1.2", TCP_UDP)
YA = PodModel("y", "a", {"pod": "a"}, "10.0.2.1", TCP_UDP)
NOIP = PodModel("y", "noip", {"pod": "noip"}, None, TCP_UDP)
EXT = ExternalPeer("host", "192.168.200.10")
PODS = [XA, XB, YA, NOIP]


def pol(ref: str, spec: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    ns, name = ref.split("/")
    out: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
    }
    if spec is not None:
        out["spec"] = spec
    out.update(top)
    return out


def engine(*policies: dict[str, Any], self_traffic: str = "allow") -> PolicyEngine:
    return PolicyEngine(NS, PODS, policies, self_traffic=self_traffic)


def ingress_to_xa(rule: dict[str, Any]) -> PolicyEngine:
    return engine(pol("x/p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [rule]}))


# ---------------------------------------------------------------- baseline


def test_no_policies_everything_allowed() -> None:
    e = engine()
    peers: list[Peer] = [*PODS, EXT]
    m = e.matrix(peers, peers, [(80, "TCP"), (81, "UDP")])
    assert len(m) == len(peers) ** 2 * 2
    assert m.counts() == (len(m), 0)
    assert Cell("x/a", "ext/host", 81, "UDP") in m


def test_matrix_cells_use_peer_ids_and_columns() -> None:
    e = engine(pol("x/deny", {"podSelector": {}}))
    m = e.matrix([YA, EXT], [XA], [(80, "TCP")])
    assert list(m) == [Cell("y/a", "x/a", 80, "TCP"), Cell("ext/host", "x/a", 80, "TCP")]
    assert m.counts() == (0, 2)


def test_external_peers_are_never_isolated() -> None:
    e = engine(pol("x/deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    assert e.allowed(EXT, EXT, 80)
    assert not e.allowed(EXT, XA, 80)
    assert not e.allowed(XA, EXT, 80)
    v = e.explain(EXT, YA, 80)
    assert v.allowed
    assert not v.egress_isolated
    assert not v.ingress_isolated


def test_policies_in_other_namespaces_do_not_select() -> None:
    e = engine(pol("y/deny", {"podSelector": {"matchLabels": {"pod": "a"}}}))
    assert e.allowed(XB, XA, 80)
    assert not e.allowed(XB, YA, 80)


# ---------------------------------------------------------------- empty vs absent


@pytest.mark.parametrize("spec", [{}, {"podSelector": {}}, {"podSelector": None}])
def test_absent_or_empty_spec_pod_selector_selects_all(spec: dict[str, Any]) -> None:
    e = engine(pol("x/deny", spec))
    assert not e.allowed(YA, XA, 80)
    assert not e.allowed(YA, XB, 80)
    assert e.allowed(XA, YA, 80)


def test_missing_spec_is_a_default_deny_ingress() -> None:
    e = engine(pol("x/deny"))
    assert not e.allowed(YA, XA, 80)


@pytest.mark.parametrize(
    "rule",
    [{}, {"from": []}, {"from": None}, {"ports": []}, {"from": [], "ports": None}],
    ids=["no-from", "from-empty", "from-null", "ports-empty", "both-empty"],
)
def test_missing_or_empty_from_and_ports_match_everything(rule: dict[str, Any]) -> None:
    e = ingress_to_xa(rule)
    for src in (XB, YA, NOIP, EXT):
        for port, proto in ((80, "TCP"), (81, "UDP"), (9999, "SCTP")):
            assert e.allowed(src, XA, port, proto)


@pytest.mark.parametrize("ingress", [None, [], "absent"])
def test_no_ingress_rules_deny_everything(ingress: object) -> None:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": {"pod": "a"}}}
    if ingress != "absent":
        spec["ingress"] = ingress
    e = engine(pol("x/p", spec))
    assert not e.allowed(XB, XA, 80)
    assert not e.allowed(EXT, XA, 80)
    assert e.allowed(XA, XB, 80)


def test_empty_pod_selector_peer_means_own_namespace() -> None:
    e = ingress_to_xa({"from": [{"podSelector": {}}]})
    assert e.allowed(XB, XA, 80)
    assert not e.allowed(YA, XA, 80)
    assert not e.allowed(EXT, XA, 80)


def test_empty_namespace_selector_peer_means_all_pods() -> None:
    e = ingress_to_xa({"from": [{"namespaceSelector": {}}]})
    assert e.allowed(XB, XA, 80)
    assert e.allowed(YA, XA, 80)
    assert e.allowed(NOIP, XA, 80)
    assert not e.allowed(EXT, XA, 80)


def test_absent_pod_selector_in_and_peer_is_no_constraint() -> None:
    e = ingress_to_xa({"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}]})
    assert e.allowed(YA, XA, 80)
    assert e.allowed(NOIP, XA, 80)
    assert not e.allowed(XB, XA, 80)
    both = ingress_to_xa(
        {"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}, "podSelector": None}]}
    )
    assert both.allowed(NOIP, XA, 80)


def test_pod_and_namespace_selector_in_one_peer_is_and() -> None:
    e = ingress_to_xa(
        {"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "a"}}}]}
    )
    assert e.allowed(YA, XA, 80)
    assert not e.allowed(XB, XA, 80)
    assert not e.allowed(NOIP, XA, 80)


def test_pod_and_namespace_selector_in_two_peers_is_or() -> None:
    e = ingress_to_xa(
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"team": "blue"}}},
                {"podSelector": {"matchLabels": {"pod": "b"}}},
            ]
        }
    )
    assert e.allowed(YA, XA, 80)
    assert e.allowed(XB, XA, 80)
    assert e.allowed(NOIP, XA, 80)


def test_empty_peer_is_invalid() -> None:
    with pytest.raises(NetworkPolicyError, match=r"x/p: spec.ingress\[0\].from\[0\]: must specify"):
        ingress_to_xa({"from": [{}]})


def test_namespace_name_label_is_always_present() -> None:
    ns = NamespaceModel("y", {NAMESPACE_NAME_LABEL: "spoofed"})
    assert ns.effective_labels[NAMESPACE_NAME_LABEL] == "y"
    rule = {"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "y"}}}]}
    e = PolicyEngine(
        [NamespaceModel("x"), ns],
        PODS,
        [pol("x/p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [rule]})],
    )
    assert e.allowed(YA, XA, 80)
    assert not e.allowed(XB, XA, 80)


def test_pod_in_an_unregistered_namespace_has_the_name_label() -> None:
    zc = PodModel("z", "c", {"pod": "c"}, "10.0.3.3")
    rule = {"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "z"}}}]}
    e = ingress_to_xa(rule)
    assert e.allowed(zc, XA, 80)
    assert e.namespace_labels("z") == {NAMESPACE_NAME_LABEL: "z"}
    e2 = PolicyEngine([], [zc], [])
    assert [n.name for n in e2.namespaces] == ["z"]


# ---------------------------------------------------------------- policyTypes


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({}, ["Ingress"]),
        ({"ingress": [{}]}, ["Ingress"]),
        ({"egress": []}, ["Ingress"]),
        ({"egress": None}, ["Ingress"]),
        ({"egress": [{}]}, ["Ingress", "Egress"]),
        ({"policyTypes": [], "egress": [{}]}, ["Ingress", "Egress"]),
        ({"policyTypes": ["Egress"]}, ["Egress"]),
        ({"policyTypes": ["Egress"], "ingress": [{}]}, ["Egress"]),
        ({"policyTypes": ["Egress", "Ingress"]}, ["Ingress", "Egress"]),
    ],
)
def test_policy_types_defaulting(spec: dict[str, Any], types: list[str]) -> None:
    p = pol("x/p", {"podSelector": {}, **spec})
    assert effective_policy_types(p) == types
    assert sorted(parse_policy(p).policy_types) == sorted(types)


def test_empty_egress_list_without_policy_types_does_not_isolate_egress() -> None:
    # API server defaulting: Egress is added only when len(spec.egress) != 0.
    e = engine(pol("x/p", {"podSelector": {}, "egress": []}))
    assert e.allowed(XA, YA, 80)
    assert not e.allowed(YA, XA, 80)


def test_explicit_egress_type_with_empty_egress_denies_egress() -> None:
    e = engine(pol("x/p", {"podSelector": {}, "policyTypes": ["Egress"], "egress": []}))
    assert not e.allowed(XA, YA, 80)
    assert e.allowed(YA, XA, 80)


def test_egress_only_policy_ignores_its_ingress_rules() -> None:
    e = engine(
        pol(
            "x/p",
            {
                "podSelector": {"matchLabels": {"pod": "a"}},
                "policyTypes": ["Egress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
                "egress": [{}],
            },
        )
    )
    assert e.allowed(YA, XA, 80)
    assert not e.isolated(XA, "Ingress")
    assert e.isolated(XA, "Egress")


def test_invalid_policy_type() -> None:
    with pytest.raises(NetworkPolicyError, match=r"spec.policyTypes\[0\].*'ingress'"):
        engine(pol("x/p", {"policyTypes": ["ingress"]}))


# ---------------------------------------------------------------- ports


def test_numeric_port_and_protocol_default() -> None:
    e = ingress_to_xa({"ports": [{"port": 80}]})
    assert e.allowed(YA, XA, 80, "TCP")
    assert not e.allowed(YA, XA, 80, "UDP")
    assert not e.allowed(YA, XA, 81, "TCP")


def test_protocol_only_port_entry() -> None:
    e = ingress_to_xa({"ports": [{"protocol": "UDP"}]})
    assert e.allowed(YA, XA, 80, "UDP")
    assert e.allowed(YA, XA, 65535, "UDP")
    assert not e.allowed(YA, XA, 80, "TCP")


def test_empty_port_entry_is_all_tcp() -> None:
    e = ingress_to_xa({"ports": [{}]})
    assert e.allowed(YA, XA, 1234, "TCP")
    assert not e.allowed(YA, XA, 1234, "UDP")


def test_end_port_range_is_inclusive() -> None:
    e = ingress_to_xa({"ports": [{"port": 80, "endPort": 82}]})
    assert [e.allowed(YA, XA, p) for p in (79, 80, 81, 82, 83)] == [False, True, True, True, False]


def test_end_port_equal_to_port() -> None:
    e = ingress_to_xa({"ports": [{"port": 81, "endPort": 81, "protocol": "UDP"}]})
    assert e.allowed(YA, XA, 81, "UDP")
    assert not e.allowed(YA, XA, 80, "UDP")


@pytest.mark.parametrize(
    ("port", "match"),
    [
        ({"endPort": 90}, "endPort requires a numeric port"),
        ({"port": 90, "endPort": 80}, r"endPort: must be an integer in 90\.\.65535"),
        ({"port": "http", "endPort": 90}, "endPort cannot be used with the named port"),
        ({"port": 0}, "must be 1..65535"),
        ({"port": 70000}, "must be 1..65535"),
        ({"port": True}, "must be 1..65535"),
        ({"port": "80"}, "not a valid port number or port name"),
        ({"port": "Http"}, "not a valid port number or port name"),
        ({"port": "a-very-long-port-name"}, "not a valid port number or port name"),
        ({"protocol": "tcp"}, "unsupported protocol 'tcp'"),
        ({"protocol": "ICMP", "port": 1}, "unsupported protocol 'ICMP'"),
        ({"port": 80, "name": "x"}, "unknown field 'name'"),
    ],
)
def test_invalid_ports(port: dict[str, Any], match: str) -> None:
    with pytest.raises(NetworkPolicyError, match=match) as info:
        ingress_to_xa({"ports": [port]})
    assert info.value.policy == "x/p"
    assert info.value.path.startswith("spec.ingress[0].ports[0]")


def named_port_engine(rule_port: dict[str, Any], *, direction: str = "ingress") -> PolicyEngine:
    """Two servers where the name ``http`` is 80/TCP on one and 81/TCP on the other."""
    s80 = PodModel("x", "s80", {"role": "server"}, "10.0.1.10", (ContainerPort(80, "TCP", "http"),))
    s81 = PodModel(
        "x",
        "s81",
        {"role": "server"},
        "10.0.1.11",
        (ContainerPort(81, "TCP", "http"), ContainerPort(80, "UDP", "dns")),
    )
    key = "from" if direction == "ingress" else "to"
    if direction == "ingress":
        spec = {
            "podSelector": {"matchLabels": {"role": "server"}},
            "ingress": [{key: [], "ports": [rule_port]}],
        }
    else:
        spec = {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [rule_port]}],
        }
    return PolicyEngine(NS, [*PODS, s80, s81], [pol("x/p", spec)])


def test_named_port_resolves_per_destination_pod() -> None:
    e = named_port_engine({"port": "http"})
    s80, s81 = e.pod("x/s80"), e.pod("x/s81")
    assert e.allowed(YA, s80, 80)
    assert not e.allowed(YA, s80, 81)
    assert e.allowed(YA, s81, 81)
    assert not e.allowed(YA, s81, 80)


def test_named_port_with_wrong_protocol_matches_nothing() -> None:
    e = named_port_engine({"port": "http", "protocol": "UDP"})
    s80, s81 = e.pod("x/s80"), e.pod("x/s81")
    for dst in (s80, s81):
        for port in (80, 81):
            for proto in ("TCP", "UDP"):
                assert not e.allowed(YA, dst, port, proto)


def test_named_port_name_and_protocol_must_both_match() -> None:
    e = named_port_engine({"port": "dns", "protocol": "UDP"})
    s81 = e.pod("x/s81")
    assert e.allowed(YA, s81, 80, "UDP")
    assert not e.allowed(YA, s81, 80, "TCP")
    assert not e.allowed(YA, e.pod("x/s80"), 80, "UDP")


def test_named_port_in_egress_resolves_against_destination() -> None:
    e = named_port_engine({"port": "http"}, direction="egress")
    s80, s81 = e.pod("x/s80"), e.pod("x/s81")
    assert e.allowed(XA, s80, 80)
    assert not e.allowed(XA, s80, 81)
    assert e.allowed(XA, s81, 81)
    assert not e.allowed(XA, s81, 80)
    # XA's own "http"-less ports are irrelevant, and an external host has no port names.
    assert not e.allowed(XA, EXT, 80)
    assert not e.allowed(XA, EXT, 81)
    # A pod without declared ports cannot be reached by name.
    bare = PodModel("y", "bare", {}, "10.0.2.9")
    assert not e.allowed(XA, bare, 80)


# ---------------------------------------------------------------- ipBlock


def test_ip_block_matches_pods_and_external_peers_by_ip() -> None:
    e = ingress_to_xa({"from": [{"ipBlock": {"cidr": "10.0.2.0/24"}}]})
    assert e.allowed(YA, XA, 80)
    assert not e.allowed(XB, XA, 80)
    assert not e.allowed(NOIP, XA, 80)  # no IP, never matched by an ipBlock
    e2 = ingress_to_xa({"from": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]})
    assert e2.allowed(EXT, XA, 80)
    assert not e2.allowed(YA, XA, 80)


def test_ip_block_except() -> None:
    e = ingress_to_xa(
        {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.1.0/24", "10.0.2.1/32"]}}]}
    )
    assert not e.allowed(XB, XA, 80)
    assert not e.allowed(YA, XA, 80)
    assert e.allowed(PodModel("z", "c", {}, "10.0.3.3"), XA, 80)


def test_ip_block_host_bits_are_masked_and_families_do_not_mix() -> None:
    e = ingress_to_xa({"from": [{"ipBlock": {"cidr": "10.0.2.77/24"}}]})
    assert e.allowed(YA, XA, 80)
    v6 = PodModel("y", "v6", {}, "fd00::1")
    assert not e.allowed(v6, XA, 80)
    e6 = ingress_to_xa({"from": [{"ipBlock": {"cidr": "fd00::/64"}}]})
    assert e6.allowed(v6, XA, 80)
    assert not e6.allowed(YA, XA, 80)


@pytest.mark.parametrize(
    ("peer", "match"),
    [
        ({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}, "cannot be combined"),
        ({"ipBlock": {}}, r"ipBlock.cidr: is required"),
        ({"ipBlock": {"cidr": "10.0.0.1"}}, "not a CIDR"),
        ({"ipBlock": {"cidr": "10.0.0.0/33"}}, "invalid CIDR"),
        ({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}, "strict subset"),
        ({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}, "strict subset"),
        ({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/64"]}}, "strict subset"),
    ],
)
def test_invalid_ip_blocks(peer: dict[str, Any], match: str) -> None:
    with pytest.raises(NetworkPolicyError, match=match):
        ingress_to_xa({"from": [peer]})


# ---------------------------------------------------------------- selectors


@pytest.mark.parametrize(
    ("req", "labels", "expected"),
    [
        (Requirement("k", "In", ("v",)), {"k": "v"}, True),
        (Requirement("k", "In", ("v",)), {"k": "w"}, False),
        (Requirement("k", "In", ("v",)), {}, False),
        (Requirement("k", "NotIn", ("v",)), {}, True),
        (Requirement("k", "NotIn", ("v",)), {"k": "w"}, True),
        (Requirement("k", "NotIn", ("v",)), {"k": "v"}, False),
        (Requirement("k", "Exists"), {"k": ""}, True),
        (Requirement("k", "Exists"), {}, False),
        (Requirement("k", "DoesNotExist"), {}, True),
        (Requirement("k", "DoesNotExist"), {"k": "v"}, False),
    ],
)
def test_requirement_semantics(req: Requirement, labels: dict[str, str], expected: bool) -> None:
    assert req.matches(labels) is expected


def test_selector_is_and_of_labels_and_expressions() -> None:
    sel = LabelSelector((("a", "1"),), (Requirement("b", "Exists"),))
    assert sel.matches({"a": "1", "b": "x"})
    assert not sel.matches({"a": "1"})
    assert not sel.matches({"a": "2", "b": "x"})
    assert LabelSelector().matches({})
    assert LabelSelector().empty
    assert str(sel) == "{a=1,b}"


def test_unknown_operator_is_an_error_naming_the_policy() -> None:
    rule = {"from": [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "Has"}]}}]}
    with pytest.raises(ValueError, match=r"NetworkPolicy x/p: .*operator: unknown operator 'Has'"):
        ingress_to_xa(rule)
    with pytest.raises(ValueError, match="unknown label selector operator"):
        Requirement("k", "Has").matches({})


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        ({"key": "k", "operator": "In"}, "must be non-empty"),
        ({"key": "k", "operator": "NotIn", "values": []}, "must be non-empty"),
        ({"key": "k", "operator": "Exists", "values": ["v"]}, "must be empty"),
        ({"operator": "Exists"}, r"key: expected a string"),
        ({"key": "k", "operator": "In", "values": [1]}, r"values\[0\]: expected a string"),
    ],
)
def test_invalid_match_expressions(expr: dict[str, Any], match: str) -> None:
    with pytest.raises(NetworkPolicyError, match=match):
        engine(pol("x/p", {"podSelector": {"matchExpressions": [expr]}}))


def test_match_labels_values_must_be_strings() -> None:
    with pytest.raises(NetworkPolicyError, match=r"spec.podSelector.matchLabels.app"):
        engine(pol("x/p", {"podSelector": {"matchLabels": {"app": True}}}))


# ---------------------------------------------------------------- self traffic


def test_self_traffic_allow_mode() -> None:
    e = engine(pol("x/deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    v = e.explain(XA, XA, 80)
    assert v.allowed
    assert v.self_traffic
    assert v.ingress_isolated
    assert v.egress_isolated
    assert "always reaches itself" in v.reason
    assert not e.allowed(XA, XB, 80)


def test_self_traffic_evaluate_mode() -> None:
    deny = pol("x/deny", {"podSelector": {}})
    e = engine(deny, self_traffic="evaluate")
    assert not e.allowed(XA, XA, 80)
    assert not e.explain(XA, XA, 80).self_traffic
    allow_self = pol(
        "x/self",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "a"}}}]}],
        },
    )
    e2 = engine(deny, allow_self, self_traffic="evaluate")
    assert e2.allowed(XA, XA, 80)
    assert not e2.allowed(XB, XB, 80)


def test_self_traffic_mode_is_validated() -> None:
    with pytest.raises(ValueError, match="self_traffic"):
        engine(self_traffic="deny")


# ---------------------------------------------------------------- loading


def test_client_style_camel_case_dict() -> None:
    from kubernetes import client as k

    obj = k.V1NetworkPolicy(
        api_version="networking.k8s.io/v1",
        kind="NetworkPolicy",
        metadata=k.V1ObjectMeta(name="allow-b", namespace="x"),
        spec=k.V1NetworkPolicySpec(
            pod_selector=k.V1LabelSelector(match_labels={"pod": "a"}),
            policy_types=["Ingress"],
            ingress=[
                k.V1NetworkPolicyIngressRule(
                    _from=[
                        k.V1NetworkPolicyPeer(
                            pod_selector=k.V1LabelSelector(
                                match_expressions=[
                                    k.V1LabelSelectorRequirement(
                                        key="pod", operator="In", values=["b"]
                                    )
                                ]
                            )
                        )
                    ],
                    ports=[
                        k.V1NetworkPolicyPort(port=80, end_port=81, protocol="TCP"),
                        k.V1NetworkPolicyPort(port="http", protocol="UDP"),
                    ],
                )
            ],
        ),
    )
    api: Any = k.ApiClient()  # the client is untyped
    data = api.sanitize_for_serialization(obj)
    e = engine(data)
    assert e.allowed(XB, XA, 81)
    assert not e.allowed(YA, XA, 81)
    assert not e.allowed(XB, XA, 82)
    # The snake_case of to_dict() is refused with a hint.
    with pytest.raises(NetworkPolicyError, match="sanitize_for_serialization"):
        engine(obj.to_dict())


def test_client_list_items_without_kind_are_accepted() -> None:
    p = pol("x/p", {"podSelector": {}})
    del p["kind"], p["apiVersion"]
    p["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    p["status"] = {}
    assert not engine(p).allowed(YA, XA, 80)


YAML = """
# a comment-only document is empty
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {}}
---
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-y
  namespace: x
spec:
  podSelector:
    matchLabels: {pod: a}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
    ports:
    - port: 80
"""


def test_load_policies_from_yaml() -> None:
    policies = load_policies(YAML)
    assert [p["metadata"]["name"] for p in policies] == ["deny", "allow-y"]
    e = engine(*policies)
    assert e.allowed(YA, XA, 80)
    assert not e.allowed(YA, XA, 81)
    assert not e.allowed(YA, XB, 80)
    assert load_policies("") == []
    assert load_policies("---\n---\n") == []


def test_dump_and_load_round_trip() -> None:
    policies = load_policies(YAML)
    assert load_policies(dump_policies(policies)) == policies


def test_load_policies_flattens_lists() -> None:
    items = load_policies(YAML)
    bare = copy.deepcopy(items[1])
    del bare["kind"]
    text = dump_policies([{"apiVersion": "v1", "kind": "List", "items": [items[0]]}])
    text += "---\n" + dump_policies([{"kind": "NetworkPolicyList", "items": [bare]}])
    assert [p["metadata"]["name"] for p in load_policies(text)] == ["deny", "allow-y"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("kind: ConfigMap\nmetadata: {name: c, namespace: x}\n", "expected kind NetworkPolicy"),
        ("metadata: {name: c, namespace: x}\n", "expected kind NetworkPolicy, got None"),
        ("- a\n- b\n", "expected a mapping"),
        ("kind: NetworkPolicy\nmetadata: {name: c}\n", "metadata.namespace: is required"),
        ("kind: NetworkPolicy\nmetadata: {namespace: x}\n", "metadata.name: is required"),
        ("{unclosed: [\n", "invalid YAML"),
        (
            "kind: NetworkPolicy\napiVersion: extensions/v1beta1\n"
            "metadata: {name: c, namespace: x}",
            "expected networking.k8s.io/v1",
        ),
        (
            "kind: NetworkPolicy\nmetadata: {name: c, namespace: x}\nspec: {podselector: {}}",
            "unknown field 'podselector'",
        ),
        (
            "kind: NetworkPolicy\nmetadata: {name: c, namespace: x}\nspec: {ingress: [{to: []}]}",
            r"spec.ingress\[0\]: unknown field 'to'",
        ),
        (
            "kind: NetworkPolicy\nmetadata: {name: c, namespace: x}\nspec: {ingress: {}}",
            "spec.ingress: expected a list",
        ),
    ],
)
def test_load_policies_rejects(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_policies(text)


def test_errors_name_the_policy() -> None:
    with pytest.raises(NetworkPolicyError) as info:
        engine(pol("x/ok", {}), {"spec": {"podSelector": 3}})
    assert "#1 <unnamed>" in str(info.value)
    with pytest.raises(NetworkPolicyError, match=r"NetworkPolicy x/p: metadata.name: given twice"):
        engine(pol("x/p", {}), pol("x/p", {}))
    with pytest.raises(NetworkPolicyError, match=r"NetworkPolicy y/bad: spec\.podSelector"):
        engine(pol("y/bad", {"podSelector": []}))


def test_query_validation() -> None:
    e = engine()
    with pytest.raises(ValueError, match="unsupported protocol 'tcp'"):
        e.allowed(XA, XB, 80, "tcp")
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        e.allowed(XA, XB, 0)
    with pytest.raises(ValueError, match="direction"):
        e.selecting(XA, "ingress")


def test_model_validation() -> None:
    with pytest.raises(ValueError, match="invalid IP"):
        PodModel("x", "a", {}, "10.0.0.300")
    with pytest.raises(ValueError, match="protocol"):
        ContainerPort(80, "HTTP")
    with pytest.raises(ValueError, match="given twice"):
        PolicyEngine(NS, [XA, XA], [])
    assert len({XA, PodModel("x", "a", {"pod": "a"}, "10.0.1.1", TCP_UDP)}) == 1
    assert XA.id == "x/a"
    assert EXT.id == "ext/host"


# ---------------------------------------------------------------- explain


def test_explain_blocked_by_ingress() -> None:
    e = PolicyEngine(
        NS, PODS, [pol("x/deny-all", {"podSelector": {}}), pol("x/other", {"podSelector": {}})]
    )
    v = e.explain(YA, XB, 80)
    assert not v.allowed
    assert v.ingress_isolated
    assert not v.egress_isolated
    assert v.ingress_isolated_by == ["x/deny-all", "x/other"]
    assert v.ingress_allowed_by == []
    assert v.egress_allowed_by == []
    assert v.reason == (
        "blocked: x/b is isolated for ingress by x/deny-all, x/other "
        "and no ingress rule admits y/a on 80/TCP"
    )


def test_explain_reason_matches_the_documented_example() -> None:
    v = engine(pol("x/deny-all", {"podSelector": {}})).explain(YA, XB, 80)
    documented = "blocked: x/b is isolated for ingress by x/deny-all and no ingress rule admits"
    assert v.reason == f"{documented} y/a on 80/TCP"


def test_explain_blocked_by_egress_and_ingress() -> None:
    e = engine(
        pol("x/deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}),
        pol("y/deny-ingress", {"podSelector": {}}),
    )
    v = e.explain(XA, YA, 81, "UDP")
    assert not v.allowed
    assert not v.egress_ok
    assert not v.ingress_ok
    assert v.reason == (
        "blocked: x/a is isolated for egress by x/deny-egress and no egress rule admits y/a "
        "on 81/UDP; and y/a is isolated for ingress by y/deny-ingress and no ingress rule "
        "admits x/a on 81/UDP"
    )


def test_explain_allowed_lists_admitting_policies() -> None:
    e = engine(
        pol("x/deny", {"podSelector": {}}),
        pol("x/allow-80", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
        pol("x/allow-all", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{}]}),
    )
    v = e.explain(YA, XA, 80)
    assert v.allowed
    assert v.ingress_isolated_by == ["x/deny", "x/allow-80", "x/allow-all"]
    assert v.ingress_allowed_by == ["x/allow-80", "x/allow-all"]
    assert v.reason == (
        "allowed on 80/TCP: y/a is not isolated for egress "
        "and ingress to x/a is admitted by x/allow-80, x/allow-all"
    )
    assert e.explain(YA, XA, 81).ingress_allowed_by == ["x/allow-all"]
    assert not e.explain(YA, XB, 81).allowed


def test_explain_external_peers() -> None:
    e = engine(
        pol(
            "x/egress",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]}],
            },
        )
    )
    v = e.explain(XA, EXT, 443)
    assert v.allowed
    assert v.egress_allowed_by == ["x/egress"]
    assert v.reason == (
        "allowed on 443/TCP: egress from x/a is admitted by x/egress "
        "and ext/host is external and never isolated"
    )
    assert e.explain(EXT, XA, 80).reason.startswith("allowed on 80/TCP: ext/host is external")
