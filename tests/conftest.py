"""Fixtures shared by the tests of the results document (schema, diff, verdict command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_schema import as_json, make_run


@pytest.fixture
def healthy(tmp_path: Path) -> dict[str, Any]:
    """A finalized run of every check, all passing."""
    return as_json(make_run(tmp_path, "healthy"))


@pytest.fixture
def leaking(tmp_path: Path) -> dict[str, Any]:
    """The same run with one cell connected that the policies block."""
    return as_json(make_run(tmp_path, "leaking", leak=True))
