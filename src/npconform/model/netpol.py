"""A pure-Python NetworkPolicy (networking.k8s.io/v1) semantics engine: the oracle.

Given namespaces, pods and NetworkPolicies, :class:`PolicyEngine` answers whether a source
reaches a destination on a port/protocol, why, and the whole reachability
:class:`~npconform.model.matrix.Matrix` for a set of peers. It knows nothing of clusters.

Policies are plain mappings as read from YAML manifests (:func:`load_policies`) or from the
API (kubernetes client objects converted with ``ApiClient().sanitize_for_serialization``,
i.e. camelCase keys). They are validated roughly as the API server validates them, and a
malformed policy raises :class:`NetworkPolicyError` (a ``ValueError``) naming the policy and
the offending field.

Semantics, as Kubernetes defines them:

* A pod is isolated for ingress (egress) when a policy of its own namespace selects it and
  the policy's types include ``Ingress`` (``Egress``). Without ``policyTypes`` (or with an
  empty list) the API server defaults them to ``Ingress``, plus ``Egress`` when the policy
  has at least one egress rule.
* Traffic is allowed iff egress is allowed at the source (not isolated, or admitted by a rule
  of a policy selecting it) and ingress is allowed at the destination. Policies are a union:
  any admitting rule admits. External peers are never isolated.
* An empty or absent ``from``/``to`` matches every peer; empty or absent ``ports`` every
  port. Named ports resolve against the destination pod's container ports (name and
  protocol). ``ipBlock`` matches by IP, pods included when their IP is known.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeAlias

import yaml

from npconform.model.matrix import Cell, Matrix

__all__ = [
    "API_VERSION",
    "EGRESS",
    "INGRESS",
    "KIND",
    "NAMESPACE_NAME_LABEL",
    "OPERATORS",
    "PROTOCOLS",
    "SELF_TRAFFIC_MODES",
    "ContainerPort",
    "ExternalPeer",
    "IPBlock",
    "LabelSelector",
    "NamespaceModel",
    "NetworkPolicyError",
    "ParsedPolicy",
    "Peer",
    "PeerSpec",
    "PodModel",
    "PolicyEngine",
    "PortSpec",
    "Requirement",
    "Rule",
    "Verdict",
    "dump_policies",
    "effective_policy_types",
    "load_policies",
    "network_policy",
    "parse_policy",
    "parse_selector",
    "port_matches",
    "rule_admits_port",
]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
API_VERSION = "networking.k8s.io/v1"
KIND = "NetworkPolicy"
PROTOCOLS = ("TCP", "UDP", "SCTP")
INGRESS = "Ingress"
EGRESS = "Egress"
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
SELF_TRAFFIC_MODES = ("allow", "evaluate")

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA service name, as Kubernetes validates named ports (validation.IsValidPortName).
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


# --------------------------------------------------------------------------- the world


def _check_protocol(protocol: object, what: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"{what}: unsupported protocol {protocol!r} (expected one of TCP, UDP, SCTP)"
        )
    assert isinstance(protocol, str)
    return protocol


def _check_port_number(port: object, what: str) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{what}: port must be an integer in 1..65535, got {port!r}")
    return port


def _parse_ip(ip: str, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"{what}: invalid IP address {ip!r}") from None


@dataclass(frozen=True)
class ContainerPort:
    """A port a pod's container serves. ``name`` is what a named port in a policy resolves."""

    port: int
    protocol: str = "TCP"
    name: str | None = None

    def __post_init__(self) -> None:
        _check_port_number(self.port, "container port")
        _check_protocol(self.protocol, f"container port {self.port}")


@dataclass(frozen=True)
class NamespaceModel:
    """A namespace and its labels.

    ``kubernetes.io/metadata.name=<name>`` is always present in :attr:`effective_labels`,
    as the API server adds (and overwrites) it.
    """

    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"namespace name must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "labels", dict(self.labels))

    @property
    def effective_labels(self) -> dict[str, str]:
        return {**self.labels, NAMESPACE_NAME_LABEL: self.name}


@dataclass(frozen=True)
class PodModel:
    """A pod: where it lives, its labels, its IP (if known) and the ports it serves."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ip: str | None = None
    ports: tuple[ContainerPort, ...] = ()

    def __post_init__(self) -> None:
        if not self.namespace or not self.name:
            raise ValueError(
                f"pod needs a namespace and a name, got {self.namespace!r}/{self.name!r}"
            )
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "ports", tuple(self.ports))
        if self.ip is not None:
            _parse_ip(self.ip, f"pod {self.id}")

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def address(self) -> IPAddress | None:
        return None if self.ip is None else ipaddress.ip_address(self.ip)

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class ExternalPeer:
    """A host outside the cluster, reached or reaching by IP only. Never isolated."""

    name: str
    ip: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("external peer needs a name")
        _parse_ip(self.ip, f"external peer {self.name}")

    @property
    def id(self) -> str:
        return f"ext/{self.name}"

    @property
    def address(self) -> IPAddress:
        return ipaddress.ip_address(self.ip)

    def __str__(self) -> str:
        return self.id


Peer: TypeAlias = PodModel | ExternalPeer


# --------------------------------------------------------------------------- parsed policies


class NetworkPolicyError(ValueError):
    """A malformed NetworkPolicy: names the policy and the field path."""

    def __init__(self, policy: str, path: str, message: str) -> None:
        self.policy = policy
        self.path = path
        self.message = message
        where = f"{path}: " if path else ""
        super().__init__(f"NetworkPolicy {policy}: {where}{message}")


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` term."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        raise ValueError(f"unknown label selector operator {self.operator!r}")

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        op = "in" if self.operator == "In" else "notin"
        return f"{self.key} {op} ({','.join(self.values)})"


@dataclass(frozen=True)
class LabelSelector:
    """matchLabels AND every matchExpressions term. Empty selects everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def __str__(self) -> str:
        terms = [f"{k}={v}" for k, v in self.match_labels] + [
            str(r) for r in self.match_expressions
        ]
        return "{" + ",".join(terms) + "}"


@dataclass(frozen=True)
class IPBlock:
    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, address: IPAddress | None) -> bool:
        if address is None or address.version != self.cidr.version:
            return False
        return address in self.cidr and not any(address in e for e in self.excepts)

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {','.join(str(e) for e in self.excepts)}"


@dataclass(frozen=True)
class PeerSpec:
    """One ``from``/``to`` entry: selectors (None = absent) or an ipBlock."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True)
class PortSpec:
    """One ``ports`` entry. ``port`` None = every port of ``protocol``; str = named port."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None

    def __str__(self) -> str:
        if self.port is None:
            return f"*/{self.protocol}"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Rule:
    """An ingress or egress rule. Empty ``peers``/``ports`` match everything."""

    peers: tuple[PeerSpec, ...] = ()
    ports: tuple[PortSpec, ...] = ()


@dataclass(frozen=True)
class ParsedPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset[str]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def affects(self, direction: str) -> bool:
        return direction in self.policy_types

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == INGRESS else self.egress


class _Parser:
    """Validates one policy mapping; every error names the policy and the field path."""

    def __init__(self, policy_id: str) -> None:
        self.policy_id = policy_id

    def fail(self, path: str, message: str) -> NoReturn:
        raise NetworkPolicyError(self.policy_id, path, message)

    def mapping(
        self, value: object, path: str, allowed: Iterable[str] | None = None
    ) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {type(value).__name__}")
        if allowed is not None:
            known = set(allowed)
            for key in value:
                if key not in known:
                    hint = ""
                    if isinstance(key, str) and "_" in key:
                        hint = (
                            " (snake_case keys come from to_dict(); use "
                            "ApiClient().sanitize_for_serialization for camelCase)"
                        )
                    self.fail(
                        path,
                        f"unknown field {key!r}, expected one of {', '.join(sorted(known))}{hint}",
                    )
        return value

    def sequence(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            self.fail(path, f"expected a list, got {type(value).__name__}")
        return list(value)

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {value!r}")
        return value

    def selector(self, value: object, path: str) -> LabelSelector:
        m = self.mapping(value, path, ("matchLabels", "matchExpressions"))
        labels = self.mapping(m.get("matchLabels"), f"{path}.matchLabels")
        match_labels = tuple(
            sorted(
                (self.string(k, f"{path}.matchLabels"), self.string(v, f"{path}.matchLabels.{k}"))
                for k, v in labels.items()
            )
        )
        exprs = []
        for i, e in enumerate(self.sequence(m.get("matchExpressions"), f"{path}.matchExpressions")):
            epath = f"{path}.matchExpressions[{i}]"
            em = self.mapping(e, epath, ("key", "operator", "values"))
            key = self.string(em.get("key"), f"{epath}.key")
            op = em.get("operator")
            if op not in OPERATORS:
                self.fail(
                    f"{epath}.operator",
                    f"unknown operator {op!r} (expected one of {', '.join(OPERATORS)})",
                )
            values = tuple(
                self.string(v, f"{epath}.values[{j}]")
                for j, v in enumerate(self.sequence(em.get("values"), f"{epath}.values"))
            )
            if op in ("In", "NotIn") and not values:
                self.fail(f"{epath}.values", f"must be non-empty when operator is {op}")
            if op in ("Exists", "DoesNotExist") and values:
                self.fail(f"{epath}.values", f"must be empty when operator is {op}")
            exprs.append(Requirement(key, str(op), values))
        return LabelSelector(match_labels, tuple(exprs))

    def network(self, value: object, path: str) -> IPNetwork:
        text = self.string(value, path)
        if "/" not in text:
            self.fail(path, f"{text!r} is not a CIDR (address/prefix)")
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.fail(path, f"invalid CIDR {text!r}")

    def ip_block(self, value: object, path: str) -> IPBlock:
        m = self.mapping(value, path, ("cidr", "except"))
        if m.get("cidr") is None:
            self.fail(f"{path}.cidr", "is required")
        cidr = self.network(m["cidr"], f"{path}.cidr")
        excepts = []
        for i, e in enumerate(self.sequence(m.get("except"), f"{path}.except")):
            net = self.network(e, f"{path}.except[{i}]")
            if (
                net.version != cidr.version
                or not net.subnet_of(cidr)  # type: ignore[arg-type]
                or net.prefixlen <= cidr.prefixlen
            ):
                self.fail(f"{path}.except[{i}]", f"{e!r} must be a strict subset of cidr {cidr}")
            excepts.append(net)
        return IPBlock(cidr, tuple(excepts))

    def peer(self, value: object, path: str) -> PeerSpec:
        m = self.mapping(value, path, ("podSelector", "namespaceSelector", "ipBlock"))
        present = {
            k for k in ("podSelector", "namespaceSelector", "ipBlock") if m.get(k) is not None
        }
        if not present:
            self.fail(path, "must specify podSelector, namespaceSelector or ipBlock")
        if "ipBlock" in present and len(present) > 1:
            self.fail(path, "ipBlock cannot be combined with podSelector or namespaceSelector")
        if "ipBlock" in present:
            return PeerSpec(ip_block=self.ip_block(m["ipBlock"], f"{path}.ipBlock"))
        pod = m.get("podSelector")
        ns = m.get("namespaceSelector")
        return PeerSpec(
            pod_selector=None if pod is None else self.selector(pod, f"{path}.podSelector"),
            namespace_selector=None
            if ns is None
            else self.selector(ns, f"{path}.namespaceSelector"),
        )

    def port(self, value: object, path: str) -> PortSpec:
        m = self.mapping(value, path, ("protocol", "port", "endPort"))
        protocol = m.get("protocol")
        if protocol is None:
            protocol = "TCP"
        if protocol not in PROTOCOLS:
            self.fail(
                f"{path}.protocol", f"unsupported protocol {protocol!r} (expected TCP, UDP or SCTP)"
            )
        port = m.get("port")
        end = m.get("endPort")
        if port is None:
            if end is not None:
                self.fail(f"{path}.endPort", "endPort requires a numeric port")
            return PortSpec(str(protocol))
        if isinstance(port, str):
            if end is not None:
                self.fail(f"{path}.endPort", f"endPort cannot be used with the named port {port!r}")
            if (
                len(port) > 15
                or not _PORT_NAME.match(port)
                or "--" in port
                or not any(c.isalpha() for c in port)
            ):
                self.fail(f"{path}.port", f"{port!r} is not a valid port number or port name")
            return PortSpec(str(protocol), port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            self.fail(f"{path}.port", f"must be 1..65535 or a port name, got {port!r}")
        if end is None:
            return PortSpec(str(protocol), port)
        if isinstance(end, bool) or not isinstance(end, int) or not port <= end <= 65535:
            self.fail(f"{path}.endPort", f"must be an integer in {port}..65535, got {end!r}")
        return PortSpec(str(protocol), port, end)

    def rule(self, value: object, path: str, peers_key: str) -> Rule:
        m = self.mapping(value, path, (peers_key, "ports"))
        peers = tuple(
            self.peer(p, f"{path}.{peers_key}[{i}]")
            for i, p in enumerate(self.sequence(m.get(peers_key), f"{path}.{peers_key}"))
        )
        ports = tuple(
            self.port(p, f"{path}.ports[{i}]")
            for i, p in enumerate(self.sequence(m.get("ports"), f"{path}.ports"))
        )
        return Rule(peers, ports)


def network_policy(namespace: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """A ``networking.k8s.io/v1`` NetworkPolicy object."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(spec),
    }


def _policy_id(obj: object, index: int | None = None) -> str:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else None
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    if isinstance(name, str) and name:
        return f"{ns}/{name}" if isinstance(ns, str) and ns else f"<no namespace>/{name}"
    return f"#{index} <unnamed>" if index is not None else "<unnamed>"


def effective_policy_types(policy: Mapping[str, Any]) -> list[str]:
    """``spec.policyTypes`` after API server defaulting.

    Explicit, non-empty policyTypes are used as given. Otherwise: ``Ingress``, plus
    ``Egress`` when ``spec.egress`` holds at least one rule (``egress: []`` adds nothing,
    as in ``SetDefaults_NetworkPolicy``: ``len(spec.Egress) != 0``).
    """
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes") or []
    if types:
        return [t for t in (INGRESS, EGRESS) if t in types]
    return [INGRESS, EGRESS] if spec.get("egress") else [INGRESS]


def parse_policy(policy: Mapping[str, Any], *, index: int | None = None) -> ParsedPolicy:
    """Validate a NetworkPolicy mapping (camelCase keys) and compile it.

    Raises :class:`NetworkPolicyError` (a ``ValueError``) naming the policy and field.
    ``index`` only serves to name an unnamed policy in the error.
    """
    pid = _policy_id(policy, index)
    p = _Parser(pid)
    if not isinstance(policy, Mapping):
        p.fail("", f"expected a mapping, got {type(policy).__name__}")
    kind = policy.get("kind")
    if kind is not None and kind != KIND:
        p.fail("kind", f"expected {KIND}, got {kind!r}")
    api = policy.get("apiVersion")
    if api is not None and api != API_VERSION:
        p.fail("apiVersion", f"expected {API_VERSION}, got {api!r}")
    meta = p.mapping(policy.get("metadata"), "metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        p.fail("metadata.name", "is required")
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        p.fail("metadata.namespace", "is required (the engine does not guess a namespace)")
    spec = p.mapping(
        policy.get("spec"), "spec", ("podSelector", "policyTypes", "ingress", "egress")
    )
    # spec.podSelector is not a pointer in the Go type: absent or null means {} (all pods).
    pod_selector = p.selector(spec.get("podSelector"), "spec.podSelector")
    types = p.sequence(spec.get("policyTypes"), "spec.policyTypes")
    for i, t in enumerate(types):
        if t not in (INGRESS, EGRESS):
            p.fail(f"spec.policyTypes[{i}]", f"expected Ingress or Egress, got {t!r}")
    ingress = tuple(
        p.rule(r, f"spec.ingress[{i}]", "from")
        for i, r in enumerate(p.sequence(spec.get("ingress"), "spec.ingress"))
    )
    egress = tuple(
        p.rule(r, f"spec.egress[{i}]", "to")
        for i, r in enumerate(p.sequence(spec.get("egress"), "spec.egress"))
    )
    return ParsedPolicy(
        namespace=namespace,
        name=name,
        pod_selector=pod_selector,
        policy_types=frozenset(effective_policy_types({"spec": spec})),
        ingress=ingress,
        egress=egress,
    )


def parse_selector(value: Mapping[str, Any]) -> LabelSelector:
    """Validate one label selector mapping (``matchLabels``/``matchExpressions``, camelCase
    keys) and compile it, as :func:`parse_policy` compiles a policy's selectors.

    Raises :class:`NetworkPolicyError` (a ``ValueError``) naming the offending field.
    """
    return _Parser("<selector>").selector(value, "selector")


# --------------------------------------------------------------------------- YAML


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def load_policies(text: str) -> list[dict[str, Any]]:
    """Multi-document YAML -> NetworkPolicy dicts, validated.

    Empty documents are skipped. ``List``/``NetworkPolicyList`` documents (``kubectl get -o
    yaml``) are flattened. Any other kind raises ``ValueError``.
    """
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise ValueError(f"invalid YAML: {e}") from None
    out: list[dict[str, Any]] = []

    def take(doc: object, where: str) -> None:
        if not isinstance(doc, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(doc).__name__}")
        kind = doc.get("kind")
        if kind in ("List", "NetworkPolicyList"):
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise ValueError(f"{where}: items must be a list")
            for j, item in enumerate(items):
                if isinstance(item, Mapping) and item.get("kind") is None and kind != "List":
                    item = {"kind": KIND, **item}
                take(item, f"{where} item {j}")
            return
        if kind != KIND:
            raise ValueError(f"{where} ({_policy_id(doc)}): expected kind {KIND}, got {kind!r}")
        parse_policy(doc, index=len(out))
        out.append(_plain(doc))

    for i, doc in enumerate(docs):
        if doc is None:
            continue
        take(doc, f"document {i}")
    return out


def dump_policies(policies: Iterable[Mapping[str, Any]]) -> str:
    """NetworkPolicy mappings -> multi-document YAML that :func:`load_policies` reads back."""
    return yaml.safe_dump_all(
        [_plain(p) for p in policies], sort_keys=False, default_flow_style=False
    )


# --------------------------------------------------------------------------- the engine


def port_matches(
    spec: PortSpec, dst_ports: Sequence[ContainerPort] | None, port: int, protocol: str
) -> bool:
    """Whether a rule's ``ports`` entry admits ``port``/``protocol`` on a destination that
    declares ``dst_ports`` (None: a destination outside the cluster, which has no names).
    A named port resolves against the destination's container ports, for ingress and
    egress rules alike."""
    if spec.protocol != protocol:
        return False
    if spec.port is None:
        return True
    if isinstance(spec.port, str):
        if dst_ports is None:
            return False
        return any(
            cp.name == spec.port and cp.protocol == protocol and cp.port == port for cp in dst_ports
        )
    if spec.end_port is None:
        return port == spec.port
    return spec.port <= port <= spec.end_port


def rule_admits_port(
    rule: Rule, dst_ports: Sequence[ContainerPort] | None, port: int, protocol: str
) -> bool:
    """A rule's ports admit the port: it lists none (every port) or one entry matches."""
    return not rule.ports or any(port_matches(s, dst_ports, port, protocol) for s in rule.ports)


@dataclass
class Verdict:
    """Why ``src`` does or does not reach ``dst`` on ``port``/``protocol``."""

    allowed: bool
    egress_isolated: bool
    ingress_isolated: bool
    egress_allowed_by: list[str]
    ingress_allowed_by: list[str]
    reason: str
    egress_isolated_by: list[str] = field(default_factory=list)
    ingress_isolated_by: list[str] = field(default_factory=list)
    self_traffic: bool = False

    @property
    def egress_ok(self) -> bool:
        """The source side lets the traffic out."""
        return not self.egress_isolated or bool(self.egress_allowed_by)

    @property
    def ingress_ok(self) -> bool:
        """The destination side lets the traffic in."""
        return not self.ingress_isolated or bool(self.ingress_allowed_by)


class PolicyEngine:
    """Evaluates NetworkPolicies over a fixed set of namespaces (labels) and pods.

    ``self_traffic``: ``"allow"`` (a peer always reaches itself, the usual CNI behaviour and
    what the upstream e2e assumes by ignoring loopback) or ``"evaluate"`` (apply policies to
    self traffic like to any other pair).

    Pods whose namespace is not among ``namespaces`` get a namespace with only the
    ``kubernetes.io/metadata.name`` label. Queries use the labels, IP and ports of the peer
    objects passed in, so a pod need not be registered to be evaluated.
    """

    def __init__(
        self,
        namespaces: Iterable[NamespaceModel],
        pods: Iterable[PodModel],
        policies: Iterable[Mapping[str, Any]],
        *,
        self_traffic: str = "allow",
    ) -> None:
        if self_traffic not in SELF_TRAFFIC_MODES:
            raise ValueError(
                f"self_traffic must be one of {SELF_TRAFFIC_MODES}, got {self_traffic!r}"
            )
        self.self_traffic = self_traffic
        self._namespaces: dict[str, NamespaceModel] = {}
        for ns in namespaces:
            if ns.name in self._namespaces:
                raise ValueError(f"namespace {ns.name} given twice")
            self._namespaces[ns.name] = ns
        self._pods: dict[str, PodModel] = {}
        for pod in pods:
            if pod.id in self._pods:
                raise ValueError(f"pod {pod.id} given twice")
            self._pods[pod.id] = pod
            self._namespaces.setdefault(pod.namespace, NamespaceModel(pod.namespace))
        self._policies: list[ParsedPolicy] = []
        self._by_namespace: dict[str, list[ParsedPolicy]] = {}
        seen: set[str] = set()
        for i, raw in enumerate(policies):
            parsed = parse_policy(raw, index=i)
            if parsed.id in seen:
                raise NetworkPolicyError(parsed.id, "metadata.name", "given twice")
            seen.add(parsed.id)
            self._policies.append(parsed)
            self._by_namespace.setdefault(parsed.namespace, []).append(parsed)
        self._ns_labels = {n: ns.effective_labels for n, ns in self._namespaces.items()}

    # -- inventory

    @property
    def namespaces(self) -> list[NamespaceModel]:
        return list(self._namespaces.values())

    @property
    def pods(self) -> list[PodModel]:
        return list(self._pods.values())

    @property
    def policies(self) -> list[ParsedPolicy]:
        return list(self._policies)

    def pod(self, pod_id: str) -> PodModel:
        """A registered pod by ``"<namespace>/<name>"``."""
        try:
            return self._pods[pod_id]
        except KeyError:
            raise KeyError(f"no pod {pod_id!r}") from None

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return self._ns_labels.get(namespace, {NAMESPACE_NAME_LABEL: namespace})

    # -- selection

    def selecting(self, pod: Peer, direction: str) -> list[ParsedPolicy]:
        """Policies that isolate ``pod`` for ``direction`` (``"Ingress"`` or ``"Egress"``)."""
        if direction not in (INGRESS, EGRESS):
            raise ValueError(f"direction must be Ingress or Egress, got {direction!r}")
        if not isinstance(pod, PodModel):
            return []
        return [
            p
            for p in self._by_namespace.get(pod.namespace, ())
            if p.affects(direction) and p.pod_selector.matches(pod.labels)
        ]

    def isolated(self, pod: Peer, direction: str) -> bool:
        return bool(self.selecting(pod, direction))

    def _peer_matches(self, policy_ns: str, spec: PeerSpec, remote: Peer) -> bool:
        if spec.ip_block is not None:
            return spec.ip_block.contains(remote.address)
        if not isinstance(remote, PodModel):
            return False
        if spec.namespace_selector is None:
            if remote.namespace != policy_ns:
                return False
        elif not spec.namespace_selector.matches(self.namespace_labels(remote.namespace)):
            return False
        return spec.pod_selector is None or spec.pod_selector.matches(remote.labels)

    @staticmethod
    def _port_matches(spec: PortSpec, dst: Peer, port: int, protocol: str) -> bool:
        return port_matches(spec, dst.ports if isinstance(dst, PodModel) else None, port, protocol)

    def _rule_admits(
        self, policy: ParsedPolicy, rule: Rule, remote: Peer, dst: Peer, port: int, protocol: str
    ) -> bool:
        if rule.ports and not any(self._port_matches(s, dst, port, protocol) for s in rule.ports):
            return False
        return not rule.peers or any(
            self._peer_matches(policy.namespace, s, remote) for s in rule.peers
        )

    def _admitting(
        self,
        policies: Sequence[ParsedPolicy],
        direction: str,
        remote: Peer,
        dst: Peer,
        port: int,
        protocol: str,
    ) -> list[str]:
        return [
            p.id
            for p in policies
            if any(self._rule_admits(p, r, remote, dst, port, protocol) for r in p.rules(direction))
        ]

    # -- verdicts

    def explain(self, src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> Verdict:
        _check_port_number(port, "query")
        _check_protocol(protocol, "query")
        where = f"{port}/{protocol}"
        eg_pols = self.selecting(src, EGRESS)
        in_pols = self.selecting(dst, INGRESS)
        eg_by = self._admitting(eg_pols, EGRESS, dst, dst, port, protocol)
        in_by = self._admitting(in_pols, INGRESS, src, dst, port, protocol)
        verdict = Verdict(
            allowed=False,
            egress_isolated=bool(eg_pols),
            ingress_isolated=bool(in_pols),
            egress_allowed_by=eg_by,
            ingress_allowed_by=in_by,
            reason="",
            egress_isolated_by=[p.id for p in eg_pols],
            ingress_isolated_by=[p.id for p in in_pols],
        )
        if self.self_traffic == "allow" and type(src) is type(dst) and src.id == dst.id:
            verdict.allowed = True
            verdict.self_traffic = True
            verdict.reason = f"allowed: {src.id} always reaches itself (self_traffic='allow')"
            return verdict

        def side(peer: Peer, direction: str, isolating: list[str], admitting: list[str]) -> str:
            word = direction.lower()
            if isinstance(peer, ExternalPeer):
                return f"{peer.id} is external and never isolated"
            if not isolating:
                return f"{peer.id} is not isolated for {word}"
            prep = "from" if direction == EGRESS else "to"
            return f"{word} {prep} {peer.id} is admitted by {', '.join(admitting)}"

        blocked = []
        if not verdict.egress_ok:
            blocked.append(
                f"{src.id} is isolated for egress by {', '.join(verdict.egress_isolated_by)} "
                f"and no egress rule admits {dst.id} on {where}"
            )
        if not verdict.ingress_ok:
            blocked.append(
                f"{dst.id} is isolated for ingress by {', '.join(verdict.ingress_isolated_by)} "
                f"and no ingress rule admits {src.id} on {where}"
            )
        if blocked:
            verdict.reason = "blocked: " + "; and ".join(blocked)
        else:
            verdict.allowed = True
            verdict.reason = (
                f"allowed on {where}: {side(src, EGRESS, verdict.egress_isolated_by, eg_by)} "
                f"and {side(dst, INGRESS, verdict.ingress_isolated_by, in_by)}"
            )
        return verdict

    def allowed(self, src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> bool:
        return self.explain(src, dst, port, protocol).allowed

    def cells(
        self, sources: Sequence[Peer], targets: Sequence[Peer], ports: Sequence[tuple[int, str]]
    ) -> Iterator[tuple[Cell, bool]]:
        for port, protocol in ports:
            for src in sources:
                for dst in targets:
                    yield (
                        Cell(src.id, dst.id, port, protocol),
                        self.allowed(src, dst, port, protocol),
                    )

    def matrix(
        self, sources: Sequence[Peer], targets: Sequence[Peer], ports: Sequence[tuple[int, str]]
    ) -> Matrix:
        """Every (src, dst, port, protocol) verdict; ``Cell(src.id, dst.id, port, protocol)``."""
        return Matrix.from_items(self.cells(sources, targets, ports))
