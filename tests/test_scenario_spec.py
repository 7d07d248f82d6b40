"""Traffic scenarios as data: each expectation agrees with the engine before anything is
created, and a scenario that cannot run as written is refused up front."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from suites.traffic import scenarios

from npconform.cluster.client import Clients
from npconform.cluster.options import RunOptions
from npconform.model.expect import EVERYTHING, NOTHING, Expect, allowed_except, blocked_except
from npconform.model.matrix import Cell
from npconform.platform.capabilities import Capabilities
from npconform.platform.target import RunState
from npconform.scenario.objects import ROLE_LABEL, TWIN, TWIN_NS, PodDef, change_labels
from npconform.scenario.play import expected, play
from npconform.scenario.spec import Namespace, Scenario, SpecError, Step
from npconform.scenario.world import World

ALL = [
    scenarios.TENANTS_SCENARIO,
    scenarios.COMPONENTS_SCENARIO,
    scenarios.UPDATE_AND_DELETE,
    scenarios.RELABELLING,
    scenarios.RECREATION,
]


def offline_world(sc: Scenario) -> World:
    """The scenario's objects in a world that never talks to a cluster."""
    state = RunState(RunOptions(run_id="abc123"), Path("/nonexistent"), Capabilities())
    w = World(state, Clients(Path("/nonexistent")), sc.name, "gw0")
    for ns in sc.namespaces:
        w.ns_labels[ns.name] = dict(ns.labels)
        w.ns_exempt[ns.name] = ns.exempt
    w.pods = {p.id: PodDef(p.ns, p.name, dict(p.labels), p.ports) for p in sc.pods}
    for pol in sc.policies:
        w.policies[(pol["metadata"]["namespace"], pol["metadata"]["name"])] = dict(pol)
    return w


@pytest.mark.parametrize("sc", ALL, ids=[s.name for s in ALL])
def test_every_step_of_every_scenario_agrees_with_the_engine(sc: Scenario) -> None:
    """What the cluster run checks again before probing: a scenario bug fails here, in
    seconds, without a cluster. Actions that need a cluster (relabel, recreate) are
    applied to the model only."""
    sc.check()
    w = offline_world(sc)
    ids = [p.id for p in sc.pods]
    current = {i: i for i in ids}
    for step in sc.steps:
        for pol in step.apply:
            w.policies[(pol["metadata"]["namespace"], pol["metadata"]["name"])] = dict(pol)
        for ref in step.delete:
            ns, _, name = ref.partition("/")
            w.policies.pop((ns, name))
        for ns, labels in step.relabel_namespaces.items():
            change_labels(w.ns_labels[ns], labels)
        for pid, labels in step.relabel_pods.items():
            change_labels(w.pods[current[pid]].labels, labels)
        for pid, new_labels in step.recreate.items():
            old = w.pods.pop(current[pid])
            current[pid] = f"{old.id}-r"
            w.pods[current[pid]] = PodDef(
                old.ns, f"{old.name}-r", dict(new_labels if new_labels is not None else old.labels)
            )
        want = expected(step, ids, current)
        got = w.computed(want.sources(), want.targets(), want.columns()).restrict(want)
        assert not want.mismatches(got), f"{sc.name} / {step.name}: {want.mismatches(got)[:3]}"


def test_a_recreated_pod_is_named_by_its_new_id_and_matched_by_its_old_one() -> None:
    step = Step("s", {"80/TCP": blocked_except("y/c -> *")}, sources=["y/*"], targets=["x/s"])
    m = expected(step, ["x/s", "y/c", "y/d"], {"x/s": "x/s", "y/c": "y/c-r1", "y/d": "y/d"})
    assert m.cells == {Cell("y/c-r1", "x/s", 80, "TCP"): True, Cell("y/d", "x/s", 80, "TCP"): False}


def one_pod(**step: object) -> Scenario:
    return Scenario(
        "bad",
        [Namespace("x")],
        [PodDef("x", "a"), PodDef("x", "b")],
        [Step("s", **step)],  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ({"expect": {"80/tcp": NOTHING}}, "step 's': bad column '80/tcp' (want 8080/TCP)"),
        ({"expect": {"http/TCP": NOTHING}}, "bad column 'http/TCP'"),
        ({"expect": {"80/TCP": NOTHING}, "sources": ["y/*"]}, "sources ['y/*'] select no pod"),
        ({"expect": {"80/TCP": NOTHING}, "recreate": {"x/c": None}}, "step 's': no pod x/c"),
        (
            {"expect": {"80/TCP": NOTHING}, "relabel_namespaces": {"y": {}}},
            "step 's': no namespace y",
        ),
    ],
)
def test_a_scenario_that_cannot_run_is_refused_before_anything_is_created(
    step: dict[str, object], error: str
) -> None:
    with pytest.raises(SpecError, match=re.escape(error)):
        one_pod(**step).check()


class _Recording:
    """Just enough of a World for ``play``: it records the pods it is asked to create
    and the steps it is asked to check."""

    def __init__(self) -> None:
        self.twin: list[bool] = []
        self.steps: list[str] = []

    def namespace(self, *a: object, **k: object) -> None:
        pass

    def apply(self, *a: object) -> None:
        pass

    def add_pods(self, pods: object, wait: bool = True, *, twin: bool = False) -> None:
        self.twin.append(twin)

    def expect(self, name: str, m: object) -> None:
        self.steps.append(name)


@pytest.mark.parametrize(
    ("expect", "twin"),
    [
        (EVERYTHING, False),
        (NOTHING, True),  # nothing answers x/a nor x/b: only the twin can
        (allowed_except("x/a -> x/c"), False),  # x/b answers for x/c
        (allowed_except("x/a -> x/c", "x/b -> x/c"), True),
    ],
)
def test_the_twin_is_created_with_the_pods_when_a_blocked_port_answers_no_one(
    expect: Expect, twin: bool
) -> None:
    w = _Recording()
    sc = Scenario(
        "sc",
        [Namespace("x")],
        [PodDef("x", n) for n in "abc"],
        [Step("s", {"8080/TCP": expect})],
    )
    play(w, sc)  # type: ignore[arg-type]
    assert w.twin == [twin] and w.steps == ["s"]


def test_generated_cases_never_put_a_policy_in_the_twin_namespace() -> None:
    from suites.traffic import e2e_model
    from suites.traffic import test_generated as gen

    state = RunState(
        RunOptions(run_id="abc123", seed=1, generated_cases=50),
        Path("/nonexistent"),
        Capabilities(),
    )
    w = World(state, Clients(Path("/nonexistent")), "semantics", "gw0")
    for ns, labels in e2e_model.NAMESPACES.items():
        w.ns_labels[ns] = dict(labels)
        w.ns_exempt[ns] = False
    for pod in e2e_model.PODS:
        w.pods[pod.id] = pod
    w.ns_labels[TWIN_NS] = {ROLE_LABEL: "twin"}
    w.ns_exempt[TWIN_NS] = False
    w.pods[TWIN] = PodDef(TWIN_NS, "probe", {ROLE_LABEL: "twin"})
    policies = [p for case in gen.cases(state, w) for p in case.policies]
    assert policies and {p["metadata"]["namespace"] for p in policies} <= set(e2e_model.NAMESPACES)
