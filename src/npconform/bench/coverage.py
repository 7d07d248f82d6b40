"""The coverage computation at scale, with no cluster: a generated cluster state (Welkin-
like: a warn constraint excluding ``owner=operator`` namespaces, a webhook exempting
kube-system & co., per-tenant policies with every selector operator) written to JSON,
loaded back and computed, timed."""

from __future__ import annotations

import json
import random
import statistics
import time
from typing import Any

from npconform.model.coverage import Snapshot, compute

SYSTEM = ["kube-system", "kube-public", "kube-node-lease", "calico-system"]


def _selector(rnd: random.Random, app: str) -> dict[str, Any]:
    kind = rnd.randrange(6)
    if kind == 0:
        return {}
    if kind == 1:
        return {"matchLabels": {"app": app}}
    ops = [
        {"key": "app", "operator": "In", "values": [app, f"{app}-canary"]},
        {"key": "tier", "operator": "NotIn", "values": ["batch"]},
        {"key": "app", "operator": "Exists"},
        {"key": "legacy", "operator": "DoesNotExist"},
    ]
    return {"matchExpressions": rnd.sample(ops, rnd.randint(1, 3))}


def generate(
    namespaces: int = 2000, pods: int = 20000, policies: int = 5000, seed: int = 1
) -> dict[str, Any]:
    """A snapshot document of that size; one namespace in 20 is a platform one."""
    rnd = random.Random(seed)
    names = [f"tenant-{i:04d}" for i in range(namespaces - len(SYSTEM))]
    ns_docs = [{"name": n, "labels": {}} for n in SYSTEM]
    for i, n in enumerate(names):
        ns_docs.append({"name": n, "labels": {"owner": "operator"} if i % 20 == 0 else {}})
    pol: dict[str, list[dict[str, Any]]] = {}
    for i in range(policies):
        ns = names[i % len(names)]
        app = f"app{rnd.randrange(8)}"
        pol.setdefault(ns, []).append({"name": f"p{i}", "podSelector": _selector(rnd, app)})
    pod_docs: dict[str, list[dict[str, Any]]] = {}
    for i in range(pods):
        ns = names[rnd.randrange(len(names))]
        labels = {"app": f"app{rnd.randrange(10)}"}
        if rnd.random() < 0.2:
            labels["tier"] = rnd.choice(["batch", "web"])
        pod_docs.setdefault(ns, []).append({"name": f"pod-{i}", "labels": labels})
    excluded = {"key": "owner", "operator": "NotIn", "values": ["operator"]}
    return Snapshot(
        namespaces=ns_docs,
        policies=pol,
        pods=pod_docs,
        constraints=[
            {
                "metadata": {"name": "elastisys-require-networkpolicy"},
                "spec": {
                    "enforcementAction": "warn",
                    "match": {
                        "excludedNamespaces": SYSTEM,
                        "namespaceSelector": {"matchExpressions": [excluded]},
                    },
                },
            }
        ],
        config={"metadata": {"name": "config"}, "spec": {}},
        webhook={
            "name": "validation.gatekeeper.sh",
            "failurePolicy": "Fail",
            "rules": [{"apiGroups": ["*"], "operations": ["CREATE"], "resources": ["*"]}],
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "admission.gatekeeper.sh/ignore", "operator": "DoesNotExist"},
                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": SYSTEM},
                ]
            },
        },
        exempt_flags={"namespace": ["gatekeeper-system"], "prefix": [], "suffix": []},
    ).to_json()


def scale(rounds: int = 3, **size: int) -> dict[str, Any]:
    """Seconds to load the generated snapshot from JSON and compute every row."""
    text = json.dumps(generate(**size))
    times = []
    counts: dict[str, int] = {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        cov = compute(Snapshot.from_json(json.loads(text)))
        times.append(time.perf_counter() - t0)
        counts = cov.to_json()["counts"]
    doc = json.loads(text)
    return {
        "namespaces": len(doc["namespaces"]),
        "pods": sum(len(v) for v in doc["pods"].values()),
        "policies": sum(len(v) for v in doc["policies"].values()),
        "snapshot_mib": round(len(text) / 2**20, 1),
        "rounds": rounds,
        "seconds_median": round(statistics.median(times), 2),
        "seconds_max": round(max(times), 2),
        "rows": {k: v for k, v in counts.items() if v},
    }
