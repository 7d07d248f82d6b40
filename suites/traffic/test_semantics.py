"""Policy semantics: every category of Kubernetes' netpol e2e, on the cluster.

The model is the e2e's (``e2e_model``, shared with the generated cases): namespaces x, y,
z with pods a, b, c (label pod=<name>), each serving two ports over TCP and UDP, plus two
hosts outside the cluster (ext/one, ext/two). The cases are the ones the oracle's unit
tests use (npconform.model.e2e_cases), with ports shifted to the probe pods' unprivileged
ports (80 -> 8080, 81 -> 8081); the expectation written for each case is checked against
the cluster and against the oracle. ipBlock cases need the run's real addresses and are
written here.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from npconform.model import e2e_cases as e2e
from npconform.model.matrix import Cell, Matrix
from npconform.model.netpol import load_policies, network_policy
from npconform.model.pairing import is_external
from npconform.scenario import externals
from npconform.scenario.world import World

from .e2e_model import PODS, SHIFT, group_name

pytestmark = [pytest.mark.traffic, pytest.mark.cluster]
SEMANTICS = pytest.mark.check("NET-SEMANTICS")
IPBLOCK = pytest.mark.check("NET-IPBLOCK")


def group(i: int) -> pytest.MarkDecorator:
    return pytest.mark.xdist_group(group_name(i))


def shift_ports(policy: dict[str, Any]) -> dict[str, Any]:
    pol = copy.deepcopy(policy)
    for direction in ("ingress", "egress"):
        for rule in pol.get("spec", {}).get(direction) or []:
            for port in rule.get("ports") or []:
                if isinstance(port.get("port"), int):
                    port["port"] += SHIFT
                elif isinstance(port.get("port"), str):
                    port["port"] = re.sub(
                        r"^serve-(\d+)-",
                        lambda m: f"serve-{int(m.group(1)) + SHIFT}-",
                        port["port"],
                    )
                if "endPort" in port:
                    port["endPort"] += SHIFT
    return pol


def expected_for(exp: dict[tuple[int, str], e2e.Expect], peers: list[str]) -> Matrix:
    """Every ordered pair of distinct peers that crosses the cluster (two external hosts
    never do: their cells are no evidence)."""
    m = Matrix()
    for (port, proto), rule in exp.items():
        for s in peers:
            for d in peers:
                if s != d and not (is_external(s) and is_external(d)):
                    m[Cell(s, d, port + SHIFT, proto)] = rule.verdict(s, d)
    return m


def peers_of(w: World) -> list[str]:
    return [p.id for p in PODS] + [f"ext/{n}" for n in w.externals]


CASES = [c for c in e2e.CASES if "ipBlock" not in "".join(c.policies)]


@SEMANTICS
@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=group(i)) for i, c in enumerate(CASES)]
)
def test_e2e_category(case: e2e.Case, fresh: World) -> None:
    peers = peers_of(fresh)
    expect = {col: exp for col, exp in case.columns()}
    fresh.apply(*[shift_ports(p) for p in load_policies("---\n".join(case.policies))])
    fresh.expect(case.name, expected_for(expect, peers))


# ---- ipBlock, with the run's real addresses ------------------------------------------------


@IPBLOCK
@group(0)
def test_ipblock_egress_to_one_pod(fresh: World) -> None:
    yb = fresh.pod_state["y/b"].ip
    fresh.apply(
        network_policy(
            "x",
            "to-y-b",
            {
                "podSelector": {"matchLabels": {"pod": "a"}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": f"{yb}/32"}}]}],
            },
        )
    )
    exp = {(80, "TCP"): e2e.allowed_except("x/a -> *", unless=["x/a -> y/b"])}
    fresh.expect("ipBlock egress to one pod's /32", expected_for(exp, peers_of(fresh)))


@IPBLOCK
@group(1)
def test_ipblock_egress_with_except(fresh: World) -> None:
    if not fresh.externals:
        pytest.skip("no host outside the cluster on this target (kind only)")
    xb = fresh.pod_state["x/b"].ip
    two = fresh.externals["two"].ip
    fresh.apply(
        network_policy(
            "x",
            "cidr-except",
            {
                "podSelector": {"matchLabels": {"pod": "a"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {"ipBlock": {"cidr": "192.168.0.0/16", "except": [f"{xb}/32"]}},
                            {
                                "ipBlock": {
                                    "cidr": externals.network_cidr(),
                                    "except": [f"{two}/32"],
                                }
                            },
                        ]
                    }
                ],
            },
        )
    )
    exp = {
        col: e2e.allowed_except("x/a -> x/b", "x/a -> ext/two")
        for col in ((80, "TCP"), (81, "UDP"))
    }
    fresh.expect(
        "ipBlock egress with except (pods and an external host)", expected_for(exp, peers_of(fresh))
    )


@IPBLOCK
@group(2)
def test_ipblock_ingress_from_external_range_with_except(fresh: World) -> None:
    if not fresh.externals:
        pytest.skip("no host outside the cluster on this target (kind only)")
    two = fresh.externals["two"].ip
    fresh.apply(
        network_policy(
            "x",
            "from-ext",
            {
                "podSelector": {"matchLabels": {"pod": "a"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"ipBlock": {"cidr": externals.network_cidr(), "except": [f"{two}/32"]}}
                        ]
                    }
                ],
            },
        )
    )
    exp = {(80, "TCP"): e2e.allowed_except("* -> x/a", unless=["ext/one -> x/a"])}
    fresh.expect(
        "ipBlock ingress from an external range with except", expected_for(exp, peers_of(fresh))
    )


@IPBLOCK
@group(3)
def test_ipblock_ingress_matches_pods_by_ip(fresh: World) -> None:
    ips = [fresh.pod_state[p].ip for p in ("y/a", "y/b", "y/c")]
    fresh.apply(
        network_policy(
            "x",
            "from-y-ips",
            {
                "podSelector": {"matchLabels": {"pod": "a"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": f"{ip}/32"}} for ip in ips]}],
            },
        )
    )
    exp = {(80, "TCP"): e2e.allowed_except("* -> x/a", unless=["y/* -> x/a"])}
    fresh.expect("ipBlock ingress matches pods by IP", expected_for(exp, peers_of(fresh)))
