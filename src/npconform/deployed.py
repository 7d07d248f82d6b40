"""What is deployed: the reachability that the NetworkPolicies already in some namespaces
imply for the pods already there, computed by the oracle (nothing is created).

Each pod is shown on the ports it declares (a pod declaring none is a source only); with
``--ports`` every pod is computed on the given ports instead.

With an explicit opt-in (``verify_deployed``) part of it is checked on live traffic: one
short-lived probe pod, in a namespace of its own that carries the run label, probes every
deployed pod on its own declared TCP ports (with ``--ports``: those of them that are
given), and what it sees must equal what the oracle says a pod of an unrelated namespace
may reach. Only that namespace and the objects in it are created; they are deleted at the
end, also on failure and Ctrl-C. Egress of the deployed pods and UDP (which needs a
server that answers) are computed, not probed.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from npconform import NAME
from npconform.cluster.client import Clients, to_dict
from npconform.model.matrix import REFUSED, Cell, Matrix, Readings, render, render_comparison
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine
from npconform.model.pairing import describe
from npconform.model.pairing import unpaired as unpaired_targets


def read_world(
    clients: Clients, namespaces: Sequence[str]
) -> tuple[list[NamespaceModel], list[PodModel], list[dict[str, Any]]]:
    core, net = clients.core(), clients.net()
    ns_models: list[NamespaceModel] = []
    pods: list[PodModel] = []
    policies: list[dict[str, Any]] = []
    for ns in namespaces:
        n = core.read_namespace(ns)
        ns_models.append(NamespaceModel(ns, dict(n.metadata.labels or {})))
        for p in core.list_namespaced_pod(ns).items:
            if p.status.phase != "Running" or not p.status.pod_ip:
                continue
            if p.spec.host_network:
                continue  # NetworkPolicies do not apply to pods on the host's network
            ports = tuple(
                ContainerPort(cp.container_port, cp.protocol or "TCP", cp.name)
                for c in p.spec.containers
                for cp in c.ports or []
            )
            pods.append(
                PodModel(ns, p.metadata.name, dict(p.metadata.labels or {}), p.status.pod_ip, ports)
            )
        for pol in net.list_namespaced_network_policy(ns).items:
            d = to_dict(pol)
            d.pop("status", None)
            d["metadata"] = {"name": d["metadata"]["name"], "namespace": ns}
            policies.append(d)
    return ns_models, pods, policies


def parse_ports(ports: str) -> list[tuple[int, str]]:
    """``8080/TCP,53/udp`` -> [(8080, "TCP"), (53, "UDP")]; a bare number means TCP."""
    cols = []
    for item in filter(None, (c.strip() for c in ports.split(","))):
        num, _, proto = item.partition("/")
        if not num.isdigit() or not 0 < int(num) < 65536:
            raise ValueError(f"bad port {item!r}: expected NUMBER[/PROTOCOL]")
        proto = (proto or "TCP").upper()
        if proto not in ("TCP", "UDP", "SCTP"):
            raise ValueError(f"bad protocol in {item!r}: TCP, UDP or SCTP")
        cols.append((int(num), proto))
    return cols


Column = tuple[int, str]  # (port, protocol)


def declared_columns(pod: PodModel) -> list[Column]:
    """The (port, protocol) pairs the pod's containers declare, sorted, without repeats."""
    return sorted({(cp.port, cp.protocol) for cp in pod.ports})


def report_columns(pods: Sequence[PodModel], ports: str = "") -> dict[str, list[Column]]:
    """The columns the computed report shows per pod id: its declared ports, or every
    given ``--ports`` column. Pods left without a column are not in the mapping."""
    given = list(dict.fromkeys(parse_ports(ports))) if ports else None
    out = {p.id: given if given is not None else declared_columns(p) for p in pods}
    return {pid: cols for pid, cols in out.items() if cols}


def probe_columns(pods: Sequence[PodModel], ports: str = "") -> dict[str, list[Column]]:
    """The columns probed live per pod id: its declared TCP ports (only TCP is probed),
    with ``--ports`` only those of them that are given. Pods left without a column are
    not in the mapping (not probed)."""
    given = list(dict.fromkeys(parse_ports(ports))) if ports else None
    out: dict[str, list[Column]] = {}
    for p in pods:
        declared = [c for c in declared_columns(p) if c[1] == "TCP"]
        cols = declared if given is None else [c for c in given if c in declared]
        if cols:
            out[p.id] = cols
    return out


def _column_order(per_pod: Mapping[str, Sequence[Column]], ports: str) -> list[Column]:
    """All columns, in the order of ``--ports`` if given, else sorted."""
    used = {c for cols in per_pod.values() for c in cols}
    if ports:
        return [c for c in dict.fromkeys(parse_ports(ports)) if c in used]
    return sorted(used)


def per_target_matrix(
    engine: PolicyEngine,
    sources: Sequence[PodModel],
    targets: Sequence[PodModel],
    per_pod: Mapping[str, Sequence[Column]],
    ports: str = "",
) -> Matrix:
    """The engine's verdicts from every source to each target on that target's columns
    only (``per_pod``, by pod id), merged into one matrix, column by column."""
    m = Matrix()
    for col in _column_order(per_pod, ports):
        tgts = [t for t in targets if col in per_pod.get(t.id, ())]
        if tgts:
            for cell, allowed in engine.matrix(sources, tgts, [col]).items():
                m[cell] = allowed
    return m


def deployed_matrix(clients: Clients, namespaces: Sequence[str], ports: str = "") -> Matrix:
    ns_models, pods, policies = read_world(clients, namespaces)
    engine = PolicyEngine(ns_models, pods, policies)
    return per_target_matrix(engine, pods, pods, report_columns(pods, ports), ports)


def report_deployed(clients: Clients, namespaces: Sequence[str], ports: str = "") -> str:
    m = deployed_matrix(clients, namespaces, ports)
    if not len(m):
        return "no running pods with declared ports in " + ", ".join(namespaces)
    allowed, blocked = m.counts()
    return (
        render(m, "implied by the deployed NetworkPolicies")
        + f"\n\n{allowed} allowed, {blocked} blocked"
    )


PROBE_POD = "probe"
PROBE_POLICY = f"{NAME}-probe-egress"


@dataclass
class Verification:
    expected: Matrix
    observed: Readings
    probe_namespace: str
    flapping: list[Cell]
    #: pods not probed: they declare no TCP port (among ``ports``, if given)
    skipped: list[str] = field(default_factory=list)
    ports: str = ""

    @property
    def ok(self) -> bool:
        return not self.observed.mismatches(self.expected) and not self.flapping

    def text(self) -> str:
        allowed, blocked = self.expected.counts()
        lines = [
            f"verified on live traffic from a probe pod in {self.probe_namespace} "
            f"(an unrelated namespace): {len(self.expected)} probe(s), "
            f"{allowed} expected allowed, {blocked} expected blocked",
            render_comparison(self.expected, self.observed),
        ]
        if self.skipped:
            among = f" among --ports {self.ports}" if self.ports else ""
            lines.append(
                f"not probed: {len(self.skipped)} pod(s) declaring no TCP port{among}: "
                + ", ".join(self.skipped)
            )
        bad = self.observed.mismatches(self.expected)
        if bad:
            refused = sum(1 for c in bad if self.observed.get(c) == REFUSED)
            lines.append(
                f"DISAGREE: {len(bad)} probe(s) differ from what the NetworkPolicies imply"
                + (
                    f" ({refused} refused: nothing listens on that declared port, or the CNI "
                    "rejects instead of dropping)"
                    if refused
                    else ""
                )
            )
        unpaired = unpaired_targets(self.expected)
        if unpaired:
            lines.append(
                f"note: {len(unpaired)} target port(s) were expected blocked with no allowed "
                "probe to the same pod and port; their timeouts alone do not prove enforcement "
                "(a dead server times out too): " + describe(unpaired[:5])
            )
        if self.flapping:
            lines.append(f"FLAPPING: {len(self.flapping)} probe(s) changed on confirmation")
        if not bad and not self.flapping:
            lines.append("AGREE: live traffic matches what the NetworkPolicies imply")
        return "\n".join(lines)


def verify_deployed(
    clients: Clients,
    namespaces: Sequence[str],
    image: str,
    ports: str = "",
    timeout: float = 1.0,
    deadline: float = 15.0,
) -> Verification:
    """Probe the deployed pods' TCP ports from a short-lived pod of a fresh namespace and
    compare with the oracle. Creates only that namespace; deletes it before returning."""
    from npconform.cluster.workload import (
        MANAGED_LABEL,
        PROBE_CONTAINER,
        RUN_LABEL,
        PodPlan,
        create_pods,
        delete_namespaces,
        ensure_namespace,
        wait_pods,
    )
    from npconform.probe.converge import converge
    from npconform.probe.engine import ProbeEngine
    from npconform.probe.script import Probe, Source

    ns_models, pods, policies = read_world(clients, namespaces)
    per_pod = probe_columns([p for p in pods if p.ip], ports)
    targets = [p for p in pods if p.id in per_pod]
    skipped = [p.id for p in pods if p.id not in per_pod]
    if not targets:
        among = f" among --ports {ports}" if ports else ""
        raise ValueError(f"nothing to verify: no running pod with a declared TCP port{among}")
    run_id = secrets.token_hex(3)
    probe_ns = f"{NAME}-{run_id}-deployed-probe"
    selector = f"{RUN_LABEL}={run_id}"
    engine = ProbeEngine(clients.new, timeout=timeout)
    try:
        ensure_namespace(clients, probe_ns, {}, run_id)
        egress = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": PROBE_POLICY,
                "namespace": probe_ns,
                "labels": {RUN_LABEL: run_id, MANAGED_LABEL: NAME},
            },
            # selects the probe pod (so a require-networkpolicy constraint admits it) and
            # lets it send anywhere: what it reaches is decided by the targets' policies
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
        }
        clients.net().create_namespaced_network_policy(probe_ns, egress)
        plan = PodPlan(probe_ns, PROBE_POD, {f"{NAME}.io/role": "deployed-probe"}, ports=())
        create_pods(clients, [plan], image, run_id, with_services=False)
        state = wait_pods(clients, [plan])[plan.id]
        ns_labels = dict(clients.core().read_namespace(probe_ns).metadata.labels or {})
        prober = PodModel(probe_ns, PROBE_POD, dict(plan.labels), state.ip)
        oracle = PolicyEngine(
            [*ns_models, NamespaceModel(probe_ns, ns_labels)],
            [*pods, prober],
            [*policies, egress],
        )
        expected = per_target_matrix(oracle, [prober], targets, per_pod, ports)
        src = Source(prober.id, probe_ns, PROBE_POD, PROBE_CONTAINER)
        ips = {t.id: str(t.ip) for t in targets}
        probes = {c: (src, Probe(c, ips[c.dst], c.port, c.protocol)) for c in expected}
        out = converge(engine, probes, expected, deadline=deadline)
        return Verification(expected, out.observed, probe_ns, out.flapping, skipped, ports)
    finally:
        engine.close()
        delete_namespaces(clients, selector, wait=60)
