"""The categories of Kubernetes' netpol e2e (test/e2e/network/netpol/network_policy.go) as data.

The model is the e2e's: namespaces x, y, z (labelled ``ns=<name>`` besides the automatic
``kubernetes.io/metadata.name``), pods a, b, c in each (label ``pod=<name>``), each serving
80 and 81 over TCP and UDP with container ports named ``serve-<port>-<proto>``; pod IPs are
``10.0.<ns #>.<pod #>`` counting from 1 (x/a = 10.0.1.1, y/b = 10.0.2.2). Two external hosts,
ext/one (192.168.200.10) and ext/two (192.168.200.20), are sources and targets too.

Expectations are written as the e2e writes them: for given port/protocol columns, everything
allowed (or blocked) except cells matching ``"src -> dst"`` patterns, where each side is an
fnmatch pattern over peer ids (``x/a``, ``x/*``, ``*/a``, ``[yz]/*`` for pods of y and z,
``ext/*``, ``*`` for any peer); ``unless`` patterns restore the default (the e2e's later
``Expect(..., true)`` after ``ExpectAllIngress(..., false)``). As the e2e ignores loopback,
a peer always reaches itself (the engine's default ``self_traffic="allow"``).
"""

# Long lines are YAML policies, kept on one line each for readability.
# ruff: noqa: E501

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from npconform.model.matrix import Cell, Matrix
from npconform.model.netpol import (
    ContainerPort,
    ExternalPeer,
    NamespaceModel,
    Peer,
    PodModel,
)

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
class Expect:
    default: bool
    exceptions: tuple[str, ...]
    unless: tuple[str, ...] = ()

    @staticmethod
    def _match(pattern: str, src: str, dst: str) -> bool:
        s, d = (side.strip() for side in pattern.split("->"))
        return fnmatchcase(src, s) and fnmatchcase(dst, d)

    def verdict(self, src: str, dst: str) -> bool:
        if src == dst:
            return True
        flipped = any(self._match(p, src, dst) for p in self.exceptions) and not any(
            self._match(p, src, dst) for p in self.unless
        )
        return self.default != flipped

    def patterns(self) -> tuple[str, ...]:
        return self.exceptions + self.unless


def allowed_except(*blocked: str, unless: Sequence[str] = ()) -> Expect:
    return Expect(True, blocked, tuple(unless))


def blocked_except(*allowed: str, unless: Sequence[str] = ()) -> Expect:
    return Expect(False, allowed, tuple(unless))


EVERYTHING = allowed_except()


@dataclass(frozen=True)
class Case:
    name: str
    policies: tuple[str, ...]
    expect: Mapping[str, Expect] = field(default_factory=dict)
    """Space-separated ``<port>/<protocol>`` columns -> expectation."""

    def columns(self) -> list[tuple[tuple[int, str], Expect]]:
        out = []
        for cols, exp in self.expect.items():
            for col in cols.split():
                port, proto = col.split("/")
                out.append(((int(port), proto), exp))
        return out


DENY_INGRESS_X = netpol("x/deny-ingress", "{podSelector: {}, policyTypes: [Ingress]}")

CASES = [
    # ---- default deny / allow all
    Case(
        "default deny ingress",
        (DENY_INGRESS_X,),
        {ALL: allowed_except("* -> x/*")},
    ),
    Case(
        "default deny ingress, policyTypes defaulted",
        (netpol("x/deny-ingress", "podSelector: {}"),),
        {ALL: allowed_except("* -> x/*")},
    ),
    Case(
        "default deny egress",
        (netpol("x/deny-egress", "{podSelector: {}, policyTypes: [Egress]}"),),
        {ALL: allowed_except("x/* -> *")},
    ),
    Case(
        "default deny all",
        (netpol("x/deny-all", "{podSelector: {}, policyTypes: [Ingress, Egress]}"),),
        {ALL: allowed_except("x/* -> *", "* -> x/*")},
    ),
    Case(
        "allow all ingress isolates nothing",
        (netpol("x/allow-all", "{podSelector: {}, ingress: [{}]}"),),
        {ALL: EVERYTHING},
    ),
    Case(
        "allow all egress isolates nothing",
        (netpol("x/allow-all", "{podSelector: {}, policyTypes: [Egress], egress: [{}]}"),),
        {ALL: EVERYTHING},
    ),
    # ---- pod selectors
    Case(
        "podSelector matchLabels: x/a admits only x/b",
        (
            netpol(
                "x/x-a-allows-x-b",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [podSelector: {matchLabels: {pod: b}}]}]
                """,
            ),
        ),
        {"80/TCP 81/UDP": allowed_except("* -> x/a", unless=["x/b -> x/a"])},
    ),
    Case(
        "podSelector matchExpressions: x/a admits only x/b",
        (
            netpol(
                "x/x-a-allows-x-b",
                """
                podSelector: {matchExpressions: [{key: pod, operator: In, values: [a]}]}
                ingress: [{from: [podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["x/b -> x/a"])},
    ),
    Case(
        "empty podSelector in from: same namespace only",
        (netpol("x/deny-other-ns", "{podSelector: {}, ingress: [{from: [podSelector: {}]}]}"),),
        {"80/TCP": allowed_except("* -> x/*", unless=["x/* -> x/*"])},
    ),
    Case(
        "any podSelectors (two peers are OR)",
        (
            netpol(
                "x/allow-b-c",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from: [podSelector: {matchLabels: {pod: b}}, podSelector: {matchLabels: {pod: c}}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["x/[bc] -> x/a"])},
    ),
    Case(
        "deny all ingress, then allow ingress to x/a from every pod",
        (
            netpol("x/deny-all", "podSelector: {}"),
            netpol(
                "x/allow-all-to-a",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [{podSelector: {}, namespaceSelector: {}}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/*", unless=["[xyz]/* -> x/a"])},
    ),
    # ---- namespace selectors
    Case(
        "empty namespaceSelector admits pods of every namespace (not external hosts)",
        (
            netpol(
                "x/allow-from-all-ns",
                "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [namespaceSelector: {}]}]}",
            ),
        ),
        {"80/TCP": allowed_except("ext/* -> x/a")},
    ),
    Case(
        "namespaceSelector matchLabels",
        (
            netpol(
                "x/allow-ns-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [namespaceSelector: {matchLabels: {ns: y}}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"])},
    ),
    Case(
        "namespaceSelector matchExpressions",
        (
            netpol(
                "x/allow-ns-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from: [namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: [y]}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"])},
    ),
    Case(
        "namespaceSelector on the automatic kubernetes.io/metadata.name label",
        (
            netpol(
                "x/allow-ns-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"])},
    ),
    Case(
        "podSelector OR namespaceSelector (two peers)",
        (
            netpol(
                "x/allow-not-x-or-b",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
                  - podSelector: {matchLabels: {pod: b}}
                """,
            ),
        ),
        {"80/TCP": allowed_except("x/c -> x/a", "ext/* -> x/a")},
    ),
    Case(
        "podSelector AND namespaceSelector (one peer)",
        (
            netpol(
                "x/allow-b-not-x",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
                    podSelector: {matchLabels: {pod: b}}
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["[yz]/b -> x/a"])},
    ),
    Case(
        "multiple pods AND namespaces via matchExpressions",
        (
            netpol(
                "x/allow-bc-not-x",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}
                    podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["[yz]/[bc] -> x/a"])},
    ),
    # ---- ports
    Case(
        "numbered port: y may reach x/a on 81/TCP only",
        (
            netpol(
                "x/allow-81-from-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from: [namespaceSelector: {matchLabels: {ns: y}}]
                  ports: [{port: 81, protocol: TCP}]
                """,
            ),
        ),
        {
            "81/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"]),
            "80/TCP 80/UDP 81/UDP": allowed_except("* -> x/a"),
        },
    ),
    Case(
        "two policies union (stacked 81 then 80)",
        (
            netpol(
                "x/allow-81-from-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [namespaceSelector: {matchLabels: {ns: y}}], ports: [port: 81]}]
                """,
            ),
            netpol(
                "x/allow-80-from-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [namespaceSelector: {matchLabels: {ns: y}}], ports: [port: 80]}]
                """,
            ),
        ),
        {
            "80/TCP 81/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"]),
            "80/UDP 81/UDP": allowed_except("* -> x/a"),
        },
    ),
    Case(
        "named port: namespace x admits only serve-81-tcp",
        (netpol("x/allow-81-named", "{podSelector: {}, ingress: [ports: [port: serve-81-tcp]]}"),),
        {"81/TCP": EVERYTHING, "80/TCP 80/UDP 81/UDP": allowed_except("* -> x/*")},
    ),
    Case(
        "named port from a namespace",
        (
            netpol(
                "x/allow-80-named-from-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from: [namespaceSelector: {matchLabels: {ns: y}}]
                  ports: [{port: serve-80-tcp, protocol: TCP}]
                """,
            ),
        ),
        {
            "80/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"]),
            "81/TCP 80/UDP 81/UDP": allowed_except("* -> x/a"),
        },
    ),
    Case(
        "named port in an egress rule (never matches an external host)",
        (
            netpol(
                "x/allow-egress-80-named",
                "{podSelector: {}, policyTypes: [Egress], egress: [ports: [port: serve-80-tcp]]}",
            ),
        ),
        {
            "80/TCP": allowed_except("x/* -> ext/*"),
            "81/TCP 80/UDP 81/UDP": allowed_except("x/* -> *"),
        },
    ),
    Case(
        "multiple ports in one rule",
        (
            netpol(
                "x/allow-two-ports",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [ports: [{port: 80}, {port: 81, protocol: UDP}]]
                """,
            ),
        ),
        {"80/TCP 81/UDP": EVERYTHING, "81/TCP 80/UDP": allowed_except("* -> x/a")},
    ),
    Case(
        "endPort range",
        (
            netpol(
                "x/allow-81-90",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [ports: [{port: 81, endPort: 90}, {port: 70, endPort: 80, protocol: UDP}]]
                """,
            ),
        ),
        {"81/TCP 80/UDP": EVERYTHING, "80/TCP 81/UDP": allowed_except("* -> x/a")},
    ),
    Case(
        "UDP-only policy opens no TCP",
        (
            netpol(
                "x/allow-only-udp-81",
                "{podSelector: {matchLabels: {pod: a}}, ingress: [ports: [{port: 81, protocol: UDP}]]}",
            ),
        ),
        {"81/UDP": EVERYTHING, "80/TCP 81/TCP 80/UDP": allowed_except("* -> x/a")},
    ),
    Case(
        "SCTP-only policy still isolates for TCP",
        (
            DENY_INGRESS_X,
            netpol(
                "x/allow-only-sctp-81",
                "{podSelector: {matchLabels: {pod: a}}, ingress: [ports: [{port: 81, protocol: SCTP}]]}",
            ),
        ),
        {ALL: allowed_except("* -> x/*")},
    ),
    Case(
        "protocol-only port entry: any TCP port",
        (
            netpol(
                "x/allow-tcp",
                "{podSelector: {matchLabels: {pod: a}}, ingress: [ports: [protocol: TCP]]}",
            ),
        ),
        {"80/TCP 81/TCP": EVERYTHING, "80/UDP 81/UDP": allowed_except("* -> x/a")},
    ),
    # ---- egress
    Case(
        "egress deny by pod",
        (
            netpol(
                "x/deny-egress-a",
                "{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}",
            ),
        ),
        {ALL: allowed_except("x/a -> *")},
    ),
    Case(
        "egress deny by namespace (NotIn y on the metadata.name label)",
        (
            netpol(
                "x/egress-not-y",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [y]}]
                """,
            ),
        ),
        {ALL: allowed_except("x/a -> y/*", "x/a -> ext/*")},
    ),
    Case(
        "egress to a pod in another namespace (pod AND namespace)",
        (
            netpol(
                "x/allow-to-y-a",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("x/a -> *", unless=["x/a -> y/a"])},
    ),
    Case(
        "client-side egress deny even though the server allows",
        (
            netpol(
                "x/allow-to-y-a",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]}]
                """,
            ),
            netpol(
                "y/allow-from-x-a-on-a",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}]
                """,
            ),
            netpol(
                "y/allow-from-x-a-on-b",
                """
                podSelector: {matchLabels: {pod: b}}
                ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}]
                """,
            ),
        ),
        {"80/TCP": allowed_except("x/a -> *", "* -> y/[ab]", unless=["x/a -> y/a"])},
    ),
    Case(
        "ingress and egress in one policy",
        (
            netpol(
                "x/a-both",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress, Ingress]
                ingress: [{from: [podSelector: {matchLabels: {pod: b}}]}]
                egress: [{ports: [port: 80]}]
                """,
            ),
        ),
        {
            "80/TCP": allowed_except("* -> x/a", unless=["x/b -> x/a"]),
            "81/TCP 80/UDP 81/UDP": allowed_except("* -> x/a", "x/a -> *", unless=["x/b -> x/a"]),
        },
    ),
    Case(
        "ingress and egress controlled independently",
        (
            netpol(
                "x/allow-egress-a",
                "{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{}]}",
            ),
            netpol("x/deny-ingress-a", "podSelector: {matchLabels: {pod: a}}"),
        ),
        {ALL: allowed_except("* -> x/a")},
    ),
    Case(
        "egress rules without policyTypes default to Ingress and Egress",
        (netpol("x/egress-defaulted", "{podSelector: {matchLabels: {pod: a}}, egress: [{}]}"),),
        {ALL: allowed_except("* -> x/a")},
    ),
    Case(
        "policyTypes Egress only does not isolate ingress (its ingress rules are ignored)",
        (
            netpol(
                "x/egress-only",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                ingress: [{from: [podSelector: {matchLabels: {pod: b}}]}]
                egress: [{to: [namespaceSelector: {}]}]
                """,
            ),
        ),
        {ALL: allowed_except("x/a -> ext/*")},
    ),
    # ---- ipBlock
    Case(
        "ipBlock egress to one pod's /32",
        (
            netpol(
                "x/allow-to-y-b-ip",
                "{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [to: [ipBlock: {cidr: 10.0.2.2/32}]]}",
            ),
        ),
        {"80/TCP": allowed_except("x/a -> *", unless=["x/a -> y/b"])},
    ),
    Case(
        "ipBlock egress with except (pods and an external host)",
        (
            netpol(
                "x/allow-cidr-except",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - ipBlock: {cidr: 10.0.0.0/8, except: [10.0.1.2/32]}
                  - ipBlock: {cidr: 192.168.200.0/24, except: [192.168.200.20/32]}
                """,
            ),
        ),
        {ALL: allowed_except("x/a -> x/b", "x/a -> ext/two")},
    ),
    Case(
        "an IP in both cidr and except is allowed by another policy",
        (
            netpol(
                "x/allow-cidr-except",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress: [to: [ipBlock: {cidr: 0.0.0.0/4, except: [10.0.1.2/32]}]]
                """,
            ),
            netpol(
                "x/allow-x-b",
                "{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [to: [ipBlock: {cidr: 10.0.1.2/32}]]}",
            ),
        ),
        {"80/TCP": allowed_except("x/a -> ext/*")},
    ),
    Case(
        "ipBlock ingress from an external range with except",
        (
            netpol(
                "x/allow-from-ext",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [from: [ipBlock: {cidr: 192.168.200.0/24, except: [192.168.200.20/32]}]]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["ext/one -> x/a"])},
    ),
    Case(
        "ipBlock ingress matches pods by IP",
        (
            netpol(
                "x/allow-from-y-ips",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress: [from: [ipBlock: {cidr: 10.0.2.0/24}]]
                """,
            ),
        ),
        {"80/TCP": allowed_except("* -> x/a", unless=["y/* -> x/a"])},
    ),
    # ---- precedence
    Case(
        "ingress allow-all takes precedence over a port-80-only policy",
        (
            netpol("x/allow-ingress-80", "{podSelector: {}, ingress: [ports: [port: 80]]}"),
            netpol("x/allow-ingress", "{podSelector: {}, ingress: [{}]}"),
        ),
        {"81/TCP": EVERYTHING},
    ),
    Case(
        "ingress port-80-only policy alone blocks 81",
        (netpol("x/allow-ingress-80", "{podSelector: {}, ingress: [ports: [port: 80]]}"),),
        {"81/TCP": allowed_except("* -> x/*"), "80/TCP": EVERYTHING},
    ),
    Case(
        "egress allow-all takes precedence over a port-80-only policy",
        (
            netpol(
                "x/allow-egress-80",
                "{podSelector: {}, policyTypes: [Egress], egress: [ports: [port: 80]]}",
            ),
            netpol("x/allow-egress", "{podSelector: {}, policyTypes: [Egress], egress: [{}]}"),
        ),
        {"81/TCP": EVERYTHING},
    ),
    Case(
        "egress port-80-only policy alone blocks 81 (and 80/UDP)",
        (
            netpol(
                "x/allow-egress-80",
                "{podSelector: {}, policyTypes: [Egress], egress: [ports: [port: 80]]}",
            ),
        ),
        {"81/TCP 80/UDP": allowed_except("x/* -> *"), "80/TCP": EVERYTHING},
    ),
    Case(
        "default deny all everywhere, then allow within y",
        (
            netpol("x/deny-all", "{podSelector: {}, policyTypes: [Ingress, Egress]}"),
            netpol("y/deny-all", "{podSelector: {}, policyTypes: [Ingress, Egress]}"),
            netpol("z/deny-all", "{podSelector: {}, policyTypes: [Ingress, Egress]}"),
            netpol(
                "y/within-y",
                "{podSelector: {}, ingress: [from: [podSelector: {}]], egress: [to: [podSelector: {}]]}",
            ),
        ),
        {ALL: blocked_except("y/* -> y/*", "ext/* -> ext/*")},
    ),
]


def expected_matrix(c: Case) -> Matrix:
    m = Matrix()
    for (port, proto), exp in c.columns():
        for src in PEERS:
            for dst in PEERS:
                m[Cell(src.id, dst.id, port, proto)] = exp.verdict(src.id, dst.id)
    return m
