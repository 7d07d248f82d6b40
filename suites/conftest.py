"""The conformance suite. Its cluster is brought up once per run by the npconform plugin
(on the xdist controller when run with -n N) and torn down at the end."""

from __future__ import annotations

import os

import pytest

from npconform.cluster.client import Clients
from npconform.platform.target import RunState
from npconform.pytest_plugin import start_session


def pytest_sessionstart(session: pytest.Session) -> None:
    start_session(session)


@pytest.fixture(scope="session")
def clients(run_state: RunState) -> Clients:
    return run_state.clients()


@pytest.fixture(scope="session")
def worker_id_short() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")
