"""The one interpreter of traffic scenarios (:mod:`npconform.scenario.spec`): creates the
scenario's namespaces, its initial policies and its pods in a :class:`World`, then takes
each step: its action, and the expected matrix probed until it settles and recorded as
evidence (:meth:`World.expect`, which also checks the expectation against the engine and
pairs every blocked cell with an allowed twin)."""

from __future__ import annotations

from dataclasses import dataclass, field

from npconform.model import pairing
from npconform.model.matrix import Cell, Matrix
from npconform.scenario.spec import Scenario, SpecError, Step, select
from npconform.scenario.step import StepResult
from npconform.scenario.world import World


@dataclass
class Played:
    """What a scenario's run left: each step's result, and its pods as they are now."""

    scenario: Scenario
    results: dict[str, StepResult] = field(default_factory=dict)
    #: logical pod id -> the id of the pod standing for it now (a recreated pod's is new)
    current: dict[str, str] = field(default_factory=dict)
    #: logical pod id -> (old IP, new IP) of each time it was recreated
    addresses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def step(self, name: str) -> StepResult:
        return self.results[name]


def expected(step: Step, ids: list[str], current: dict[str, str]) -> Matrix:
    """The step's expected matrix over its sources and targets: patterns are evaluated on
    logical ids, cells are written with the pods' current ids."""
    sources, targets = select(ids, step.sources), select(ids, step.targets)
    m = Matrix()
    for (port, proto), exp in step.columns():
        for s in sources:
            for t in targets:
                if s != t:
                    m[Cell(current[s], current[t], port, proto)] = exp.verdict(s, t)
    if not m.cells:
        raise SpecError(f"step {step.name!r}: no cell to probe")
    return m


def act(world: World, step: Step, played: Played) -> None:
    if step.apply:
        world.apply(*step.apply)
    for ref in step.delete:
        ns, _, name = ref.partition("/")
        world.delete(ns, name)
    for ns, labels in step.relabel_namespaces.items():
        world.relabel_namespace(ns, labels)
    for pid, plabels in step.relabel_pods.items():
        world.relabel_pod(played.current[pid], plabels)
    for pid, new_labels in step.recreate.items():
        new, old_ip, new_ip = world.recreate_pod(played.current[pid], new_labels)
        played.current[pid] = new
        played.addresses.setdefault(pid, []).append((old_ip, new_ip))


def play(world: World, scenario: Scenario) -> Played:
    """Run ``scenario`` in ``world``, step by step; the first step whose cluster
    disagrees with its expectation fails (AssertionError) with the matrices."""
    scenario.check()
    for ns in scenario.namespaces:
        world.namespace(ns.name, ns.labels, exempt=ns.exempt)
    if scenario.policies:
        world.apply(*scenario.policies)
    ids = [p.id for p in scenario.pods]
    # A step with a target port expected blocked and answering no one needs the twin:
    # create it with the pods (one wait for all of them).
    needs_twin = any(
        pairing.unpaired(expected(step, ids, {i: i for i in ids})) for step in scenario.steps
    )
    world.add_pods(scenario.pods, twin=needs_twin)
    played = Played(scenario, current={i: i for i in ids})
    for step in scenario.steps:
        act(world, step, played)
        played.results[step.name] = world.expect(step.name, expected(step, ids, played.current))
    return played
