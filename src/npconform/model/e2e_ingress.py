"""The categories of Kubernetes' netpol e2e (test/e2e/network/netpol/network_policy.go)
as data: default deny and allow all, pod and namespace selectors, ports. The model they are written against is :mod:`npconform.model.e2e_model`."""

# Long lines are YAML policies, kept on one line each for readability.
# ruff: noqa: E501

from __future__ import annotations

from npconform.model.e2e_model import ALL, Case, netpol
from npconform.model.expect import EVERYTHING, allowed_except

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
]
