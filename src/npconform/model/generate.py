"""Random, valid NetworkPolicies over a small model of namespaces and pods.

The same generator serves two masters: the hypothesis strategies of
:mod:`npconform.model.strategies`, for property tests of the engine, and
:func:`sample_cases`, a deterministic list of policy sets from ``random.Random(seed)``, so
a run against a real cluster can print its seed and be replayed.

Every generated policy is accepted by :func:`npconform.model.netpol.parse_policy` (which
validates as the API server does) and is made of plain dicts, lists, strings and ints, so it
serializes to YAML (:meth:`GeneratedCase.to_yaml`).

Selectors, names, ports and CIDRs are drawn from a :class:`Vocabulary` built from the model,
with a few deliberate misses (a label value no namespace or pod carries, a port number no
container serves) so that generated rules both match and fail to match.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from npconform.model.netpol import (
    EGRESS,
    INGRESS,
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    ExternalPeer,
    NamespaceModel,
    PodModel,
    dump_policies,
    load_policies,
)

__all__ = [
    "MISSING_VALUE",
    "Chooser",
    "GeneratedCase",
    "RandomChooser",
    "Vocabulary",
    "external_peers",
    "gen_peer",
    "gen_policy",
    "gen_policy_set",
    "gen_port",
    "gen_rule",
    "gen_selector",
    "sample_cases",
    "small_model",
    "vocabulary",
]

T = TypeVar("T")

MISSING_VALUE = "none"
"""A label value no generated namespace or pod carries."""

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


# --------------------------------------------------------------------------- the model


def small_model(
    namespaces: Sequence[str] = ("x", "y", "z"),
    pod_names: Sequence[str] = ("a", "b", "c"),
    ports: Sequence[int] = (80, 81),
    protocols: Sequence[str] = ("TCP", "UDP"),
) -> tuple[list[NamespaceModel], list[PodModel]]:
    """A small world in the style of the upstream netpol e2e, with some label variety.

    Pods are ``<ns>/<name>`` with label ``pod=<name>`` and IP ``10.0.<ns #>.<pod #>``
    (counting from 1);
    the first pod of each namespace has ``app=web``, the second ``app=db``, the others no
    ``app`` label. The first namespace has ``team=red``, the second ``team=blue``, the others
    no team.
    Each pod serves every port/protocol, named ``serve-<port>-<proto>``, except that the
    name ``http`` is 80/TCP on even-indexed pods and 81/TCP on odd ones (so one name
    resolves to different numbers on different pods).
    """
    teams = ("red", "blue")
    apps = ("web", "db")
    ns_models = [
        NamespaceModel(ns, {"team": teams[i]} if i < 2 else {}) for i, ns in enumerate(namespaces)
    ]
    pods = []
    for i, ns in enumerate(namespaces):
        for j, name in enumerate(pod_names):
            labels = {"pod": name}
            if j < 2:
                labels["app"] = apps[j % 2]
            http = ports[j % 2] if len(ports) > 1 else ports[0]
            cports = tuple(
                ContainerPort(
                    port,
                    proto,
                    "http"
                    if (proto == "TCP" and port == http)
                    else f"serve-{port}-{proto.lower()}",
                )
                for port in ports
                for proto in protocols
            )
            pods.append(PodModel(ns, name, labels, f"10.0.{i + 1}.{j + 1}", cports))
    return ns_models, pods


def external_peers() -> list[ExternalPeer]:
    """Two hosts outside the pod network, in one /24."""
    return [ExternalPeer("one", "192.168.200.10"), ExternalPeer("two", "192.168.200.20")]


@dataclass(frozen=True)
class Vocabulary:
    """What generated policies may mention."""

    namespaces: tuple[str, ...]
    namespace_labels: tuple[tuple[str, tuple[str, ...]], ...]
    pod_labels: tuple[tuple[str, tuple[str, ...]], ...]
    port_numbers: tuple[int, ...]
    port_names: tuple[str, ...]
    protocols: tuple[str, ...]
    cidrs: tuple[str, ...]


def _label_pool(label_sets: Iterable[Mapping[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    pool: dict[str, set[str]] = {}
    for labels in label_sets:
        for k, v in labels.items():
            pool.setdefault(k, set()).add(v)
    return tuple((k, (*sorted(vs), MISSING_VALUE)) for k, vs in sorted(pool.items()))


def vocabulary(
    namespaces: Sequence[NamespaceModel],
    pods: Sequence[PodModel],
    external: Sequence[ExternalPeer] = (),
    protocols: Sequence[str] = ("TCP", "UDP"),
) -> Vocabulary:
    ns_names = tuple(dict.fromkeys([n.name for n in namespaces] + [p.namespace for p in pods]))
    ns_labels = _label_pool(
        [n.effective_labels for n in namespaces] + [{NAMESPACE_NAME_LABEL: n} for n in ns_names]
    )
    numbers = sorted({cp.port for p in pods for cp in p.ports} or {80})
    numbers = [*numbers, numbers[-1] + 1] if numbers[-1] < 65535 else numbers
    names = sorted({cp.name for p in pods for cp in p.ports if cp.name})
    cidrs: set[str] = {"0.0.0.0/0"}
    for ip in [p.ip for p in pods if p.ip] + [e.ip for e in external]:
        addr = ipaddress.ip_address(ip)
        host = 32 if addr.version == 4 else 128
        for prefix in (host, host - 8, host - 16):
            cidrs.add(str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False)))
    return Vocabulary(
        namespaces=ns_names,
        namespace_labels=ns_labels,
        pod_labels=_label_pool(p.labels for p in pods),
        port_numbers=tuple(numbers),
        port_names=tuple(names),
        protocols=tuple(protocols),
        cidrs=tuple(sorted(cidrs, key=lambda c: (ipaddress.ip_network(c).prefixlen, c))),
    )


# --------------------------------------------------------------------------- choosers


class Chooser(Protocol):
    """The few random decisions the generator makes; backed by hypothesis or random."""

    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...

    def flip(self) -> bool: ...


class RandomChooser:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def flip(self) -> bool:
        return self.rng.random() < 0.5


def _subset(c: Chooser, options: Sequence[T], lo: int, hi: int) -> list[T]:
    """Up to ``hi`` distinct options (at least ``lo``), in the options' order."""
    n = c.integer(lo, min(hi, len(options)))
    picked: list[T] = []
    remaining = list(options)
    for _ in range(n):
        item = c.choice(remaining)
        remaining.remove(item)
        picked.append(item)
    return [o for o in options if o in picked]


# --------------------------------------------------------------------------- generators


def gen_selector(c: Chooser, pool: Sequence[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    """A label selector over ``pool`` (key -> values); often empty (selects all)."""
    if not pool or c.integer(0, 2) == 0:
        return {}
    sel: dict[str, Any] = {}
    keys = [k for k, _ in pool]
    values = dict(pool)
    match_labels = {k: c.choice(values[k]) for k in _subset(c, keys, 0, 2)}
    exprs = []
    for _ in range(c.integer(0 if match_labels else 1, 2)):
        key = c.choice(keys)
        op = c.choice(OPERATORS)
        expr: dict[str, Any] = {"key": key, "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = _subset(c, values[key], 1, 2)
        exprs.append(expr)
    if match_labels:
        sel["matchLabels"] = match_labels
    if exprs:
        sel["matchExpressions"] = exprs
    return sel


def gen_peer(c: Chooser, v: Vocabulary) -> dict[str, Any]:
    kinds = ["pod", "namespace", "both"] + (["ip"] if v.cidrs else [])
    kind = c.choice(kinds)
    if kind == "ip":
        cidr = c.choice(v.cidrs)
        net = ipaddress.ip_network(cidr)
        inside = [
            e
            for e in v.cidrs
            if (n := ipaddress.ip_network(e)).version == net.version
            and n.subnet_of(net)  # type: ignore[arg-type]
            and n.prefixlen > net.prefixlen
        ]
        block: dict[str, Any] = {"cidr": cidr}
        excepts = _subset(c, inside, 0, 2) if inside else []
        if excepts:
            block["except"] = excepts
        return {"ipBlock": block}
    peer: dict[str, Any] = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = gen_selector(c, v.pod_labels)
    if kind in ("namespace", "both"):
        peer["namespaceSelector"] = gen_selector(c, v.namespace_labels)
    return peer


def gen_port(c: Chooser, v: Vocabulary) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    shape = c.choice(
        ("number", "name", "range", "protocol-only")
        if v.port_names
        else ("number", "range", "protocol-only")
    )
    if c.flip():
        entry["protocol"] = c.choice(v.protocols)
    if shape == "number":
        entry["port"] = c.choice(v.port_numbers)
    elif shape == "name":
        entry["port"] = c.choice(v.port_names)
    elif shape == "range":
        lo = c.choice(v.port_numbers)
        entry["port"] = lo
        entry["endPort"] = c.choice([p for p in v.port_numbers if p >= lo])
    return entry


def gen_rule(c: Chooser, v: Vocabulary, direction: str) -> dict[str, Any]:
    key = "from" if direction == INGRESS else "to"
    rule: dict[str, Any] = {}
    peers = c.choice(("absent", "empty", "some"))
    if peers == "empty":
        rule[key] = []
    elif peers == "some":
        rule[key] = [gen_peer(c, v) for _ in range(c.integer(1, 2))]
    ports = c.choice(("absent", "empty", "some"))
    if ports == "empty":
        rule["ports"] = []
    elif ports == "some":
        rule["ports"] = [gen_port(c, v) for _ in range(c.integer(1, 2))]
    return rule


def gen_policy(
    c: Chooser, v: Vocabulary, name: str, namespace: str | None = None
) -> dict[str, Any]:
    ns = namespace if namespace is not None else c.choice(v.namespaces)
    spec: dict[str, Any] = {"podSelector": gen_selector(c, v.pod_labels)}
    types = c.choice(("absent", "Ingress", "Egress", "both"))
    if types != "absent":
        spec["policyTypes"] = [INGRESS, EGRESS] if types == "both" else [types]
    for direction, key in ((INGRESS, "ingress"), (EGRESS, "egress")):
        shape = c.choice(("absent", "empty", "some"))
        if shape == "empty":
            spec[key] = []
        elif shape == "some":
            spec[key] = [gen_rule(c, v, direction) for _ in range(c.integer(1, 2))]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def gen_policy_set(
    c: Chooser, v: Vocabulary, max_policies: int = 4, prefix: str = "p"
) -> list[dict[str, Any]]:
    return [gen_policy(c, v, f"{prefix}{i}") for i in range(c.integer(0, max_policies))]


# --------------------------------------------------------------------------- seeded cases


@dataclass(frozen=True)
class GeneratedCase:
    """One generated policy set: replay it with the same seed and index."""

    name: str
    seed: int
    index: int
    policies: list[dict[str, Any]] = field(default_factory=list, hash=False)

    def to_yaml(self) -> str:
        """Multi-document YAML of the policies (an empty string for an empty set)."""
        return dump_policies(self.policies) if self.policies else ""

    @classmethod
    def from_yaml(cls, name: str, seed: int, index: int, text: str) -> GeneratedCase:
        return cls(name, seed, index, load_policies(text))


def sample_cases(
    seed: int,
    count: int,
    namespaces: Sequence[NamespaceModel] | None = None,
    pods: Sequence[PodModel] | None = None,
    external: Sequence[ExternalPeer] = (),
    *,
    max_policies: int = 4,
    min_policies: int = 1,
) -> list[GeneratedCase]:
    """``count`` policy sets drawn from ``random.Random(seed)``; deterministic.

    Without a model, :func:`small_model` is used. Case ``i`` does not depend on ``count``
    (``sample_cases(s, 5)[:3] == sample_cases(s, 3)``). Policy names are
    ``gen<i>-p<j>``, valid DNS labels.
    """
    if namespaces is None or pods is None:
        default_ns, default_pods = small_model()
        namespaces = default_ns if namespaces is None else namespaces
        pods = default_pods if pods is None else pods
    if not 0 <= min_policies <= max_policies:
        raise ValueError("need 0 <= min_policies <= max_policies")
    v = vocabulary(namespaces, pods, external)
    c = RandomChooser(random.Random(seed))
    cases = []
    for i in range(count):
        n = c.integer(min_policies, max_policies)
        pols = [gen_policy(c, v, f"gen{i}-p{j}") for j in range(n)]
        cases.append(GeneratedCase(f"seed{seed}-case{i}", seed, i, pols))
    return cases
