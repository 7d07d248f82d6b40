"""The run's cleanup: deletions are requested, not waited for, and the record says which
namespaces were still terminating and which (deletion refused or lost) are left."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from npconform import session
from npconform.cluster.options import RunOptions


def ns(name: str, terminating: bool) -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, deletion_timestamp="now" if terminating else None)
    )


def test_cleanup_does_not_wait_and_says_what_is_terminating(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    waits: list[float] = []

    def delete_namespaces(clients: Any, selector: str, wait: float = 0) -> list[str]:
        waits.append(wait)
        return ["r-a", "r-b", "r-c"]

    found = [ns("r-a", True), ns("r-b", True), ns("r-c", False)]
    core = SimpleNamespace(list_namespace=lambda label_selector: SimpleNamespace(items=found))
    monkeypatch.setattr(session, "delete_namespaces", delete_namespaces)
    monkeypatch.setattr(
        session, "Clients", lambda path, context: SimpleNamespace(core=lambda: core)
    )
    opts = RunOptions(run_id="r", target="existing", kubeconfig=str(kubeconfig))
    got = session.Session(opts, tmp_path).cleanup()
    assert waits == [0]
    assert got == {
        "selector": "npconform.io/run=r",
        "done": False,
        "removed": ["r-a", "r-b", "r-c"],
        "left": ["r-c"],
        "terminating": ["r-a", "r-b"],
    }
    found[2] = ns("r-c", True)
    assert session.Session(opts, tmp_path).cleanup()["done"] is True
