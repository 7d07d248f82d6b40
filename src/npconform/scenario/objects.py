"""What a scenario has: its namespaces, pods, services, external hosts and policies, on the
cluster and in the engine's model of it.

Scenarios speak in logical names (namespace ``x``, pod ``x/a``); the objects map them to
the run's real namespaces (``npconform-<run>-<worker>-<scenario>-x``) when they talk to
the API and back when they report, so matrices stay readable. They also build the
engine's model of themselves, so that every expectation is computed as well as written by
hand. The steps taken on them (probes, twins, evidence) are :mod:`npconform.scenario.world`.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from npconform import NAME
from npconform.cluster import workload
from npconform.cluster.client import Clients
from npconform.cluster.options import namespace_name
from npconform.cluster.workload import (
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
from npconform.model import pairing
from npconform.model.matrix import Matrix
from npconform.model.netpol import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    ExternalPeer,
    NamespaceModel,
    PodModel,
    PolicyEngine,
)
from npconform.platform.target import RunState
from npconform.probe.script import DNS
from npconform.scenario.externals import ExternalHost

Port = tuple[int, str]
ALL_PORTS: tuple[Port, ...] = tuple((p, proto) for p in DEFAULT_PORTS for proto in ("TCP", "UDP"))
POD_LABEL = f"{NAME}.io/pod"
ROLE_LABEL = f"{NAME}.io/role"
TWIN_NS = "twin"
TWIN = f"{TWIN_NS}/probe"
TWIN_POLICY = f"{NAME}-twin"


class ScenarioError(AssertionError):
    """The scenario is wrong (its expectation disagrees with the engine, or cannot be
    evidence): a bug of the test, not a verdict about the cluster."""


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
class ServicePeer:
    """A cluster service the scenario probes but does not own (e.g. kube-system/kube-dns)."""

    id: str
    ip: str
    labels: dict[str, str]
    ports: tuple[ContainerPort, ...]


class ScenarioObjects:
    def __init__(
        self,
        state: RunState,
        clients: Clients,
        scenario: str,
        worker: str = "gw0",
    ) -> None:
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
        self.externals: dict[str, ExternalHost] = {}
        self.services: dict[str, ServicePeer] = {}
        self._rr = itertools.cycle(state.capabilities.workers or [""])

    # -- names ---------------------------------------------------------------------------

    def real_ns(self, logical: str) -> str:
        return namespace_name(self.prefix, self.scenario, logical)

    def real_id(self, peer: str) -> str:
        if pairing.is_external(peer) or peer in self.services:
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
        real = self.real_ns(logical)
        self.ns_labels[logical] = labs
        self.ns_exempt[logical] = exempt
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
        # A Service per pod only when some probe goes through one: each costs every node's
        # kube-proxy (and the CNI) a rule update on creation, on every readiness change and
        # on deletion.
        services = self.state.options.probe_target != "pod"
        create_pods(self.clients, plans, self.image, self.state.options.run_id, services)
        if wait:
            states = wait_pods(self.clients, plans)
            for plan in plans:
                self.pod_state[self._logical_id(plan.id)] = states[plan.id]
            for h in self.externals.values():
                h.route([(states[p.id].ip, states[p.id].host_ip) for p in plans])
            if services:
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
        change_labels(p.labels, labels)

    def relabel_namespace(self, logical: str, labels: Mapping[str, str | None]) -> None:
        set_namespace_labels(self.clients, self.real_ns(logical), labels)
        change_labels(self.ns_labels[logical], labels)

    def add_external(self, host: ExternalHost) -> None:
        """A host outside the cluster; it gets a route to every pod of the world."""
        self.externals[host.name] = host
        host.route([(st.ip, st.host_ip) for st in self.pod_state.values()])

    def add_service(
        self, peer: str, ip: str, labels: Mapping[str, str], ports: Iterable[ContainerPort]
    ) -> None:
        """A service of the cluster (``"<namespace>/<name>"``, a real namespace) probed
        at ``ip``; its pods' ``labels`` let the engine evaluate policies about it."""
        self.services[peer] = ServicePeer(peer, ip, dict(labels), tuple(ports))

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
        """Create (or replace) the policies. Each is recorded before it is sent, so that
        ``delete_all_policies`` also removes those a failed call left on the cluster."""
        for p in policies:
            self.policies[(p["metadata"]["namespace"], p["metadata"]["name"])] = copy.deepcopy(
                dict(p)
            )
        workload.apply_policies(
            self.clients, [self._to_real(p) for p in policies], self.state.options.run_id
        )

    def delete(self, ns: str, name: str) -> None:
        delete_policy(self.clients, self.real_ns(ns), name)
        self.policies.pop((ns, name), None)

    def delete_all_policies(self) -> None:
        for ns, name in list(self.policies):
            if ns != TWIN_NS:
                self.delete(ns, name)

    # -- the engine's view ---------------------------------------------------------------

    def oracle(self, with_twins: bool = True) -> PolicyEngine:
        namespaces = [
            NamespaceModel(ns, {**labs, **(self.exemption if self.ns_exempt[ns] else {})})
            for ns, labs in self.ns_labels.items()
        ]
        pods = []
        for pid, p in self.pods.items():
            ports = [
                ContainerPort(port, proto, workload.port_name(port, proto, p.port_names.get(port)))
                for port in p.ports
                for proto in ("TCP", "UDP")
            ]
            st = self.pod_state.get(pid)
            pods.append(
                PodModel(
                    p.ns,
                    p.name,
                    {**p.labels, POD_LABEL: p.name},
                    st.ip if st else None,
                    tuple(ports),
                )
            )
        for s in self.services.values():
            ns, name = s.id.split("/", 1)
            pods.append(PodModel(ns, name, s.labels, None, s.ports))
        policies = [
            p
            for (ns, name), p in self.policies.items()
            if with_twins or not name.startswith(TWIN_POLICY)
        ]
        return PolicyEngine(namespaces, pods, policies)

    def computed(
        self, sources: Sequence[str], targets: Sequence[str], ports: Sequence[Port]
    ) -> Matrix:
        """What the engine says of every (source, target, port) of the world, for pods'
        own addresses; DNS columns are evaluated as UDP."""
        eng = self.oracle()
        peers = {pid: self._peer_from(eng, pid) for pid in {*sources, *targets}}
        out = Matrix()
        for port, proto in ports:
            as_proto = "UDP" if proto == DNS else proto
            m = eng.matrix(
                [peers[s] for s in sources], [peers[t] for t in targets], [(port, as_proto)]
            )
            for c, v in m.items():
                out[dataclasses.replace(c, protocol=proto)] = v
        return out

    def _peer_from(self, eng: PolicyEngine, pid: str) -> PodModel | ExternalPeer:
        if pairing.is_external(pid):
            e = self.externals[pid[4:]]
            return ExternalPeer(e.name, e.ip)
        return eng.pod(pid)


def change_labels(labels: dict[str, str], change: Mapping[str, str | None]) -> None:
    """Apply a label patch as the API server does: a value sets, None removes."""
    for k, v in change.items():
        if v is None:
            labels.pop(k, None)
        else:
            labels[k] = v


def _default_probe_image() -> str:
    from npconform.lock import load

    return load().image("agnhost")
