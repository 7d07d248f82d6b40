"""The model of Kubernetes' netpol e2e (test/e2e/network/netpol/network_policy.go), the
one its categories are written against: namespaces x, y, z (labelled ``ns=<name>`` besides
the automatic ``kubernetes.io/metadata.name``), pods a, b, c in each (label
``pod=<name>``), each serving 80 and 81 over TCP and UDP with container ports named
``serve-<port>-<proto>``; pod IPs are ``10.0.<ns #>.<pod #>`` counting from 1 (x/a =
10.0.1.1, y/b = 10.0.2.2). Two external hosts, ext/one (192.168.200.10) and ext/two
(192.168.200.20), are sources and targets too.

A :class:`Case` is policies and, per port/protocol column, an expectation in the pattern
language of :mod:`npconform.model.expect`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

from npconform.model.expect import Expect, columns
from npconform.model.matrix import Cell, Matrix
from npconform.model.netpol import ContainerPort, ExternalPeer, NamespaceModel, Peer, PodModel

NAMESPACES = [NamespaceModel(ns, {"ns": ns}) for ns in ("x", "y", "z")]
PODS = [
    PodModel(
        ns.name,
        pod,
        {"pod": pod},
        f"10.0.{i}.{j}",
        tuple(
            ContainerPort(port, proto, f"serve-{port}-{proto.lower()}")
            for port in (80, 81)
            for proto in ("TCP", "UDP")
        ),
    )
    for i, ns in enumerate(NAMESPACES, start=1)
    for j, pod in enumerate(("a", "b", "c"), start=1)
]
EXTERNAL = [ExternalPeer("one", "192.168.200.10"), ExternalPeer("two", "192.168.200.20")]
PEERS: list[Peer] = [*PODS, *EXTERNAL]
ALL = "80/TCP 81/TCP 80/UDP 81/UDP"


def netpol(ref: str, spec: str) -> str:
    """One NetworkPolicy manifest: ``ref`` is ``<namespace>/<name>``, ``spec`` YAML."""
    ns, name = ref.split("/")
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: {ns}}}\nspec:\n{body}\n"
    )


@dataclass(frozen=True)
class Case:
    name: str
    policies: tuple[str, ...]
    expect: Mapping[str, Expect] = field(default_factory=dict)
    """Space-separated ``<port>/<protocol>`` columns -> expectation."""

    def columns(self) -> list[tuple[tuple[int, str], Expect]]:
        return columns(self.expect)


def expected_matrix(c: Case) -> Matrix:
    m = Matrix()
    for (port, proto), exp in c.columns():
        for src in PEERS:
            for dst in PEERS:
                m[Cell(src.id, dst.id, port, proto)] = exp.verdict(src.id, dst.id)
    return m
