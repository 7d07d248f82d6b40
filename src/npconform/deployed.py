"""What is deployed: the reachability that the NetworkPolicies already in some namespaces
imply for the pods already there, computed by the oracle (nothing is created).

With an explicit opt-in (``verify_deployed``) part of it is checked on live traffic: one
short-lived probe pod, in a namespace of its own that carries the run label, probes every
deployed pod on its declared TCP ports, and what it sees must equal what the oracle says
a pod of an unrelated namespace may reach. Only that namespace and the objects in it are
created; they are deleted at the end, also on failure and Ctrl-C. Egress of the deployed
pods and UDP (which needs a server that answers) are computed, not probed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from npconform import NAME
from npconform.cluster.client import Clients, to_dict
from npconform.model.matrix import Cell, Matrix, render, render_comparison
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine


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


def _columns(pods: Sequence[PodModel], ports: str) -> list[tuple[int, str]]:
    if ports:
        return parse_ports(ports)
    return sorted({(cp.port, cp.protocol) for p in pods for cp in p.ports})


def deployed_matrix(clients: Clients, namespaces: Sequence[str], ports: str = "") -> Matrix:
    ns_models, pods, policies = read_world(clients, namespaces)
    engine = PolicyEngine(ns_models, pods, policies)
    return engine.matrix(pods, pods, _columns(pods, ports))


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
    observed: Matrix
    probe_namespace: str
    flapping: list[Cell]

    @property
    def ok(self) -> bool:
        return not self.expected.mismatches(self.observed) and not self.flapping

    def text(self) -> str:
        allowed, blocked = self.expected.counts()
        lines = [
            f"verified on live traffic from a probe pod in {self.probe_namespace} "
            f"(an unrelated namespace): {len(self.expected)} probe(s), "
            f"{allowed} expected allowed, {blocked} expected blocked",
            render_comparison(self.expected, self.observed),
        ]
        bad = self.expected.mismatches(self.observed)
        if bad:
            lines.append(
                f"DISAGREE: {len(bad)} probe(s) differ from what the NetworkPolicies imply "
                "(an expected-allowed port that nothing listens on also shows as blocked)"
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
    from npconform.probe.converge import converge
    from npconform.probe.engine import TCP, Probe, ProbeEngine, Source
    from npconform.workload import (
        MANAGED_LABEL,
        PROBE_CONTAINER,
        RUN_LABEL,
        PodPlan,
        create_pods,
        delete_namespaces,
        ensure_namespace,
        wait_pods,
    )

    ns_models, pods, policies = read_world(clients, namespaces)
    cols = [c for c in _columns(pods, ports) if c[1] == TCP]
    targets = [p for p in pods if p.ip]
    if not targets or not cols:
        raise ValueError("nothing to verify: no running pod with a declared TCP port")
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
        expected = oracle.matrix([prober], targets, cols)
        src = Source(prober.id, probe_ns, PROBE_POD, PROBE_CONTAINER)
        probes = {
            c: (src, Probe(c, str(t.ip), c.port, c.protocol))
            for t in targets
            for c in expected
            if c.dst == t.id
        }
        out = converge(engine, probes, expected, deadline=deadline)
        return Verification(expected, out.observed, probe_ns, out.flapping)
    finally:
        engine.close()
        delete_namespaces(clients, selector, wait=60)
