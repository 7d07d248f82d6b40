"""Pods that NetworkPolicy cannot tell apart, as classes, and sets of classes as bitsets.

Two pods are in one class when they share their namespace, the labels that some selector
could read (a label key that no selector, no intended flow and no tenant rule mentions
decides nothing), their declared ports (number, protocol and name: a named port resolves
against them) and the ipBlocks their address falls in (a policy's ipBlock matches pods by
address). Whatever a NetworkPolicy allows one pod of a class, it allows every pod of it:
the reachability of a cluster is computed on its classes, not its pods.

A set of classes is an ``int`` whose bit ``i`` is class ``i`` (a bitset): union, meet and
difference of thousands of classes are single integer operations. :class:`Index` answers
which classes a label selector, a namespace selector, an ipBlock or a policy's peer picks.
Pure: no cluster, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from npconform.model.netpol import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    IPBlock,
    LabelSelector,
    ParsedPolicy,
    PeerSpec,
    PodModel,
)


def members(x: int) -> list[int]:
    """The indices of the set bits of ``x``, in increasing order."""
    if x <= 0:
        return []
    n = x.bit_count()
    if n * 24 > x.bit_length():  # dense: one pass over the binary digits
        s = bin(x)[:1:-1]
        return [i for i, ch in enumerate(s) if ch == "1"]
    out = []
    while x:
        low = x & -x
        out.append(low.bit_length() - 1)
        x ^= low
    return out


@dataclass
class PodClass:
    """Pods NetworkPolicy cannot tell apart. ``pods`` are names in ``namespace``."""

    index: int
    namespace: str
    labels: dict[str, str]  # the labels selectors can read (the others decide nothing)
    ports: tuple[ContainerPort, ...]
    ip_blocks: frozenset[int]  # indices of the ipBlocks the pods' addresses fall in
    pods: list[str] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)  # names of its Ready pods
    example: PodModel | None = None  # a pod of the class: Ready first, then by name

    @property
    def name(self) -> str:
        """``namespace/pod`` of its example pod, with how many more pods it stands for."""
        first = self.example.name if self.example else self.pods[0]
        more = len(self.pods) - 1
        return f"{self.namespace}/{first}" + (f" (+{more})" if more else "")

    def columns(self) -> list[tuple[int, str]]:
        """The (port, protocol) pairs it declares, sorted, without repeats."""
        return sorted({(p.port, p.protocol) for p in self.ports})


def selector_keys(policies: Iterable[ParsedPolicy]) -> tuple[set[str], set[str]]:
    """(pod label keys, namespace label keys) that some selector of ``policies`` reads."""
    pod: set[str] = set()
    ns: set[str] = set()

    def take(sel: LabelSelector | None, into: set[str]) -> None:
        if sel is not None:
            into.update(k for k, _ in sel.match_labels)
            into.update(r.key for r in sel.match_expressions)

    for p in policies:
        take(p.pod_selector, pod)
        for rule in (*p.ingress, *p.egress):
            for peer in rule.peers:
                take(peer.pod_selector, pod)
                take(peer.namespace_selector, ns)
    return pod, ns


def ip_blocks(policies: Iterable[ParsedPolicy]) -> list[IPBlock]:
    """Every distinct ipBlock of ``policies``, in order of appearance."""
    seen: dict[IPBlock, None] = {}
    for p in policies:
        for rule in (*p.ingress, *p.egress):
            for peer in rule.peers:
                if peer.ip_block is not None:
                    seen.setdefault(peer.ip_block, None)
    return list(seen)


def partition(
    pods: Sequence[PodModel],
    policies: Sequence[ParsedPolicy],
    ready: Iterable[str] = (),
    extra_keys: Iterable[str] = (),
    *,
    keep_order: bool = False,
) -> tuple[list[PodClass], list[IPBlock]]:
    """The classes of ``pods`` (ordered by namespace, then first pod name; with
    ``keep_order``, by the first of their pods in ``pods``) and the ipBlocks their
    ``ip_blocks`` index. ``extra_keys``: pod label keys that matter beyond the policies
    (an intended flow's pod labels)."""
    keys, _ = selector_keys(policies)
    keys |= set(extra_keys)
    blocks = ip_blocks(policies)
    ready_ids = set(ready)
    groups: dict[tuple[Any, ...], list[PodModel]] = {}
    for pod in pods if keep_order else sorted(pods, key=lambda p: (p.namespace, p.name)):
        labels = tuple(sorted((k, v) for k, v in pod.labels.items() if k in keys))
        ports = tuple(sorted(set(pod.ports), key=lambda c: (c.port, c.protocol, c.name or "")))
        addr = pod.address
        inside = frozenset(i for i, b in enumerate(blocks) if b.contains(addr))
        groups.setdefault((pod.namespace, labels, ports, inside), []).append(pod)
    classes = []
    for i, ((ns, labels, ports, inside), group) in enumerate(groups.items()):
        names = [p.name for p in group]
        up = [p for p in group if p.id in ready_ids]
        classes.append(
            PodClass(
                i,
                ns,
                dict(labels),
                ports,
                inside,
                names,
                [p.name for p in up],
                (up or group)[0],
            )
        )
    return classes, blocks


class Index:
    """Which classes a selector, namespace, ipBlock or peer picks, as bitsets (cached)."""

    def __init__(
        self,
        classes: Sequence[PodClass],
        namespace_labels: Mapping[str, Mapping[str, str]],
        blocks: Sequence[IPBlock],
    ) -> None:
        self.classes = classes
        self.all = (1 << len(classes)) - 1
        self.blocks = list(blocks)
        self._block_id = {b: i for i, b in enumerate(blocks)}
        self.in_namespace: dict[str, int] = {}
        self._pod: dict[tuple[str, str], int] = {}
        self._pod_key: dict[str, int] = {}
        self._ns: dict[tuple[str, str], int] = {}
        self._ns_key: dict[str, int] = {}
        self._in_block: dict[int, int] = {}
        for c in classes:
            bit = 1 << c.index
            self.in_namespace[c.namespace] = self.in_namespace.get(c.namespace, 0) | bit
            for kv in c.labels.items():
                self._pod[kv] = self._pod.get(kv, 0) | bit
                self._pod_key[kv[0]] = self._pod_key.get(kv[0], 0) | bit
            for b in c.ip_blocks:
                self._in_block[b] = self._in_block.get(b, 0) | bit
        for ns, ns_bits in self.in_namespace.items():
            labels = {**namespace_labels.get(ns, {}), NAMESPACE_NAME_LABEL: ns}
            for kv in labels.items():
                self._ns[kv] = self._ns.get(kv, 0) | ns_bits
                self._ns_key[kv[0]] = self._ns_key.get(kv[0], 0) | ns_bits
        self._cache: dict[tuple[Any, ...], int] = {}

    def _select(
        self, sel: LabelSelector, pairs: Mapping[tuple[str, str], int], keys: Mapping[str, int]
    ) -> int:
        out = self.all
        for kv in sel.match_labels:
            out &= pairs.get(kv, 0)
        for r in sel.match_expressions:
            if r.operator in ("In", "NotIn"):
                hit = 0
                for v in r.values:
                    hit |= pairs.get((r.key, v), 0)
                out &= hit if r.operator == "In" else self.all & ~hit
            elif r.operator == "Exists":
                out &= keys.get(r.key, 0)
            else:  # DoesNotExist
                out &= self.all & ~keys.get(r.key, 0)
        return out

    def pods(self, sel: LabelSelector) -> int:
        """Classes whose pod labels ``sel`` selects."""
        key = ("pod", sel)
        if key not in self._cache:
            self._cache[key] = self._select(sel, self._pod, self._pod_key)
        return self._cache[key]

    def namespaces(self, sel: LabelSelector) -> int:
        """Classes in a namespace whose labels ``sel`` selects."""
        key = ("ns", sel)
        if key not in self._cache:
            self._cache[key] = self._select(sel, self._ns, self._ns_key)
        return self._cache[key]

    def block(self, b: IPBlock) -> int:
        """Classes whose pods' addresses ``b`` contains."""
        i = self._block_id.get(b)
        return 0 if i is None else self._in_block.get(i, 0)

    def peer(self, namespace: str, spec: PeerSpec) -> int:
        """Classes a ``from``/``to`` entry of a policy of ``namespace`` matches."""
        if spec.ip_block is not None:
            return self.block(spec.ip_block)
        if spec.namespace_selector is None:
            scope = self.in_namespace.get(namespace, 0)
        else:
            scope = self.namespaces(spec.namespace_selector)
        if spec.pod_selector is None:
            return scope
        return scope & self.pods(spec.pod_selector)

    def selected(self, policy: ParsedPolicy) -> int:
        """Classes ``policy`` selects (its podSelector, in its namespace)."""
        return self.in_namespace.get(policy.namespace, 0) & self.pods(policy.pod_selector)
