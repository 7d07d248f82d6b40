"""Tenants, declared, never guessed: which namespaces make up each tenant, which are the
platform's, and which flows across tenant boundaries are intended (the ingress
controller to each tenant's web port, every tenant to DNS).

The file (YAML, schema ``schemas/tenants-v1.schema.json``)::

    version: 1
    tenants:
      namespaces: {shop: [shop-web, shop-db]}   # explicit lists (NAME, NAME* or *NAME)
      hnc: true                                  # the root of the namespace's HNC tree
      label: tenant                              # the value of this namespace label
    platform:
      labels: [owner=operator]                   # the default, Welkin's
      namespaces: [kube-system, ingress-nginx]
    intended:
      - description: ingress controller to each tenant's web port
        from: {namespace: ingress-nginx}
        to: {tenant: "*", pods: {app: web}}
        ports: [8080/TCP]

A namespace is the platform's when a platform label or name says so; otherwise its tenant
is found by the explicit lists, then its HNC root, then the label, in that order; a
namespace none of them places is a tenant of its own. Without a file every non-platform
namespace is a tenant of its own. Pure: namespaces come in as names and labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from npconform import schemas
from npconform.model.coverage import PLATFORM_LABEL, name_matches
from npconform.model.netpol import NAMESPACE_NAME_LABEL

SCHEMA_FILE = "tenants-v1.schema.json"
#: HNC labels every namespace of a tree ``<ancestor>.tree.hnc.x-k8s.io/depth: <n>``
HNC_DEPTH = ".tree.hnc.x-k8s.io/depth"
PLATFORM = "platform"
TENANT = "tenant"
OWN = "a tenant of its own"


class TenantsError(ValueError):
    """A tenants file that does not say what it must; the message is one line."""


@dataclass(frozen=True)
class Member:
    """Where a namespace belongs: the platform, or a tenant (with how it was placed)."""

    kind: str  # PLATFORM or TENANT
    name: str  # the tenant's name ("" for the platform)
    why: str  # e.g. "label owner=operator", "tenants.namespaces shop: shop-*"


@dataclass(frozen=True)
class Endpoint:
    """One side of an intended flow; every field given must hold."""

    tenant: str = ""  # a tenant's name, or "*": any tenant
    platform: bool = False  # a platform namespace
    namespace: str = ""  # NAME, NAME* or *NAME
    pods: tuple[tuple[str, str], ...] = ()  # labels the pods carry

    def matches(self, member: Member, namespace: str, labels: Mapping[str, str]) -> bool:
        if self.tenant and not (member.kind == TENANT and self.tenant in ("*", member.name)):
            return False
        if self.platform and member.kind != PLATFORM:
            return False
        if self.namespace and not name_matches(self.namespace, namespace):
            return False
        return all(labels.get(k) == v for k, v in self.pods)

    def describe(self) -> str:
        parts = []
        if self.tenant:
            parts.append("any tenant" if self.tenant == "*" else f"tenant {self.tenant}")
        if self.platform:
            parts.append("the platform")
        if self.namespace:
            parts.append(f"namespace {self.namespace}")
        if self.pods:
            parts.append("pods " + ",".join(f"{k}={v}" for k, v in self.pods))
        return " ".join(parts)


@dataclass(frozen=True)
class Flow:
    source: Endpoint
    target: Endpoint
    ports: tuple[tuple[int | None, str], ...] = ()  # (port or None: any, protocol); (): any
    description: str = ""

    def covers(self, port: int, protocol: str) -> bool:
        return not self.ports or any(
            (p is None or p == port) and proto == protocol for p, proto in self.ports
        )

    def describe(self) -> str:
        ports = ", ".join(f"{p or '*'}/{proto}" for p, proto in self.ports) or "any port"
        what = f"{self.source.describe()} -> {self.target.describe()} on {ports}"
        return f"{self.description} ({what})" if self.description else what


@dataclass(frozen=True)
class TenantModel:
    lists: tuple[tuple[str, tuple[str, ...]], ...] = ()  # tenant -> namespace patterns
    hnc: bool = False
    label: str = ""
    platform_labels: tuple[tuple[str, str], ...] = (PLATFORM_LABEL,)
    platform_namespaces: tuple[str, ...] = ()
    intended: tuple[Flow, ...] = ()
    source: str = ""  # the file it was read from ("" for the default)

    def member(self, namespace: str, labels: Mapping[str, str]) -> Member:
        for k, v in self.platform_labels:
            if labels.get(k) == v:
                return Member(PLATFORM, "", f"label {k}={v}")
        for p in self.platform_namespaces:
            if name_matches(p, namespace):
                return Member(PLATFORM, "", f"platform.namespaces {p}")
        listed = self._listed(namespace)
        if listed:
            tenant, p = listed
            return Member(TENANT, tenant, f"tenants.namespaces {tenant}: {p}")
        if self.hnc:
            root = hnc_root(labels)
            if root:
                return Member(TENANT, root, f"HNC tree of {root}")
        if self.label and labels.get(self.label):
            value = labels[self.label]
            return Member(TENANT, value, f"label {self.label}={value}")
        return Member(TENANT, namespace, OWN)

    def _listed(self, namespace: str) -> tuple[str, str] | None:
        """The explicit list that names the namespace: an exact name before a pattern;
        TenantsError when lists of two tenants claim it equally."""
        for exact in (True, False):
            hits = [
                (t, p)
                for t, ps in self.lists
                for p in ps
                if ("*" not in p) == exact and name_matches(p, namespace)
            ]
            if len({t for t, _ in hits}) > 1:
                claims = " and ".join(f"{t} ({p})" for t, p in hits)
                raise TenantsError(
                    f"tenants file {self.source or '(none)'}: namespace {namespace} is in "
                    f"the tenants.namespaces of both {claims}"
                )
            if hits:
                return hits[0]
        return None

    def assign(self, namespaces: Iterable[tuple[str, Mapping[str, str]]]) -> Assignment:
        """Every namespace placed; a namespace that is a tenant of its own but shares its
        name with a tenant a rule found is kept apart, as ``NAME (own namespace)``."""
        out = {name: self.member(name, labels) for name, labels in namespaces}
        found = {m.name for m in out.values() if m.kind == TENANT and m.why != OWN}
        for ns, m in out.items():
            if m.why == OWN and m.name in found:
                out[ns] = Member(TENANT, f"{ns} (own namespace)", OWN)
        return Assignment(self, out)

    def intended_flow(
        self,
        src: tuple[Member, str, Mapping[str, str]],
        dst: tuple[Member, str, Mapping[str, str]],
        port: int,
        protocol: str,
    ) -> Flow | None:
        """The declared flow that makes this cell intended, if any (a flow within one
        tenant needs none: it crosses no boundary)."""
        for f in self.intended:
            if f.source.matches(*src) and f.target.matches(*dst) and f.covers(port, protocol):
                return f
        return None

    def describe(self) -> str:
        ways = [f"explicit lists ({len(self.lists)} tenants)"] if self.lists else []
        if self.hnc:
            ways.append("HNC roots")
        if self.label:
            ways.append(f"namespace label {self.label}")
        platform = [f"label {k}={v}" for k, v in self.platform_labels]
        platform += [f"namespace {n}" for n in self.platform_namespaces]
        platform = platform or ["none"]
        return (
            f"tenants by {', then '.join(ways) or 'namespace'}"
            + ("; any other namespace is a tenant of its own" if ways else "")
            + f"; platform: {', '.join(platform)}; "
            f"{len(self.intended)} intended flow(s)" + (f" [{self.source}]" if self.source else "")
        )


#: The intended flow of a cluster without a tenants file: every tenant to the cluster DNS
#: (CoreDNS and kube-dns pods carry k8s-app=kube-dns in kube-system on kubeadm, kind and
#: Welkin alike).
CLUSTER_DNS = Flow(
    Endpoint(tenant="*"),
    Endpoint(platform=True, namespace="kube-system", pods=(("k8s-app", "kube-dns"),)),
    ((53, "UDP"), (53, "TCP")),
    "every tenant to the cluster DNS",
)


def cluster_dns_egress() -> dict[str, Any]:
    """The NetworkPolicy egress rule that allows :data:`CLUSTER_DNS` and nothing else."""
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }


def default_model(
    platform_labels: tuple[tuple[str, str], ...] = (PLATFORM_LABEL,),
    platform_namespaces: tuple[str, ...] = (),
    source: str = "",
) -> TenantModel:
    """The model without a tenants file: the platform by the given rule (Welkin's
    ``owner=operator`` by default), every other namespace a tenant of its own, and one
    intended flow, every tenant to the cluster DNS."""
    return TenantModel(
        platform_labels=platform_labels,
        platform_namespaces=platform_namespaces,
        intended=(CLUSTER_DNS,),
        source=source,
    )


def hnc_root(labels: Mapping[str, str]) -> str:
    """The root of the HNC tree a namespace is in: the ancestor with the greatest depth."""
    best, depth = "", -1
    for k, v in labels.items():
        if k.endswith(HNC_DEPTH) and v.isdigit() and int(v) > depth:
            best, depth = k.removesuffix(HNC_DEPTH), int(v)
    return best


def _where(path: Sequence[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the top level"


def _endpoint(d: Mapping[str, Any]) -> Endpoint:
    return Endpoint(
        tenant=str(d.get("tenant") or ""),
        platform=bool(d.get("platform")),
        namespace=str(d.get("namespace") or ""),
        pods=tuple(sorted((str(k), str(v)) for k, v in (d.get("pods") or {}).items())),
    )


def _port(item: str) -> tuple[int | None, str]:
    """``PORT/PROTOCOL`` as the schema admits it (PORT 1-65535 or ``*``)."""
    port, _, proto = item.partition("/")
    return (None if port == "*" else int(port)), proto


def from_doc(doc: Any, source: str = "") -> TenantModel:
    """The model a tenants document declares; TenantsError (one line) when it is not one."""
    prefix = f"tenants file {source}: " if source else "tenants: "
    if not isinstance(doc, dict):
        raise TenantsError(f"{prefix}expected a mapping with version: 1")
    validator = Draft202012Validator(schemas.load(SCHEMA_FILE))
    errors = sorted(validator.iter_errors(doc), key=schemas.document_order)
    if errors:
        e = errors[0]
        said = e.message
        if e.validator in ("pattern", "not") and e.schema.get("description"):
            said = f"{e.instance!r} is not {e.schema['description']}"
        elif e.validator == "not":
            said = "give platform or a tenant, not both"
        raise TenantsError(f"{prefix}at {_where(list(e.absolute_path))}: {said}")
    tenants = doc.get("tenants") or {}
    platform = doc.get("platform") or {}
    labels = tuple(
        (k, v) for k, _, v in (str(s).partition("=") for s in platform.get("labels") or [])
    )
    flows = tuple(
        Flow(
            _endpoint(f["from"]),
            _endpoint(f["to"]),
            tuple(_port(p) for p in f.get("ports") or []),
            str(f.get("description") or ""),
        )
        for f in doc.get("intended") or []
    )
    return TenantModel(
        lists=tuple((t, tuple(ps)) for t, ps in (tenants.get("namespaces") or {}).items()),
        hnc=bool(tenants.get("hnc")),
        label=str(tenants.get("label") or ""),
        platform_labels=labels if "labels" in platform else (PLATFORM_LABEL,),
        platform_namespaces=tuple(platform.get("namespaces") or ()),
        intended=flows,
        source=source,
    )


def load(text: str, source: str) -> TenantModel:
    """A tenants file's text (YAML) read into the model; TenantsError on any fault."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        lines = text.splitlines()
        line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
        hint = " (quote a value that starts with *, e.g. '*/UDP')" if "*" in line else ""
        problem = str(getattr(e, "problem", None) or e).replace("\n", " ")
        raise TenantsError(f"tenants file {source}: not YAML{where}: {problem}{hint}") from None
    return from_doc(doc, source)


@dataclass
class Assignment:
    """The namespaces of a cluster, placed."""

    model: TenantModel
    members: dict[str, Member] = field(default_factory=dict)

    def tenants(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ns, m in sorted(self.members.items()):
            if m.kind == TENANT:
                out.setdefault(m.name, []).append(ns)
        return out

    def platform(self) -> list[str]:
        return sorted(ns for ns, m in self.members.items() if m.kind == PLATFORM)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.describe(),
            "namespaces": [
                {"namespace": ns, "kind": m.kind, "tenant": m.name, "why": m.why}
                for ns, m in sorted(self.members.items())
            ],
            "tenants": self.tenants(),
            "platform": self.platform(),
        }
