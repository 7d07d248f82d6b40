"""Hosts outside the cluster: their routes to the pods, added in one exec."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from npconform.scenario import externals
from npconform.scenario.externals import ROUTE_LOOP, ExternalHost


def test_routes_are_added_in_one_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], Any]] = []
    monkeypatch.setattr(externals, "run", lambda argv, input=None: calls.append((argv, input)))
    host = ExternalHost("one", "npconform-r-gw0-ext-one", "172.18.0.9")
    host.route([("10.244.1.5", "172.18.0.2"), ("10.244.2.6", "172.18.0.3")])
    host.route([])
    assert calls == [
        (
            ["docker", "exec", "-i", "npconform-r-gw0-ext-one", "sh", "-c", ROUTE_LOOP],
            "10.244.1.5/32 172.18.0.2\n10.244.2.6/32 172.18.0.3\n",
        )
    ]


def _loop(tmp_path: Path, ip_script: str, lines: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "ip"
    fake.write_text(f"#!/bin/sh\n{ip_script}\n")
    fake.chmod(0o755)
    return subprocess.run(
        ["sh", "-c", ROUTE_LOOP],
        input=lines,
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        check=False,
    )


def test_the_route_loop_adds_each_route(tmp_path: Path) -> None:
    log = tmp_path / "log"
    got = _loop(tmp_path, f'echo "$*" >> {log}', "10.0.0.1/32 172.18.0.2\n10.0.0.2/32 172.18.0.3\n")
    assert got.returncode == 0
    assert log.read_text().splitlines() == [
        "route replace 10.0.0.1/32 via 172.18.0.2",
        "route replace 10.0.0.2/32 via 172.18.0.3",
    ]


def test_the_route_loop_stops_at_the_first_failure(tmp_path: Path) -> None:
    log = tmp_path / "log"
    got = _loop(tmp_path, f'echo "$*" >> {log}; exit 2', "10.0.0.1/32 1.2.3.4\n10.0.0.2/32 x\n")
    assert got.returncode == 1
    assert log.read_text().splitlines() == ["route replace 10.0.0.1/32 via 1.2.3.4"]
