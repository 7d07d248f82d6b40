"""The categories of Kubernetes' netpol e2e (test/e2e/network/netpol/network_policy.go)
as data: egress, ipBlock, precedence. The model they are written against is :mod:`npconform.model.e2e_model`."""

# Long lines are YAML policies, kept on one line each for readability.
# ruff: noqa: E501

from __future__ import annotations

from npconform.model.e2e_model import ALL, Case, netpol
from npconform.model.expect import EVERYTHING, allowed_except, blocked_except

CASES = [
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
