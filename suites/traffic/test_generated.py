"""Generated cases: seeded random NetworkPolicy sets over an e2e-style model; the traffic
the cluster lets through must equal what the oracle computes. They run on the e2e model
(``e2e_model``) that the semantics cases use, in the same worker. A failure prints the seed,
the case and the policies to reproduce it (`--seed S --generated-cases N`)."""

from __future__ import annotations

import pytest

from npconform.model.generate import GeneratedCase, sample_cases
from npconform.model.netpol import PolicyEngine
from npconform.platform.target import RunState
from npconform.pytest_plugin import run_state_of
from npconform.scenario.objects import TWIN_NS
from npconform.scenario.world import TWIN, World

from . import e2e_model

pytestmark = [
    pytest.mark.traffic,
    pytest.mark.cluster,
    pytest.mark.xdist_group(e2e_model.GENERATED_GROUP),
    pytest.mark.check("NET-GENERATED"),
]

PORTS = [(port, proto) for proto in ("TCP", "UDP") for port in e2e_model.PORTS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "index" in metafunc.fixturenames:
        state = run_state_of(metafunc.config)
        count = state.options.generated_cases if state else 0
        seed = state.options.seed if state else 0
        metafunc.parametrize(
            "index", range(count), ids=[f"seed{seed}-case{i}" for i in range(count)]
        )


def cases(state: RunState, world: World) -> list[GeneratedCase]:
    """The seed's cases over the model's namespaces and pods: never the twin's, whose
    namespace and pod exist only to pair blocked cells (a policy there would test nothing
    and outlive its case)."""
    eng: PolicyEngine = world.oracle(with_twins=False)
    namespaces = [n for n in eng.namespaces if n.name != TWIN_NS]
    pods = [p for p in eng.pods if p.namespace != TWIN_NS]
    return sample_cases(state.options.seed, state.options.generated_cases, namespaces, pods)


def test_generated_case(index: int, fresh: World, run_state: RunState) -> None:
    case = cases(run_state, fresh)[index]
    fresh.apply(*case.policies)
    ids = [p for p in fresh.pods if p != TWIN]
    want = fresh.computed(ids, ids, PORTS)
    for c in [c for c in want if c.src == c.dst]:
        del want.cells[c]
    try:
        fresh.expect(case.name, want, computed=True, scenario="generated")
    except AssertionError as e:
        raise AssertionError(
            f"generated case {case.name} (seed {case.seed}, index {case.index}) disagrees with the "
            f"oracle; reproduce with `pytest suites/traffic/test_generated.py --seed {case.seed} "
            f"--generated-cases {case.index + 1} -k case{case.index}`\n"
            f"policies:\n{case.to_yaml()}\n{e}"
        ) from None
