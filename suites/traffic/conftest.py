"""Fixtures of the traffic suite: a World per test (namespaces, probe pods, policies),
removed at the end, whose checks are recorded as evidence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from npconform.cluster.client import Clients
from npconform.platform.target import RunState
from npconform.scenario.play import Played, play
from npconform.scenario.spec import Scenario
from npconform.scenario.world import World

from . import e2e_model


@pytest.fixture
def make_world(
    run_state: RunState,
    clients: Clients,
    worker_id_short: str,
    record_evidence: Callable[[str, Any], None],
) -> Iterator[Callable[[str], World]]:
    worlds: list[World] = []

    def make(scenario: str) -> World:
        w = World(run_state, clients, scenario, worker_id_short, record=record_evidence)
        worlds.append(w)
        return w

    yield make
    errors = []
    for w in worlds:
        try:
            w.close()
        except Exception as e:  # close every world, then report
            errors.append(f"{w.scenario}: {type(e).__name__}: {e}")
    if errors:
        raise RuntimeError("closing worlds failed: " + "; ".join(errors))


@pytest.fixture
def play_scenario(make_world: Callable[[str], World]) -> Callable[[Scenario], Played]:
    """Run a scenario (``npconform.scenario.spec``) in a world of its own."""

    def run(scenario: Scenario) -> Played:
        return play(make_world(scenario.name), scenario)

    return run


@pytest.fixture(scope="session")
def e2e_world(run_state: RunState, clients: Clients, worker_id_short: str) -> Iterator[World]:
    """The e2e model (``e2e_model``), built once per worker that runs semantics or
    generated cases or the SCTP check, and removed at the end of the session (the
    generated cases and the SCTP check run in the xdist groups of the semantics cases, so
    they build no world of their own). Each
    test that uses it starts and ends without policies."""
    yield from e2e_model.build(run_state, clients, worker_id_short)


@pytest.fixture
def fresh(e2e_world: World, record_evidence: Callable[[str, Any], None]) -> Iterator[World]:
    """The worker's e2e model with no policy, recording its steps as this test's evidence;
    every policy the test applied (a half-applied set included) is deleted after it, and
    the cells its steps expected blocked are seen open again (``World.clear_policies``)
    before the next test applies its own."""
    e2e_world.record = record_evidence
    e2e_world.clear_policies()
    yield e2e_world
    e2e_world.record = None
    e2e_world.clear_policies()
