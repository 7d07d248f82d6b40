"""Small builders for the NetworkPolicies admission tests use."""

from __future__ import annotations

from typing import Any


def policy(
    namespace: str, name: str, selector: dict[str, Any] | None = None, deny_all: bool = False
) -> dict[str, Any]:
    """A NetworkPolicy selecting ``selector`` (``{}``: every pod). Its rules do not matter
    to admission; ``deny_all`` makes it a default deny."""
    spec: dict[str, Any] = {"podSelector": selector if selector is not None else {}}
    if deny_all:
        spec["policyTypes"] = ["Ingress", "Egress"]
    else:
        spec["policyTypes"] = ["Ingress"]
        spec["ingress"] = [{"from": [{"podSelector": {}}]}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def match_labels(**labels: str) -> dict[str, Any]:
    return {"matchLabels": labels}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        e["values"] = list(values)
    return e
