"""Fixtures of the traffic suite: a World per test (namespaces, probe pods, policies),
removed at the end, whose checks are recorded as evidence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from npconform.cluster.client import Clients
from npconform.session import RunState
from npconform.world import World


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
    for w in worlds:
        w.close()
