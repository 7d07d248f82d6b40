"""Fault injection runs on its own kind cluster, brought up like the suite's."""

import pytest

from npconform.pytest_plugin import start_session


def pytest_sessionstart(session: pytest.Session) -> None:
    start_session(session)
