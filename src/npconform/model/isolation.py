"""Tenant isolation of what is deployed: for every pod class of a cluster, which classes of
other tenants reach it on which declared port, beyond the flows the tenants file declares;
which policies admit a pod and still open it to every namespace, every address or every
port; which pods no policy selects. Computed on pod classes (``model.classes``) with the
NetworkPolicy semantics of ``model.netpol``; pure: no cluster, no clock.

Reachability of a target class ``t`` on one of its declared columns (port, protocol) is a
bitset of source classes: those its ingress admits (every class when no ingress policy
selects it) met with those whose egress admits ``t`` on that port (every class no egress
policy selects, and the classes selected by a policy with an egress rule that admits it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from npconform.model.classes import Index, PodClass, members, partition
from npconform.model.netpol import (
    EGRESS,
    INGRESS,
    ContainerPort,
    ParsedPolicy,
    PodModel,
    Rule,
    parse_policy,
    rule_admits_port,
)
from npconform.model.tenants import PLATFORM, TENANT, Member, TenantModel

__all__ = [
    "FAIL",
    "INFO",
    "WARN",
    "Finding",
    "Isolation",
    "State",
    "compute",
]

FAIL, WARN, INFO = "FAIL", "WARN", "INFO"
CROSS_TENANT = "cross-tenant"
TO_PLATFORM = "tenant-to-platform"
OPEN_POLICY = "admitted-but-open"
UNSELECTED = "unselected"
EXTERNAL = "egress-outside-cluster"
HOST_NETWORK = "host-network"
LIST_CAP = 5  # class pairs listed per matrix cell (the counts are always complete)

Column = tuple[int, str]


# --------------------------------------------------------------------------- input


@dataclass
class State:
    """What a cluster holds, as read: namespaces (labels), running pods with an address,
    NetworkPolicies, which pods are Ready, host-network pods, namespaces that could not be
    read (with why) and what the read covered."""

    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    pods: list[PodModel] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    ready: set[str] = field(default_factory=set)
    host_network: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    scope: str = "every namespace"

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "namespaces": self.namespaces,
            "pods": [
                {
                    "namespace": p.namespace,
                    "name": p.name,
                    "labels": p.labels,
                    "ip": p.ip,
                    "ports": [[c.port, c.protocol, c.name] for c in p.ports],
                    "ready": p.id in self.ready,
                }
                for p in self.pods
            ],
            "policies": self.policies,
            "hostNetwork": self.host_network,
            "unreadable": self.unreadable,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> State:
        pods = [
            PodModel(
                d["namespace"],
                d["name"],
                dict(d.get("labels") or {}),
                d.get("ip"),
                tuple(ContainerPort(int(p), str(proto), n) for p, proto, n in d.get("ports", [])),
            )
            for d in doc.get("pods", [])
        ]
        return cls(
            namespaces={k: dict(v or {}) for k, v in doc.get("namespaces", {}).items()},
            pods=pods,
            policies=list(doc.get("policies", [])),
            ready={f"{d['namespace']}/{d['name']}" for d in doc.get("pods", []) if d.get("ready")},
            host_network=list(doc.get("hostNetwork", [])),
            unreadable=dict(doc.get("unreadable", {})),
            scope=str(doc.get("scope", "every namespace")),
        )


# --------------------------------------------------------------------------- output


@dataclass
class Finding:
    severity: str  # FAIL, WARN or INFO
    kind: str
    subject: str  # the objects it is about
    message: str
    opened_by: list[str] = field(default_factory=list)  # "ns/policy ingress[0]", or why open

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
            "openedBy": self.opened_by,
        }

    def line(self) -> str:
        by = f" [opened by: {'; '.join(self.opened_by)}]" if self.opened_by else ""
        return f"{self.severity} {self.kind}: {self.subject}: {self.message}{by}"


@dataclass
class Isolation:
    """The computed result. ``reach[(t, col)]`` is the bitset of source classes that reach
    class ``t`` on ``col``; ``expected(s, t, col)`` reads it."""

    state: State
    model: TenantModel
    classes: list[PodClass]
    members: dict[str, Member]
    reach: dict[tuple[int, Column], int]
    findings: list[Finding]
    matrix: dict[tuple[str, str], dict[str, Any]]
    tenants: list[str]
    intended_bits: dict[tuple[int, Column], int]
    seconds: float = 0.0
    columns: dict[int, list[Column]] = field(default_factory=dict)  # per class: examined

    def member(self, c: PodClass) -> Member:
        return self.members[c.namespace]

    def owner(self, c: PodClass) -> str:
        """The tenant of a class, or ``platform``."""
        return owner_name(self.member(c))

    def expected(self, s: int, t: int, col: Column) -> bool:
        return bool(self.reach.get((t, col), 0) >> s & 1)

    def intended(self, s: int, t: int, col: Column) -> bool:
        return bool(self.intended_bits.get((t, col), 0) >> s & 1)

    @property
    def verdict(self) -> str:
        if any(f.severity == FAIL for f in self.findings):
            return "FAIL"
        if self.state.unreadable:
            return "INCOMPLETE"
        return "PASS"

    def counts(self) -> dict[str, int]:
        out = {FAIL: 0, WARN: 0, INFO: 0}
        for f in self.findings:
            out[f.severity] += 1
        return out

    def _cell(self, source: str, target: str, cell: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "source": source,
            "target": target,
            "cells": cell["cells"],
            "intended": cell["intended"],
            "unintended": cell["cells"] - cell["intended"],
            "pairs": [
                {
                    "source": self.classes[s].name,
                    "target": self.classes[t].name,
                    "port": f"{col[0]}/{col[1]}",
                    "intended": self.intended(s, t, col),
                }
                for s, t, col in cell["pairs"]
            ],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "scope": self.state.scope,
            "tenantModel": self.model.describe(),
            "unreadable": [
                {"namespace": ns, "why": why} for ns, why in sorted(self.state.unreadable.items())
            ],
            "inventory": {
                "namespaces": len(self.state.namespaces),
                "pods": len(self.state.pods),
                "policies": len(self.state.policies),
                "classes": len(self.classes),
                "tenants": len(self.tenants),
                "platformNamespaces": sorted(
                    ns for ns, m in self.members.items() if m.kind == PLATFORM
                ),
            },
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "findings": [f.to_json() for f in self.findings],
            "matrix": {
                "tenants": self.tenants,
                "cells": [self._cell(s, t, cell) for (s, t), cell in sorted(self.matrix.items())],
            },
        }


# --------------------------------------------------------------------------- compute


def _rule_name(p: ParsedPolicy, direction: str, i: int) -> str:
    return f"{p.id} {direction.lower()}[{i}]"


def _everywhere(rule: Rule) -> str:
    """Why a rule's peers leave the namespace for any namespace or address ("" if not)."""
    if not rule.peers:
        return "no peers listed (every pod of every namespace and every address)"
    for peer in rule.peers:
        if peer.ip_block is not None and peer.ip_block.cidr.prefixlen == 0:
            return f"ipBlock {peer.ip_block}"
        every_ns = peer.namespace_selector is not None and peer.namespace_selector.empty
        if every_ns and (peer.pod_selector is None or peer.pod_selector.empty):
            return "namespaceSelector {} (every pod of every namespace)"
    return ""


def _open_rules(p: ParsedPolicy, beyond: Callable[[str, int], int]) -> list[tuple[str, str]]:
    """The rules of a policy that open its pods wide: (rule name, why). ``beyond(direction,
    i)``: how many classes outside the policy's tenant (or the platform) the rule's peers
    hold."""
    out = []
    for direction, rules in ((INGRESS, p.ingress), (EGRESS, p.egress)):
        if not p.affects(direction):
            continue
        what = "from" if direction == INGRESS else "to"
        for i, rule in enumerate(rules):
            ports = ", ".join(str(s) for s in rule.ports) or "every port"
            wide = _everywhere(rule)
            name = _rule_name(p, direction, i)
            if wide:
                out.append((name, f"{direction.lower()} {what} anywhere on {ports}: {wide}"))
            elif not rule.ports and (others := beyond(direction, i)):
                out.append(
                    (
                        name,
                        f"{direction.lower()} on every port and protocol {what} {others} pod "
                        "class(es) outside its tenant",
                    )
                )
    return out


def _external(rule: Rule) -> str:
    """The addresses outside the cluster an egress rule admits ("" if none)."""
    if not rule.peers:
        return "any address"
    blocks = [str(p.ip_block) for p in rule.peers if p.ip_block is not None]
    return ", ".join(blocks)


def owner_name(m: Member) -> str:
    """``platform``, or the tenant's name (a tenant named ``platform`` kept apart)."""
    if m.kind != TENANT:
        return PLATFORM
    return f"{m.name} (tenant)" if m.name == PLATFORM else m.name


class _Admits:
    """``rule_admits_port`` memoised on (rule ports, destination ports, column)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], bool] = {}

    def __call__(self, rule: Rule, dst_ports: tuple[ContainerPort, ...], col: Column) -> bool:
        if not rule.ports:
            return True
        key = (rule.ports, dst_ports, col)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = rule_admits_port(rule, dst_ports, col[0], col[1])
        return hit


class _Digits:
    """A bitset's binary digits, lowest first, to cut it by owner in one pass."""

    def __init__(self, x: int) -> None:
        self.s = bin(x)[:1:-1] if x > 0 else ""

    def spans(
        self, ranges: Mapping[str, tuple[int, int]], owner_at: Sequence[str]
    ) -> list[tuple[str, int, int, int]]:
        """(owner, lo, hi, how many set bits in its range), for owners with any."""
        out = []
        pos = self.s.find("1")
        while pos >= 0:
            owner = owner_at[pos]
            lo, hi = ranges[owner]
            out.append((owner, lo, hi, self.s.count("1", pos, hi)))
            pos = self.s.find("1", hi)
        return out

    def count(self, lo: int, hi: int) -> int:
        return self.s.count("1", lo, hi)

    def first(self, lo: int, hi: int, k: int) -> list[int]:
        out: list[int] = []
        pos = self.s.find("1", lo, hi)
        while pos >= 0 and len(out) < k:
            out.append(pos)
            pos = self.s.find("1", pos + 1, hi)
        return out


def compute(state: State, model: TenantModel) -> Isolation:
    """Classes, reachability, findings and the tenant matrix of ``state``."""
    started = time.perf_counter()
    parsed: list[ParsedPolicy] = []
    for i, raw in enumerate(state.policies):
        parsed.append(parse_policy(raw, index=i))
    ns_labels = dict(state.namespaces)
    for pod in state.pods:
        ns_labels.setdefault(pod.namespace, {})
    assignment = model.assign(ns_labels.items())
    mem = assignment.members
    flow_keys = {k for f in model.intended for e in (f.source, f.target) for k, _ in e.pods}

    # Classes in order of their tenant (platform last), so that each owner's classes are
    # one range of bits.
    def owner_key(ns: str) -> tuple[int, str]:
        m = mem[ns]
        return (1, "") if m.kind == PLATFORM else (0, m.name)

    ordered = sorted(state.pods, key=lambda p: (owner_key(p.namespace), p.namespace, p.name))
    classes, blocks = partition(ordered, parsed, state.ready, flow_keys, keep_order=True)
    index = Index(classes, ns_labels, blocks)
    n = len(classes)
    everyone = index.all

    def owner_of_ns(ns: str) -> str:
        return owner_name(mem[ns])

    def owner_of(c: PodClass) -> str:
        return owner_of_ns(c.namespace)

    owner_bits: dict[str, int] = {}
    ranges: dict[str, tuple[int, int]] = {}
    for c in classes:
        o = owner_of(c)
        owner_bits[o] = owner_bits.get(o, 0) | 1 << c.index
        lo, hi = ranges.get(o, (c.index, c.index + 1))
        ranges[o] = (min(lo, c.index), max(hi, c.index + 1))
    tenant_sources = everyone & ~owner_bits.get(PLATFORM, 0)
    owner_at = [owner_of(c) for c in classes]

    # Per class: the policies isolating it, per direction.
    ing_of: list[list[ParsedPolicy]] = [[] for _ in range(n)]
    eg_isolated = 0
    eg_rules: list[tuple[ParsedPolicy, int, Rule, int, int]] = []  # (p, i, rule, selected, targets)
    selected_any = 0
    peer_bits: dict[tuple[str, int, int], int] = {}
    for p in parsed:
        sel = index.selected(p)
        selected_any |= sel
        if p.affects(INGRESS):
            for ci in members(sel):
                ing_of[ci].append(p)
            for i, r in enumerate(p.ingress):
                peers = everyone if not r.peers else 0
                for spec in r.peers:
                    peers |= index.peer(p.namespace, spec)
                peer_bits[(p.id, 0, i)] = peers
        if p.affects(EGRESS):
            eg_isolated |= sel
            for i, r in enumerate(p.egress):
                targets = everyone if not r.peers else 0
                for spec in r.peers:
                    targets |= index.peer(p.namespace, spec)
                peer_bits[(p.id, 1, i)] = targets
                if sel:
                    eg_rules.append((p, i, r, sel, targets))
    not_eg_isolated = everyone & ~eg_isolated
    admits = _Admits()
    # Egress rules to every class are grouped by their ports; those that reach more than
    # half of the classes are evaluated per target; the others are inverted: for each
    # target class, the rules whose peers hold it.
    to_all: dict[tuple[Any, ...], tuple[Rule, int]] = {}
    to_all_entries: list[tuple[ParsedPolicy, int, Rule, int, int]] = []
    wide: list[tuple[ParsedPolicy, int, Rule, int, int]] = []
    narrow_of: dict[int, list[tuple[ParsedPolicy, int, Rule, int, int]]] = {}
    for entry in eg_rules:
        targets = entry[4]
        if targets == everyone:
            to_all_entries.append(entry)
            rule, sel = entry[2], entry[3]
            prev = to_all.get(rule.ports)
            to_all[rule.ports] = (rule, sel | (prev[1] if prev else 0))
        elif targets.bit_count() * 2 > n:
            wide.append(entry)
        else:
            for ti in members(targets):
                narrow_of.setdefault(ti, []).append(entry)

    reach: dict[tuple[int, Column], int] = {}
    intended_bits: dict[tuple[int, Column], int] = {}
    findings: list[Finding] = []
    matrix: dict[tuple[str, str], dict[str, Any]] = {}
    # Intended flows: the source classes each one admits, once.
    flow_sources = []
    for f in model.intended:
        src = 0
        for c in classes:
            if f.source.matches(mem[c.namespace], c.namespace, c.labels):
                src |= 1 << c.index
        flow_sources.append((f, src))

    holes: dict[tuple[int, int, tuple[str, ...]], list[Column]] = {}
    columns: dict[int, list[Column]] = {}
    for t in classes:
        cols = _columns(t, ing_of[t.index])
        columns[t.index] = cols
        if not cols:
            continue
        tb = 1 << t.index
        t_owner = owner_at[t.index]
        t_member = mem[t.namespace]
        same = owner_bits[t_owner] if t_owner != PLATFORM else 0
        for col in cols:
            port, proto = col
            # ingress side
            if ing_of[t.index]:
                inn = 0
                for p in ing_of[t.index]:
                    for i, r in enumerate(p.ingress):
                        if admits(r, t.ports, col):
                            inn |= peer_bits[(p.id, 0, i)]
                            if inn == everyone:
                                break
            else:
                inn = everyone
            if not inn:
                reach[(t.index, col)] = 0
                continue
            # egress side
            eg = not_eg_isolated
            for r, sel in to_all.values():
                if admits(r, t.ports, col):
                    eg |= sel
            for _p, _i, r, sel, targets in wide:
                if targets & tb and admits(r, t.ports, col):
                    eg |= sel
            for _p, _i, r, sel, _t in narrow_of.get(t.index, ()):
                if admits(r, t.ports, col):
                    eg |= sel
            got = inn & eg
            reach[(t.index, col)] = got
            cross = got & tenant_sources & ~same
            if not cross:
                continue
            ok = 0
            for f, src in flow_sources:
                if (
                    src & cross
                    and f.covers(port, proto)
                    and f.target.matches(t_member, t.namespace, t.labels)
                ):
                    ok |= src
            ok &= cross
            if ok:
                intended_bits[(t.index, col)] = ok
            _tally(matrix, cross, ok, ranges, owner_at, t, col)
            bad = cross & ~ok
            if bad:
                opened = _opened(
                    t,
                    col,
                    bad,
                    ing_of[t.index],
                    peer_bits,
                    not_eg_isolated,
                    [*wide, *narrow_of.get(t.index, ()), *to_all_entries],
                    admits,
                )
                holes.setdefault((t.index, bad, opened), []).append(col)
    # one finding per target class, set of sources and opening, its ports together
    for (ti, bad, opened), cols in holes.items():
        findings.append(_cross_finding(classes[ti], cols, bad, opened, classes, owner_at, ranges))

    def beyond(p: ParsedPolicy) -> Callable[[str, int], int]:
        own = owner_bits.get(owner_of_ns(p.namespace), 0)
        return lambda d, i: (peer_bits[(p.id, 0 if d == INGRESS else 1, i)] & ~own).bit_count()

    for p in parsed:
        sel = index.selected(p)
        if not sel:
            continue
        for rule_name, why in _open_rules(p, beyond(p)):
            n_pods = sum(len(classes[i].pods) for i in members(sel))
            findings.append(
                Finding(
                    WARN,
                    OPEN_POLICY,
                    p.id,
                    f"selects {n_pods} pod(s) and allows {why}",
                    [rule_name],
                )
            )
    for c in classes:
        if not (selected_any >> c.index & 1):
            tenant = owner_at[c.index] != PLATFORM
            findings.append(
                Finding(
                    WARN if tenant else INFO,
                    UNSELECTED,
                    c.name,
                    f"{len(c.pods)} pod(s) selected by no NetworkPolicy: open for ingress and "
                    "egress"
                    + (
                        "; the admission safeguard should have refused or warned about them"
                        if tenant
                        else " (a platform namespace)"
                    ),
                    ["no NetworkPolicy selects it"],
                )
            )
    findings.extend(
        _external_findings(classes, owner_at, not_eg_isolated, eg_rules, tenant_sources)
    )
    for host_pod in state.host_network:
        findings.append(
            Finding(
                INFO,
                HOST_NETWORK,
                host_pod,
                "on the node's network: NetworkPolicies do not apply to it",
            )
        )
    for ns, why in sorted(state.unreadable.items()):
        findings.append(Finding(INFO, "unreadable", ns, f"not examined: {why}"))
    order = {FAIL: 0, WARN: 1, INFO: 2}
    findings.sort(key=lambda f: (order[f.severity], f.kind, f.subject))
    tenants = sorted(o for o in owner_bits if o != PLATFORM)
    return Isolation(
        state,
        model,
        classes,
        mem,
        reach,
        findings,
        matrix,
        tenants,
        intended_bits,
        time.perf_counter() - started,
        columns,
    )


def _tally(
    matrix: dict[tuple[str, str], dict[str, Any]],
    cross: int,
    ok: int,
    ranges: Mapping[str, tuple[int, int]],
    owner_at: Sequence[str],
    t: PodClass,
    col: Column,
) -> None:
    """Count the cells of ``cross`` by source tenant into the tenant matrix; keep the
    first few class pairs of each (``pairs``: (source class, target class, column))."""
    t_owner = owner_at[t.index]
    digits = _Digits(cross)
    ok_digits = _Digits(ok) if ok else None
    for s_owner, lo, hi, n_all in digits.spans(ranges, owner_at):
        cell = matrix.get((s_owner, t_owner))
        if cell is None:
            cell = matrix[(s_owner, t_owner)] = {"cells": 0, "intended": 0, "pairs": []}
        cell["cells"] += n_all
        if ok_digits is not None:
            cell["intended"] += ok_digits.count(lo, hi)
        room = LIST_CAP - len(cell["pairs"])
        if room > 0:
            cell["pairs"].extend((si, t.index, col) for si in digits.first(lo, hi, room))


def _opened(
    t: PodClass,
    col: Column,
    bad: int,
    ing: Sequence[ParsedPolicy],
    peer_bits: Mapping[tuple[str, int, int], int],
    not_eg_isolated: int,
    egress: Sequence[tuple[ParsedPolicy, int, Rule, int, int]],
    admits: _Admits,
) -> tuple[str, ...]:
    """What lets the sources ``bad`` reach ``t`` on ``col``: the ingress rules (or that
    nothing isolates it), then the egress side."""
    opened: list[str] = []
    if not ing:
        opened.append(f"no NetworkPolicy isolates {t.name} for ingress")
    for p in ing:
        for i, r in enumerate(p.ingress):
            if admits(r, t.ports, col) and peer_bits[(p.id, 0, i)] & bad:
                opened.append(_rule_name(p, INGRESS, i))
    if bad & not_eg_isolated:
        n = (bad & not_eg_isolated).bit_count()
        opened.append(f"{n} source class(es) not isolated for egress")
    tb = 1 << t.index
    for p, i, r, sel, targets in egress:
        if sel & bad and targets & tb and admits(r, t.ports, col):
            opened.append(_rule_name(p, EGRESS, i))
    return tuple(opened)


def _cross_finding(
    t: PodClass,
    cols: Sequence[Column],
    bad: int,
    opened: Sequence[str],
    classes: Sequence[PodClass],
    owner_at: Sequence[str],
    ranges: Mapping[str, tuple[int, int]],
) -> Finding:
    digits = _Digits(bad)
    src_owners = [o for o, *_ in digits.spans(ranges, owner_at)]
    count = bad.bit_count()
    shown = ", ".join(classes[i].name for i in digits.first(0, len(owner_at), 5))
    if count > 5:
        shown += f" and {count - 5} more class(es)"
    t_owner = owner_at[t.index]
    kind = TO_PLATFORM if t_owner == PLATFORM else CROSS_TENANT
    whom = "the platform" if t_owner == PLATFORM else f"tenant {t_owner}"
    owners = ", ".join(src_owners[:10]) + (
        f" and {len(src_owners) - 10} more" if len(src_owners) > 10 else ""
    )
    ports = ", ".join(f"{p}/{proto}" for p, proto in cols)
    return Finding(
        FAIL,
        kind,
        f"{t.name} ({whom})",
        f"reachable on {ports} from tenant(s) {owners} ({shown}), not declared intended",
        list(opened),
    )


def _columns(t: PodClass, ingress: Sequence[ParsedPolicy]) -> list[Column]:
    """The columns a class is examined on: the ports it declares, and every numbered port
    an ingress rule of a policy selecting it names (a range by its first port): a hole on
    a port no container declares is a hole all the same."""
    cols = set(t.columns())
    for p in ingress:
        for r in p.ingress:
            for spec in r.ports:
                if isinstance(spec.port, int):
                    cols.add((spec.port, spec.protocol))
    return sorted(cols)


def _external_findings(
    classes: Sequence[PodClass],
    owner_at: Sequence[str],
    not_eg_isolated: int,
    eg_rules: Sequence[tuple[ParsedPolicy, int, Rule, int, int]],
    tenant_sources: int,
) -> list[Finding]:
    """Per tenant: which of its classes may send to addresses outside the cluster."""
    per: dict[str, dict[str, int]] = {}

    def count(ci: int, way: str) -> None:
        ways = per.setdefault(owner_at[ci], {})
        ways[way] = ways.get(way, 0) + 1

    for ci in members(not_eg_isolated & tenant_sources):
        count(ci, "not isolated for egress: any address, any port")
    for p, i, r, sel, _ in eg_rules:
        ext = _external(r)
        if not ext:
            continue
        ports = ", ".join(str(s) for s in r.ports) or "any port"
        for ci in members(sel & tenant_sources):
            count(ci, f"{_rule_name(p, EGRESS, i)}: {ext} on {ports}")
    out = []
    for tenant, ways in sorted(per.items()):
        out.append(
            Finding(
                INFO,
                EXTERNAL,
                f"tenant {tenant}",
                "may send outside the cluster: "
                + "; ".join(f"{k} ({n} class(es))" for k, n in sorted(ways.items())),
            )
        )
    return out
