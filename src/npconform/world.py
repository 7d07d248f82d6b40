"""A scenario's world on the cluster: namespaces, probe pods, policies, and checks.

Scenarios speak in logical names (namespace ``x``, pod ``x/a``); the world maps them to
the run's real namespaces (``npconform-<run>-<worker>-x``) when it talks to the API and
back when it reports, so matrices stay readable. It also builds the oracle's model of
itself, so that every expectation can be computed as well as written by hand.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from npconform import NAME, workload
from npconform.cluster.client import Clients
from npconform.model.matrix import Cell, Matrix, render_comparison
from npconform.model.netpol import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    ExternalPeer,
    NamespaceModel,
    PodModel,
    PolicyEngine,
    dump_policies,
)
from npconform.platform import diagnose
from npconform.probe.converge import Outcome, converge
from npconform.probe.engine import DNS, Probe, ProbeEngine, Source
from npconform.session import RunState
from npconform.workload import (
    DEFAULT_PORTS,
    PodPlan,
    PodState,
    create_pods,
    delete_pod,
    delete_policy,
    ensure_namespace,
    service_ips,
    set_namespace_labels,
    wait_pods,
)

Port = tuple[int, str]
ALL_PORTS: tuple[Port, ...] = tuple((p, proto) for p in DEFAULT_PORTS for proto in ("TCP", "UDP"))


@dataclass
class PodDef:
    ns: str  # logical namespace
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = DEFAULT_PORTS
    port_names: dict[int, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.ns}/{self.name}"


@dataclass
class External:
    """A host outside the cluster: a container the suite runs on the kind network."""

    name: str
    docker: str
    ip: str

    @property
    def id(self) -> str:
        return f"ext/{self.name}"


@dataclass
class CheckResult:
    scenario: str
    step: str
    outcome: Outcome
    policies: list[dict[str, Any]]
    repro: list[str]
    oracle_agrees: bool | None = None
    causes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "scenario": self.scenario,
            "step": self.step,
            "ok": o.ok,
            "oracle_agrees": self.oracle_agrees,
            "converge_s": o.converge_seconds,
            "rounds": o.rounds,
            "round_s": o.probe_seconds,
            "flapping": [str(c) for c in o.flapping],
            "expected": o.expected.to_json(),
            "observed": o.observed.to_json(),
            "policies": self.policies,
            "repro": self.repro,
            "causes": self.causes,
        }

    def explain(self) -> str:
        o = self.outcome
        parts = [f"scenario {self.scenario!r}, step {self.step!r}"]
        parts.append(render_comparison(o.expected, o.observed))
        if o.flapping:
            parts.append(
                "flapping cells (changed in the confirmation pass): "
                + ", ".join(map(str, o.flapping[:10]))
            )
        parts.append(f"converged in {o.converge_seconds}s over {o.rounds} round(s)")
        if self.policies:
            parts.append("policies in force:\n" + dump_policies(self.policies))
        else:
            parts.append("policies in force: none")
        if self.repro:
            parts.append("repeat one failing probe with:\n  " + "\n  ".join(self.repro[:3]))
        if self.causes:
            parts.append("possible causes:\n  - " + "\n  - ".join(self.causes))
        return "\n\n".join(parts)


class World:
    def __init__(
        self,
        state: RunState,
        clients: Clients,
        scenario: str,
        worker: str = "gw0",
        record: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.record = record
        self.state = state
        self.clients = clients
        self.scenario = scenario
        self.prefix = f"{state.options.namespace_prefix}-{worker}"
        self.ns_labels: dict[str, dict[str, str]] = {}
        self.ns_exempt: dict[str, bool] = {}
        self.pods: dict[str, PodDef] = {}
        self.pod_state: dict[str, PodState] = {}
        self.svc_ip: dict[str, str] = {}
        self.policies: dict[tuple[str, str], dict[str, Any]] = {}
        self.externals: dict[str, External] = {}
        self.engine = ProbeEngine(clients.api, timeout=state.options.probe_timeout)
        self.results: list[CheckResult] = []
        self._rr = itertools.cycle(state.capabilities.workers or [""])

    # -- names ---------------------------------------------------------------------------

    def real_ns(self, logical: str) -> str:
        return f"{self.prefix}-{self.scenario}-{logical}"[:63].rstrip("-")

    def real_id(self, peer: str) -> str:
        if peer.startswith("ext/"):
            return peer
        ns, name = peer.split("/", 1)
        return f"{self.real_ns(ns)}/{name}"

    @property
    def exemption(self) -> dict[str, str]:
        """Traffic scenarios test the CNI, not admission: their namespaces carry the
        constraint's own exemption label so pods may exist without any policy."""
        lab = self.state.capabilities.exemption_label
        return {lab[0]: lab[1]} if lab else {}

    @property
    def image(self) -> str:
        """The probe pods' image: the run's option, else the pinned agnhost."""
        return self.state.options.probe_image or _default_probe_image()

    # -- building ------------------------------------------------------------------------

    def namespace(
        self, logical: str, labels: Mapping[str, str] | None = None, exempt: bool = True
    ) -> str:
        labs = dict(labels or {})
        self.ns_labels[logical] = labs
        self.ns_exempt[logical] = exempt
        real = self.real_ns(logical)
        ensure_namespace(
            self.clients,
            real,
            {
                **labs,
                **(self.exemption if exempt else {}),
                f"{NAME}.io/scenario": self.scenario[:63],
            },
            self.state.options.run_id,
        )
        return real

    def add_pods(self, pods: Iterable[PodDef], wait: bool = True) -> None:
        """Create pods spread round-robin over the schedulable nodes; wait until Ready."""
        plans = []
        for p in pods:
            self.pods[p.id] = p
            plans.append(
                PodPlan(
                    self.real_ns(p.ns),
                    p.name,
                    p.labels,
                    p.ports,
                    p.port_names,
                    next(self._rr) or None,
                )
            )
        image = self.image
        create_pods(self.clients, plans, image, self.state.options.run_id)
        if wait:
            states = wait_pods(self.clients, plans)
            for plan in plans:
                logical = self._logical_id(plan.id)
                self.pod_state[logical] = states[plan.id]
            self.svc_ip.update(
                {self._logical_id(k): v for k, v in service_ips(self.clients, plans).items()}
            )

    def _logical_id(self, real: str) -> str:
        ns, name = real.split("/", 1)
        for logical in self.ns_labels:
            if self.real_ns(logical) == ns:
                return f"{logical}/{name}"
        raise KeyError(real)

    def recreate_pod(
        self, pod_id: str, labels: Mapping[str, str] | None = None
    ) -> tuple[str, str, str]:
        """Replace a pod, as a controller would: the new one (maybe with new labels) is
        created under a new name before the old one is deleted, so its address differs.
        Returns (new pod id, old IP, new IP)."""
        old = self.pods[pod_id]
        n = sum(1 for p in self.pods if p.startswith(pod_id))
        new = PodDef(
            old.ns,
            f"{old.name}-r{n}",
            dict(labels if labels is not None else old.labels),
            old.ports,
            dict(old.port_names),
        )
        old_ip = self.pod_state[pod_id].ip
        self.add_pods([new])
        delete_pod(self.clients, self.real_ns(old.ns), old.name)
        del self.pods[pod_id]
        del self.pod_state[pod_id]
        return new.id, old_ip, self.pod_state[new.id].ip

    def relabel_pod(self, pod_id: str, labels: Mapping[str, str | None]) -> None:
        p = self.pods[pod_id]
        self.clients.core().patch_namespaced_pod(
            p.name, self.real_ns(p.ns), {"metadata": {"labels": dict(labels)}}
        )
        for k, v in labels.items():
            if v is None:
                p.labels.pop(k, None)
            else:
                p.labels[k] = v

    def relabel_namespace(self, logical: str, labels: Mapping[str, str | None]) -> None:
        set_namespace_labels(self.clients, self.real_ns(logical), labels)
        for k, v in labels.items():
            if v is None:
                self.ns_labels[logical].pop(k, None)
            else:
                self.ns_labels[logical][k] = v

    def add_external(self, name: str, docker_name: str, ip: str) -> None:
        self.externals[name] = External(name, docker_name, ip)

    # -- policies ------------------------------------------------------------------------

    def _to_real(self, policy: Mapping[str, Any]) -> dict[str, Any]:
        pol = copy.deepcopy(dict(policy))
        pol["metadata"]["namespace"] = self.real_ns(pol["metadata"]["namespace"])

        def fix(obj: Any) -> Any:
            if isinstance(obj, dict):
                out = {}
                for k, v in obj.items():
                    if k == "namespaceSelector" and isinstance(v, dict):
                        v = copy.deepcopy(v)
                        ml = v.get("matchLabels") or {}
                        if NAMESPACE_NAME_LABEL in ml:
                            ml[NAMESPACE_NAME_LABEL] = self._ns_value(ml[NAMESPACE_NAME_LABEL])
                        for e in v.get("matchExpressions") or []:
                            if e.get("key") == NAMESPACE_NAME_LABEL:
                                e["values"] = [self._ns_value(x) for x in e.get("values", [])]
                    out[k] = fix(v)
                return out
            if isinstance(obj, list):
                return [fix(x) for x in obj]
            return obj

        pol["spec"] = fix(pol.get("spec", {}))
        return pol

    def _ns_value(self, name: str) -> str:
        """A namespace name in a selector: the world's own namespaces are logical names;
        others (kube-system) are real."""
        return self.real_ns(name) if name in self.ns_labels else name

    def apply(self, *policies: Mapping[str, Any]) -> None:
        workload.apply_policies(
            self.clients, [self._to_real(p) for p in policies], self.state.options.run_id
        )
        for p in policies:
            self.policies[(p["metadata"]["namespace"], p["metadata"]["name"])] = copy.deepcopy(
                dict(p)
            )

    def delete(self, ns: str, name: str) -> None:
        delete_policy(self.clients, self.real_ns(ns), name)
        self.policies.pop((ns, name), None)

    def delete_all_policies(self) -> None:
        for ns, name in list(self.policies):
            self.delete(ns, name)

    # -- the oracle's view -----------------------------------------------------------------

    def oracle(self) -> PolicyEngine:
        namespaces = [
            NamespaceModel(ns, {**labs, **(self.exemption if self.ns_exempt[ns] else {})})
            for ns, labs in self.ns_labels.items()
        ]
        pods = []
        for pid, p in self.pods.items():
            ports = []
            for port in p.ports:
                for proto in ("TCP", "UDP"):
                    ports.append(
                        ContainerPort(
                            port, proto, workload.port_name(port, proto, p.port_names.get(port))
                        )
                    )
            st = self.pod_state.get(pid)
            pods.append(
                PodModel(
                    p.ns,
                    p.name,
                    {**p.labels, f"{NAME}.io/pod": p.name},
                    st.ip if st else None,
                    tuple(ports),
                )
            )
        return PolicyEngine(namespaces, pods, list(self.policies.values()))

    def computed(
        self, sources: Sequence[str], targets: Sequence[str], ports: Sequence[Port]
    ) -> Matrix:
        eng = self.oracle()
        peers = {pid: self._peer_from(eng, pid) for pid in {*sources, *targets}}
        return eng.matrix([peers[s] for s in sources], [peers[t] for t in targets], list(ports))

    def _peer_from(self, eng: PolicyEngine, pid: str) -> PodModel | ExternalPeer:
        if pid.startswith("ext/"):
            e = self.externals[pid[4:]]
            return ExternalPeer(e.name, e.ip)
        return eng.pod(pid)

    # -- probing -------------------------------------------------------------------------

    def source(self, pid: str) -> Source:
        if pid.startswith("ext/"):
            e = self.externals[pid[4:]]
            return Source(pid, docker=e.docker)
        p = self.pods[pid]
        return Source(pid, self.real_ns(p.ns), p.name, workload.PROBE_CONTAINER)

    def target_hosts(self, pid: str) -> list[str]:
        if pid.startswith("ext/"):
            return [self.externals[pid[4:]].ip]
        mode = self.state.options.probe_target
        hosts = []
        if mode in ("pod", "both"):
            hosts.append(self.pod_state[pid].ip)
        if mode in ("service", "both"):
            hosts.append(self.svc_ip[pid])
        return hosts

    def probes_for(self, expected: Matrix) -> dict[Cell, tuple[Source, Probe]]:
        out: dict[Cell, tuple[Source, Probe]] = {}
        for c in expected:
            # Outside the cluster there is no kube-proxy: external hosts probe pod IPs.
            host = (
                self.pod_state[c.dst].ip
                if c.src.startswith("ext/") and not c.dst.startswith("ext/")
                else self.target_hosts(c.dst)[0]
            )
            out[c] = (self.source(c.src), Probe(c, host, c.port, c.protocol))
        return out

    def check(
        self, step: str, expected: Matrix, deadline: float = 30.0, with_oracle: bool = True
    ) -> CheckResult:
        """Probe every cell of ``expected`` until it agrees (bounded), confirm, and record.

        With ``with_oracle`` the hand-written expectation must also equal what the oracle
        computes from the policies in force."""
        oracle_agrees = None
        if with_oracle:
            computed = self.computed(expected.sources(), expected.targets(), expected.columns())
            oracle_agrees = not computed.restrict(expected).mismatches(
                expected
            ) and not expected.mismatches(computed.restrict(expected))
        probes = self.probes_for(expected)
        outcome = converge(self.engine, probes, expected, deadline=deadline)
        repro = [self.engine.repro(*probes[c]) for c in outcome.mismatches[:3]]
        result = CheckResult(
            self.scenario, step, outcome, list(self.policies.values()), repro, oracle_agrees
        )
        self.results.append(result)
        return result

    def expect(self, step: str, expected: Matrix, deadline: float = 30.0) -> CheckResult:
        """``check``, failing with the matrices and the policies when the cluster or the
        oracle disagrees with the expectation."""
        r = self.check(step, expected, deadline)
        o = r.outcome
        if not o.ok:
            leaks = sum(1 for c in o.mismatches if o.observed.get(c))
            r.causes = diagnose.traffic_causes(self.clients, leaks, len(o.mismatches) - leaks)
        if self.record is not None:
            self.record("scenario", r.to_json())
        if r.oracle_agrees is False:
            computed = self.computed(expected.sources(), expected.targets(), expected.columns())
            raise AssertionError(
                f"scenario {self.scenario!r}, step {step!r}: the hand-written expectation and the "
                "oracle disagree (a scenario bug, not a cluster verdict)\n\n"
                + render_comparison(expected, computed.restrict(expected))
            )
        if not o.ok:
            raise AssertionError(r.explain())
        return r

    def dns_probe(self, pid: str, dns_ip: str) -> Probe:
        return Probe(Cell(pid, "kube-system/kube-dns", 53, "DNS"), dns_ip, 53, DNS)

    # -- teardown ------------------------------------------------------------------------

    def close(self, wait: float = 0) -> None:
        """Delete this world's namespaces, and only them: another worker may be running
        the same scenario under its own prefix at this very moment."""
        self.engine.close()
        workload.delete_namespace_names(
            self.clients, [self.real_ns(n) for n in self.ns_labels], wait=wait
        )


def _default_probe_image() -> str:
    from npconform.lock import load

    return load().image("agnhost")


def full_matrix(
    sources: Sequence[str],
    targets: Sequence[str],
    ports: Sequence[Port],
    allowed: bool = True,
    *,
    self_traffic: bool = False,
) -> Matrix:
    m = Matrix()
    for s in sources:
        for t in targets:
            if s == t and not self_traffic:
                continue
            for port, proto in ports:
                m[Cell(s, t, port, proto)] = allowed
    return m
