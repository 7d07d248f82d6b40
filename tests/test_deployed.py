"""`npconform deployed`: port parsing, bad input, and the verdict of a verification."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from npconform.deployed import Verification, parse_ports
from npconform.model.matrix import Cell, Matrix

ROOT = Path(__file__).resolve().parents[1]


def test_parse_ports() -> None:
    assert parse_ports("8080/TCP, 53/udp,9000") == [(8080, "TCP"), (53, "UDP"), (9000, "TCP")]
    assert parse_ports("") == []
    for bad in ("http", "0/TCP", "70000", "80/ICMP"):
        with pytest.raises(ValueError, match=r"bad (port|protocol)"):
            parse_ports(bad)


def _verification(observed_db: bool, flapping: bool = False) -> Verification:
    web, db = Cell("p/probe", "a/web", 80), Cell("p/probe", "a/db", 5432)
    expected = Matrix({web: True, db: False})
    observed = Matrix({web: True, db: observed_db})
    return Verification(expected, observed, "p", [web] if flapping else [])


def test_verification_agrees() -> None:
    v = _verification(observed_db=False)
    assert v.ok
    assert "AGREE" in v.text()


def test_verification_disagrees_when_a_blocked_port_answers() -> None:
    v = _verification(observed_db=True)
    assert not v.ok
    text = v.text()
    assert "DISAGREE: 1 probe(s)" in text
    assert "a/db" in text


def test_verification_flapping_is_a_failure() -> None:
    v = _verification(observed_db=False, flapping=True)
    assert not v.ok
    assert "FLAPPING" in v.text()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npconform.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_ports_exit_before_touching_a_cluster(tmp_path: Path) -> None:
    p = cli("--kubeconfig", str(tmp_path / "none"), "deployed", "--ports", "web", "ns")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "npconform: --ports: bad port 'web': expected NUMBER[/PROTOCOL]"
    ]


def test_missing_kubeconfig(tmp_path: Path) -> None:
    p = cli("--kubeconfig", str(tmp_path / "none"), "deployed", "--verify", "ns")
    assert p.returncode == 2
    assert "does not exist" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_kubeconfig_is_accepted_before_and_after_the_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "none")
    for args in (("--kubeconfig", missing, "cleanup"), ("cleanup", "--kubeconfig", missing)):
        p = cli(*args)
        assert p.returncode == 2
        assert p.stderr.strip() == f"npconform: kubeconfig {missing} does not exist"
