"""The registry mirror is recreated when a container left running does not answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from npconform.airgap import docker, registry


class FakeEngine:
    def __init__(self, *, running: bool, answers_after_start: bool) -> None:
        self.running = running
        self.started = 0
        self.answers_after_start = answers_after_start
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], **_: Any) -> str:
        self.calls.append(list(argv))
        if argv[:2] == ["docker", "run"]:
            self.started += 1
            self.running = True
        return ""

    def get(self, path: str, method: str = "GET") -> object | None:
        return object() if self.started and self.answers_after_start else None


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    eng = FakeEngine(running=True, answers_after_start=True)
    monkeypatch.setattr(registry, "ensure_network", lambda log: None)
    monkeypatch.setattr(docker, "image_id", lambda ref: "sha256:want")
    monkeypatch.setattr(
        docker,
        "inspect",
        lambda name, kind: {"State": {"Running": eng.running}, "Image": "sha256:want"},
    )
    monkeypatch.setattr(registry, "run", eng.run)
    monkeypatch.setattr(registry, "_get", eng.get)
    monkeypatch.setattr(registry, "_answers_within", lambda s: eng.get("/v2/") is not None)
    return eng


def test_running_but_silent_registry_is_recreated(engine: FakeEngine, tmp_path: Path) -> None:
    registry.ensure_running("registry:3.0.0", tmp_path / "log")
    assert engine.started == 1
    assert ["docker", "rm", "-f", registry.NAME] in engine.calls
    assert "does not answer; recreating it" in (tmp_path / "log").read_text()


def test_registry_that_never_answers_is_an_error_naming_the_port(
    engine: FakeEngine, tmp_path: Path
) -> None:
    engine.answers_after_start = False
    with pytest.raises(
        docker.DockerError, match=r"did not answer on 127\.0\.0\.1:5001 \(docker port"
    ):
        registry.ensure_running("registry:3.0.0", tmp_path / "log")
