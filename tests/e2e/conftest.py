"""End-to-end tests run against a real cluster that the npconform plugin brings up."""

import pytest

from npconform.pytest_plugin import start_session


def pytest_sessionstart(session: pytest.Session) -> None:
    start_session(session)
