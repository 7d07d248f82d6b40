"""Generated cases: seeded random NetworkPolicy sets over an e2e-style model; the traffic
the cluster lets through must equal what the oracle computes. A failure prints the seed,
the case and the policies to reproduce it (`--seed S --generated-cases N`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from npconform.model.generate import GeneratedCase, sample_cases
from npconform.model.netpol import PolicyEngine
from npconform.platform.target import RunState
from npconform.pytest_plugin import run_state_of
from npconform.scenario.objects import TWIN_NS
from npconform.scenario.world import TWIN, PodDef, World

pytestmark = [
    pytest.mark.traffic,
    pytest.mark.cluster,
    pytest.mark.xdist_group("generated"),
    pytest.mark.check("NET-GENERATED"),
]

PORTS = [(8080, "TCP"), (8081, "TCP"), (8080, "UDP"), (8081, "UDP")]
TEAMS = {"x": {"team": "red"}, "y": {"team": "blue"}, "z": {}}


def pod_labels(j: int, name: str) -> dict[str, str]:
    labels = {"pod": name}
    if j < 2:
        labels["app"] = ("web", "db")[j]
    return labels


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "index" in metafunc.fixturenames:
        state = run_state_of(metafunc.config)
        count = state.options.generated_cases if state else 0
        seed = state.options.seed if state else 0
        metafunc.parametrize(
            "index", range(count), ids=[f"seed{seed}-case{i}" for i in range(count)]
        )


@pytest.fixture(scope="module")
def module_world(run_state: RunState, clients, worker_id_short: str) -> Iterator[World]:
    w = World(run_state, clients, "generated", worker_id_short)
    try:
        for ns, labels in TEAMS.items():
            w.namespace(ns, labels)
        w.add_pods(
            [PodDef(ns, p, pod_labels(j, p)) for ns in TEAMS for j, p in enumerate("abc")],
            twin=True,
        )
        yield w
    finally:
        w.close()


@pytest.fixture
def gen_world(module_world: World, record_evidence) -> Iterator[World]:
    """The module's world, recording its steps as this test's evidence."""
    module_world.record = record_evidence
    yield module_world
    module_world.record = None


def cases(state: RunState, world: World) -> list[GeneratedCase]:
    """The seed's cases over the model's namespaces and pods: never the twin's, whose
    namespace and pod exist only to pair blocked cells (a policy there would test nothing
    and outlive its case)."""
    eng: PolicyEngine = world.oracle(with_twins=False)
    namespaces = [n for n in eng.namespaces if n.name != TWIN_NS]
    pods = [p for p in eng.pods if p.namespace != TWIN_NS]
    return sample_cases(state.options.seed, state.options.generated_cases, namespaces, pods)


def test_generated_case(index: int, gen_world: World, run_state: RunState) -> None:
    case = cases(run_state, gen_world)[index]
    gen_world.delete_all_policies()
    gen_world.apply(*case.policies)
    ids = [p for p in gen_world.pods if p != TWIN]
    want = gen_world.computed(ids, ids, PORTS)
    for c in [c for c in want if c.src == c.dst]:
        del want.cells[c]
    try:
        gen_world.expect(case.name, want, computed=True)
    except AssertionError as e:
        raise AssertionError(
            f"generated case {case.name} (seed {case.seed}, index {case.index}) disagrees with the "
            f"oracle; reproduce with `pytest suites/traffic/test_generated.py --seed {case.seed} "
            f"--generated-cases {case.index + 1} -k case{case.index}`\n"
            f"policies:\n{case.to_yaml()}\n{e}"
        ) from None
    finally:
        gen_world.delete_all_policies()
