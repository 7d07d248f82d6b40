"""Tenant isolation at scale, with no cluster: a generated cluster state (tenants of one to
four namespaces found by a ``tenant`` label, platform namespaces labelled
``owner=operator``, per-namespace segregation, demo-style open policies, cross-tenant
allows, DNS egress, ipBlocks, named ports) written to JSON, loaded back and computed, timed,
with the process's peak memory."""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from npconform.model.isolation import State, compute
from npconform.model.tenants import TenantModel, cluster_dns_egress, from_doc

PLATFORM_NS = ["kube-system", "ingress-nginx", "monitoring", "calico-system"]
TENANTS_DOC = {
    "version": 1,
    "tenants": {"label": "tenant"},
    "intended": [
        {
            "description": "ingress controller to each tenant's web port",
            "from": {"namespace": "ingress-nginx"},
            "to": {"tenant": "*", "pods": {"tier": "web"}},
            "ports": ["8080/TCP"],
        },
        {
            "description": "every tenant to DNS",
            "from": {"tenant": "*"},
            "to": {"platform": True, "namespace": "kube-system", "pods": {"k8s-app": "kube-dns"}},
            "ports": ["53/UDP", "53/TCP"],
        },
    ],
}


def _ports(tier: str) -> list[list[Any]]:
    if tier == "web":
        return [[8080, "TCP", "http"], [8443, "TCP", "https"]]
    if tier == "db":
        return [[5432, "TCP", "pg"]]
    if tier == "mq":
        return [[5672, "TCP", "amqp"], [15672, "TCP", "mgmt"]]
    return [[9000, "TCP", "api"], [9090, "TCP", "metrics"]]


def generate(
    namespaces: int = 2000, pods: int = 20000, policies: int = 5000, seed: int = 1
) -> dict[str, Any]:
    """A state document of that size."""
    rnd = random.Random(seed)
    ns_labels: dict[str, dict[str, str]] = {n: {"owner": "operator"} for n in PLATFORM_NS}
    names: list[str] = []
    tenant = 0
    while len(ns_labels) < namespaces:
        for _ in range(rnd.randint(1, 4)):
            if len(ns_labels) >= namespaces:
                break
            name = f"t{tenant:04d}-ns{len(names):04d}"
            ns_labels[name] = {"tenant": f"t{tenant:04d}"}
            names.append(name)
        tenant += 1
    tiers = ["web", "api", "db", "mq"]
    pod_docs = []
    for i in range(pods):
        if i < 40:
            ns = PLATFORM_NS[i % len(PLATFORM_NS)]
            labels = {"k8s-app": "kube-dns"} if ns == "kube-system" else {"app": f"{ns}-{i % 3}"}
            ports = (
                [[53, "UDP", "dns"], [53, "TCP", "dns-tcp"]]
                if ns == "kube-system"
                else [[80, "TCP", "http"]]
            )
        else:
            ns = names[rnd.randrange(len(names))]
            tier = rnd.choice(tiers)
            labels = {
                "app.kubernetes.io/name": f"app{rnd.randrange(6)}",
                "tier": tier,
                "pod-template-hash": f"{rnd.getrandbits(40):010x}",
            }
            ports = _ports(tier)
        pod_docs.append(
            {
                "namespace": ns,
                "name": f"pod-{i}",
                "labels": labels,
                "ip": f"10.{64 + i // 65536}.{i // 256 % 256}.{i % 256}",
                "ports": ports,
                "ready": rnd.random() > 0.05,
            }
        )
    pol: list[dict[str, Any]] = []

    def add(ns: str, spec: dict[str, Any]) -> None:
        pol.append({"metadata": {"name": f"p{len(pol)}", "namespace": ns}, "spec": spec})

    for ns in PLATFORM_NS:
        add(
            ns,
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"namespaceSelector": {"matchLabels": {"owner": "operator"}}}]}
                ],
            },
        )
    dns = cluster_dns_egress()
    while len(pol) < policies:
        ns = names[rnd.randrange(len(names))]
        own = ns_labels[ns]["tenant"]
        kind = rnd.randrange(10)
        if kind < 4:  # segregated namespace: own tenant in, own tenant and DNS out
            add(
                ns,
                {
                    "podSelector": {},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        {"from": [{"namespaceSelector": {"matchLabels": {"tenant": own}}}]},
                        {
                            "from": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {
                                            "kubernetes.io/metadata.name": "ingress-nginx"
                                        }
                                    }
                                }
                            ],
                            "ports": [{"port": "http"}],
                        },
                    ],
                    "egress": [
                        {"to": [{"namespaceSelector": {"matchLabels": {"tenant": own}}}]},
                        dns,
                    ],
                },
            )
        elif kind < 6:  # component policy: web -> db on the named port
            add(
                ns,
                {
                    "podSelector": {"matchLabels": {"tier": "db"}},
                    "ingress": [
                        {
                            "from": [
                                {
                                    "podSelector": {
                                        "matchExpressions": [
                                            {
                                                "key": "tier",
                                                "operator": "In",
                                                "values": ["web", "api"],
                                            }
                                        ]
                                    }
                                }
                            ],
                            "ports": [{"port": "pg"}],
                        }
                    ],
                },
            )
        elif kind < 7:  # the demo chart: ingress on http from every namespace, DNS anywhere
            app = f"app{rnd.randrange(6)}"
            add(
                ns,
                {
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}],
                    "egress": [
                        {
                            "ports": [
                                {"port": 53, "protocol": "UDP"},
                                {"port": 53, "protocol": "TCP"},
                            ]
                        }
                    ],
                },
            )
        elif kind < 8:  # a cross-tenant allow
            other = ns_labels[names[rnd.randrange(len(names))]]["tenant"]
            add(
                ns,
                {
                    "podSelector": {"matchLabels": {"tier": "api"}},
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": {"matchLabels": {"tenant": other}},
                                    "podSelector": {"matchLabels": {"tier": "web"}},
                                }
                            ],
                            "ports": [{"port": 9000, "endPort": 9010}],
                        }
                    ],
                },
            )
        elif kind < 9:  # egress to an outside range
            add(
                ns,
                {
                    "podSelector": {
                        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
                    },
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "ipBlock": {
                                        "cidr": "192.168.0.0/16",
                                        "except": ["192.168.1.0/24"],
                                    }
                                }
                            ],
                            "ports": [{"port": 443}],
                        },
                        dns,
                    ],
                },
            )
        else:  # deny all ingress to the message queue but its own app
            app = f"app{rnd.randrange(6)}"
            add(
                ns,
                {
                    "podSelector": {"matchLabels": {"tier": "mq"}},
                    "ingress": [
                        {
                            "from": [
                                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": app}}}
                            ]
                        }
                    ],
                },
            )
    return State(
        namespaces=ns_labels,
        pods=State.from_json({"pods": pod_docs}).pods,
        policies=pol,
        ready={f"{d['namespace']}/{d['name']}" for d in pod_docs if d["ready"]},
        scope="generated",
    ).to_json()


def scale(rounds: int = 3, **size: int) -> dict[str, Any]:
    """Seconds to load the generated state from JSON and compute the whole result, and
    the peak resident memory of the process (the generated document included)."""
    text = json.dumps(generate(**size))
    model = from_doc(TENANTS_DOC, "generated")
    return measure(text, model, rounds)


def measure(text: str, model: TenantModel, rounds: int) -> dict[str, Any]:
    times = []
    out: dict[str, Any] = {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        iso = compute(State.from_json(json.loads(text)), model)
        doc = iso.to_json()
        times.append(time.perf_counter() - t0)
        out = {"inventory": doc["inventory"], "counts": doc["counts"]}
        del iso, doc  # one round's result alive at a time: the peak is one computation's
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inv = out["inventory"]
    return {
        "namespaces": inv["namespaces"],
        "pods": inv["pods"],
        "policies": inv["policies"],
        "classes": inv["classes"],
        "tenants": inv["tenants"],
        "state_mib": round(len(text) / 2**20, 1),
        "rounds": rounds,
        "seconds_median": round(statistics.median(times), 2),
        "seconds_max": round(max(times), 2),
        "peak_rss_mib": round(peak),
        "findings": {k: v for k, v in out["counts"].items() if v},
    }


def in_own_process(rounds: int = 3) -> dict[str, Any]:
    """:func:`scale` in a fresh interpreter, so that its peak memory is its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "npconform.bench.isolation", str(rounds)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"isolation benchmark failed: {proc.stderr.strip()[-500:]}")
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


if __name__ == "__main__":
    print(json.dumps(scale(rounds=int(sys.argv[1]) if len(sys.argv) > 1 else 3)))
