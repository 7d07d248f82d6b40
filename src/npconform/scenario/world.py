"""A scenario's steps on the cluster: each expected matrix is probed until it settles,
paired with allowed twins, checked against the engine, and recorded as evidence.

Every step is evidence only if each target port expected blocked also answers someone in
the same step (``npconform.model.pairing``): where a scenario has no such cell, the world
adds its *twin*, a probe pod in a namespace of its own that a test-only policy lets into
exactly those pods, and whose cells are expected allowed. What the world has (namespaces,
pods, policies, logical names) is :mod:`npconform.scenario.objects`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from npconform.cluster import workload
from npconform.cluster.client import Clients
from npconform.model import pairing
from npconform.model.matrix import DROP, POD, REJECT, SERVICE, Cell, Matrix, render_comparison
from npconform.model.netpol import INGRESS, NAMESPACE_NAME_LABEL, network_policy
from npconform.platform import diagnose
from npconform.platform.target import RunState
from npconform.probe.converge import converge
from npconform.probe.engine import ProbeEngine
from npconform.probe.script import Probe, Source
from npconform.scenario.objects import (
    ALL_PORTS,
    POD_LABEL,
    ROLE_LABEL,
    TWIN,
    TWIN_NS,
    TWIN_POLICY,
    PodDef,
    Port,
    ScenarioError,
    ScenarioObjects,
)
from npconform.scenario.step import ENGINE, HAND_AND_ENGINE, StepResult

__all__ = [
    "ALL_PORTS",
    "ROLE_LABEL",
    "TWIN",
    "PodDef",
    "ScenarioError",
    "World",
    "full_matrix",
]


class World(ScenarioObjects):
    """A scenario's objects and the steps taken on them."""

    def __init__(
        self,
        state: RunState,
        clients: Clients,
        scenario: str,
        worker: str = "gw0",
        record: Callable[[str, Any], None] | None = None,
    ) -> None:
        super().__init__(state, clients, scenario, worker)
        self.record = record
        self.engine = ProbeEngine(clients.api, timeout=state.options.probe_timeout)
        self.blocking = REJECT if state.options.deny_response == "reject" else DROP
        self.results: list[StepResult] = []
        self._reopened = 0  # steps whose blocked cells were seen open again (clear_policies)

    # -- the twin --------------------------------------------------------------------------

    def _twin_def(self) -> PodDef | None:
        """The twin's namespace and its policy, and the pod still to create (None when
        the twin exists)."""
        if TWIN in self.pods:
            return None
        self.namespace(TWIN_NS, {ROLE_LABEL: "twin"}, exempt=False)
        # Selects the twin (so a require-networkpolicy constraint admits it) and lets it
        # send anywhere: what it reaches is decided by the targets alone.
        self.apply(
            network_policy(
                TWIN_NS, TWIN_POLICY, {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
            )
        )
        return PodDef(TWIN_NS, "probe", {ROLE_LABEL: "twin"})

    def _ensure_twin(self) -> None:
        twin = self._twin_def()
        if twin is not None:
            self.add_pods([twin])

    def add_pods(self, pods: Iterable[PodDef], wait: bool = True, *, twin: bool = False) -> None:
        """As :meth:`ScenarioObjects.add_pods`; ``twin=True`` creates the twin with them
        (a world whose steps will need it: one wait for every pod instead of two)."""
        extra = self._twin_def() if twin else None
        super().add_pods([*pods, *([extra] if extra else [])], wait)

    def _reconcile_twin_policies(self, targets: Iterable[str]) -> None:
        """In each namespace, a policy letting the twin into exactly those of ``targets``
        that the scenario's own policies isolate for ingress (it changes nobody's
        isolation, and allows nothing but the twin's traffic); stale ones are removed."""
        eng = self.oracle(with_twins=False)
        want: dict[str, list[str]] = {}
        for t in targets:
            if t in self.pods and eng.isolated(eng.pod(t), INGRESS):
                ns, name = t.split("/", 1)
                want.setdefault(ns, []).append(name)
        for (ns, name), _ in list(self.policies.items()):
            if name == TWIN_POLICY and ns != TWIN_NS and ns not in want:
                self.delete(ns, name)
        for ns, names in want.items():
            spec = {
                "podSelector": {
                    "matchExpressions": [
                        {"key": POD_LABEL, "operator": "In", "values": sorted(set(names))}
                    ]
                },
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {NAMESPACE_NAME_LABEL: TWIN_NS}
                                },
                                "podSelector": {"matchLabels": {ROLE_LABEL: "twin"}},
                            }
                        ]
                    }
                ],
            }
            pol = network_policy(ns, TWIN_POLICY, spec)
            if self.policies.get((ns, TWIN_POLICY)) != pol:
                self.apply(pol)

    def _with_twins(self, expected: Matrix) -> tuple[Matrix, list[Cell]]:
        """``expected`` plus a twin cell, expected allowed, for every unpaired target port
        of a pod or an external host; the twin policies reconciled to match."""
        need = [t for t in pairing.unpaired(expected) if t[0] not in self.services]
        twin_targets = [t[0] for t in need]
        if need:
            self._ensure_twin()
        if need or any(name == TWIN_POLICY for ns, name in self.policies if ns != TWIN_NS):
            self._reconcile_twin_policies(twin_targets)
        if not need:
            return expected, []
        out = Matrix(dict(expected.cells))
        twins = []
        for dst, port, proto, via in need:
            c = Cell(TWIN, dst, port, proto, via)
            out[c] = True
            twins.append(c)
        return out, twins

    # -- probing -------------------------------------------------------------------------

    def source(self, pid: str) -> Source:
        if pairing.is_external(pid):
            e = self.externals[pid[4:]]
            return Source(pid, docker=e.container)
        p = self.pods[pid]
        return Source(pid, self.real_ns(p.ns), p.name, workload.PROBE_CONTAINER)

    def _vias(self, c: Cell) -> list[str]:
        """The addresses a cell is probed at: outside the cluster there is no kube-proxy
        (external hosts, and pods probing them, use pod IPs); a service peer has one."""
        if pairing.is_external(c.src) or pairing.is_external(c.dst) or c.dst in self.services:
            return [POD]
        mode = self.state.options.probe_target
        return {"pod": [POD], "service": [SERVICE], "both": [POD, SERVICE]}[mode]

    def host_of(self, c: Cell) -> str:
        """The address a cell's probe is sent to."""
        if c.dst in self.services:
            return self.services[c.dst].ip
        if pairing.is_external(c.dst):
            return self.externals[c.dst[4:]].ip
        return self.svc_ip[c.dst] if c.via == SERVICE else self.pod_state[c.dst].ip

    def probes_for(self, expected: Matrix) -> dict[Cell, tuple[Source, Probe]]:
        return {
            c: (self.source(c.src), Probe(c, self.host_of(c), c.port, c.protocol)) for c in expected
        }

    def expect(
        self,
        step: str,
        expected: Matrix,
        deadline: float = 30.0,
        *,
        computed: bool = False,
        scenario: str = "",
    ) -> StepResult:
        """Probe every cell of ``expected`` until it agrees (bounded), confirm, record the
        step as evidence, and fail with the matrices and the policies when the cluster
        disagrees. ``scenario``: the name the step is recorded under, when the world is
        shared by several (default: the world's own).

        Before anything is probed: a hand-written expectation must equal what the engine
        computes from the policies in force (``computed=True`` says the expectation *is*
        the engine's), cells between two external hosts are refused, and every target
        port expected blocked gets its allowed twin."""
        name = scenario or self.scenario
        off = pairing.off_cluster(expected)
        if off:
            raise ScenarioError(
                f"scenario {name!r}, step {step!r}: {len(off)} cell(s) never cross the "
                f"cluster, e.g. {off[0]}: not evidence, leave them out"
            )
        # The twin policies first: one left from an earlier step would isolate a pod that
        # the scenario's own policies no longer isolate.
        full, twins = self._with_twins(expected)
        if not computed:
            engine = self.computed(expected.sources(), expected.targets(), expected.columns())
            engine = engine.restrict(expected)
            if expected.mismatches(engine) or engine.mismatches(expected):
                raise ScenarioError(
                    f"scenario {name!r}, step {step!r}: the hand-written expectation "
                    "and the engine disagree (a scenario bug, not a cluster verdict)\n\n"
                    + render_comparison(expected, engine)
                )
        if twins:
            engine = self.computed([TWIN], full.targets(), full.columns()).restrict(twins)
            wrong = [c for c in twins if engine.get(c) is not True]
            if wrong:
                raise ScenarioError(
                    f"scenario {name!r}, step {step!r}: the twin cannot be let into "
                    f"{wrong[0].dst}:{wrong[0].port}/{wrong[0].protocol}"
                )
        try:
            pairing.check(full)
        except pairing.PairingError as e:
            raise ScenarioError(f"scenario {name!r}, step {step!r}: {e}") from None
        probed = Matrix(
            {dataclasses.replace(c, via=v): want for c, want in full.items() for v in self._vias(c)}
        )
        twin_cells = [c for c in probed if c.src == TWIN]
        probes = self.probes_for(probed)
        outcome = converge(self.engine, probes, probed, deadline=deadline, blocking=self.blocking)
        repro = [self.engine.repro(*probes[c]) for c in outcome.mismatches[:3]]
        result = StepResult(
            name,
            step,
            outcome,
            list(self.policies.values()),
            repro,
            ENGINE if computed else HAND_AND_ENGINE,
            twin_cells,
            {ns: self.real_ns(ns) for ns in self.ns_labels},
            applied=[self._to_real(p) for p in self.policies.values()],
        )
        self.results.append(result)
        if not outcome.ok:
            leaks = sum(1 for c in outcome.mismatches if outcome.observed.get(c) == "connected")
            result.causes = diagnose.traffic_causes(
                self.clients, leaks, len(outcome.mismatches) - leaks
            )
        if self.record is not None:
            self.record("scenario", result.to_json())
        if not outcome.ok:
            raise AssertionError(result.explain())
        return result

    # -- between tests in a shared world ---------------------------------------------------

    def clear_policies(self, deadline: float = 30.0) -> None:
        """Delete every policy of the world's own (``delete_all_policies``), then probe the
        cells that the steps taken since the last call expected blocked until each
        connects again (bounded), so that the next test never starts from a block the
        dataplane still enforces. Such a stale block can agree with the next step's
        expectation before that step's policies take effect, and read as a flapping cell
        once it lifts. Not evidence of anything; a cell still blocked at the deadline is an
        error naming it (the CNI kept enforcing a deleted policy)."""
        self.delete_all_policies()
        steps, self._reopened = self.results[self._reopened :], len(self.results)
        sources = {*self.pods, *(f"ext/{n}" for n in self.externals)}
        blocked = {
            c
            for r in steps
            for c, want in r.outcome.expected.items()
            if want is False and c.src in sources
        }
        if not blocked:
            return
        open_ = Matrix(dict.fromkeys(sorted(blocked), True))
        outcome = converge(
            self.engine,
            self.probes_for(open_),
            open_,
            deadline=deadline,
            confirm=False,
            blocking=self.blocking,
        )
        if outcome.mismatches:
            c = outcome.mismatches[0]
            raise RuntimeError(
                f"scenario {self.scenario!r}: {len(outcome.mismatches)} cell(s) still "
                f"{outcome.observed.get(c)} {deadline:.0f}s after every policy was deleted, "
                f"e.g. {c}"
            )

    # -- teardown ------------------------------------------------------------------------

    def close(self, wait: float = 0) -> None:
        """Delete this world's namespaces, and only them: another worker may be running
        the same scenario under its own prefix at this very moment."""
        self.engine.close()
        workload.delete_namespace_names(
            self.clients, [self.real_ns(n) for n in self.ns_labels], wait=wait
        )


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
