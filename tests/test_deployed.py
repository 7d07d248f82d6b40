"""`npconform deployed`: port parsing, bad input, and the verdict of a verification."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from npconform.deployed import (
    Verification,
    deployed_matrix,
    parse_ports,
    per_target_matrix,
    probe_columns,
    report_columns,
    verify_deployed,
)
from npconform.model.matrix import Cell, Matrix
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine

ROOT = Path(__file__).resolve().parents[1]


def test_parse_ports() -> None:
    assert parse_ports("8080/TCP, 53/udp,9000") == [(8080, "TCP"), (53, "UDP"), (9000, "TCP")]
    assert parse_ports("") == []
    for bad in ("http", "0/TCP", "70000", "80/ICMP"):
        with pytest.raises(ValueError, match=r"bad (port|protocol)"):
            parse_ports(bad)


# -- which pod is probed on which port --------------------------------------------------

WEB = PodModel("a", "web", {"app": "web"}, "10.0.0.1", (ContainerPort(80, "TCP", "http"),))
DB = PodModel(
    "a",
    "db",
    {"app": "db"},
    "10.0.0.2",
    (ContainerPort(5432, "TCP", "pg"), ContainerPort(5432, "UDP"), ContainerPort(9187)),
)
DNS = PodModel("a", "dns", {"app": "dns"}, "10.0.0.3", (ContainerPort(53, "UDP"),))
BARE = PodModel("a", "bare", {"app": "bare"}, "10.0.0.4")
PODS = [WEB, DB, DNS, BARE]


def test_each_pod_is_probed_on_its_own_ports_only() -> None:
    assert probe_columns([WEB, DB]) == {
        "a/web": [(80, "TCP")],
        "a/db": [(5432, "TCP"), (9187, "TCP")],
    }


def test_given_ports_intersect_each_pods_declared_ports() -> None:
    assert probe_columns([WEB, DB], "9187,80/tcp,8080") == {
        "a/web": [(80, "TCP")],
        "a/db": [(9187, "TCP")],
    }
    # a pod declaring none of the given ports is not probed
    assert probe_columns([WEB, DB], "5432") == {"a/db": [(5432, "TCP")]}
    assert probe_columns([WEB, DB], "8080") == {}


def test_udp_is_not_probed_live() -> None:
    assert probe_columns([DNS, DB]) == {"a/db": [(5432, "TCP"), (9187, "TCP")]}
    assert probe_columns([DNS, DB], "53/udp,5432/udp") == {}


def test_a_pod_without_declared_ports_is_skipped() -> None:
    assert "a/bare" not in probe_columns(PODS)
    assert "a/bare" not in report_columns(PODS)


def test_computed_report_shows_each_pod_on_its_declared_ports() -> None:
    assert report_columns(PODS) == {
        "a/web": [(80, "TCP")],
        "a/db": [(5432, "TCP"), (5432, "UDP"), (9187, "TCP")],
        "a/dns": [(53, "UDP")],
    }
    # with --ports every pod is computed on the given ports
    given = [(80, "TCP"), (53, "UDP")]
    assert report_columns(PODS, "80,53/udp") == {p.id: given for p in PODS}


def _deny_db_ingress() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "db", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]},
    }


def test_per_target_matrix_has_only_each_targets_columns() -> None:
    prober = PodModel("p", "probe", {}, "10.1.0.1")
    engine = PolicyEngine(
        [NamespaceModel("a", {}), NamespaceModel("p", {})], [*PODS, prober], [_deny_db_ingress()]
    )
    per_pod = probe_columns(PODS)
    m = per_target_matrix(engine, [prober], [WEB, DB], per_pod)
    assert dict(m.items()) == {
        Cell("p/probe", "a/web", 80): True,
        Cell("p/probe", "a/db", 5432): False,
        Cell("p/probe", "a/db", 9187): False,
    }
    assert m.columns() == [(80, "TCP"), (5432, "TCP"), (9187, "TCP")]
    # the column order of --ports is kept
    m = per_target_matrix(engine, [prober], [WEB, DB], probe_columns(PODS, "9187,80"), "9187,80")
    assert list(m) == [Cell("p/probe", "a/db", 9187), Cell("p/probe", "a/web", 80)]


def _fake_clients(pods: list[PodModel], policies: list[dict[str, Any]]) -> Any:
    """Clients whose API answers what read_world asks, from models (no cluster)."""

    def k8s_pod(p: PodModel) -> SimpleNamespace:
        ports = [
            SimpleNamespace(container_port=c.port, protocol=c.protocol, name=c.name)
            for c in p.ports
        ]
        return SimpleNamespace(
            metadata=SimpleNamespace(name=p.name, labels=dict(p.labels)),
            status=SimpleNamespace(phase="Running", pod_ip=p.ip),
            spec=SimpleNamespace(host_network=False, containers=[SimpleNamespace(ports=ports)]),
        )

    core = SimpleNamespace(
        read_namespace=lambda ns: SimpleNamespace(metadata=SimpleNamespace(labels={})),
        list_namespaced_pod=lambda ns: SimpleNamespace(
            items=[k8s_pod(p) for p in pods if p.namespace == ns]
        ),
    )
    net = SimpleNamespace(
        list_namespaced_network_policy=lambda ns: SimpleNamespace(
            items=[pol for pol in policies if pol["metadata"]["namespace"] == ns]
        )
    )
    return SimpleNamespace(core=lambda: core, net=lambda: net)


def test_deployed_matrix_shows_each_pod_on_its_declared_ports() -> None:
    m = deployed_matrix(_fake_clients([WEB, DB], [_deny_db_ingress()]), ["a"])
    assert {(c.dst, c.column) for c in m} == {
        ("a/web", (80, "TCP")),
        ("a/db", (5432, "TCP")),
        ("a/db", (5432, "UDP")),
        ("a/db", (9187, "TCP")),
    }
    assert m.sources() == ["a/web", "a/db"]
    assert m[Cell("a/web", "a/db", 5432)] is False
    assert m[Cell("a/db", "a/web", 80)] is True


def test_nothing_to_verify_before_anything_is_created() -> None:
    clients = _fake_clients([DNS, BARE], [])  # it has no create_* methods: nothing created
    with pytest.raises(
        ValueError, match=r"^nothing to verify: no running pod with a declared TCP port$"
    ):
        verify_deployed(clients, ["a"], "image")
    clients = _fake_clients([WEB, DB], [])
    with pytest.raises(ValueError, match=r"^nothing to verify: .* among --ports 8080$"):
        verify_deployed(clients, ["a"], "image", ports="8080")


def test_verification_names_the_pods_it_did_not_probe() -> None:
    v = Verification(Matrix({Cell("p/probe", "a/web", 80): True}), Matrix(), "p", [])
    assert "not probed" not in v.text()
    v = Verification(
        Matrix({Cell("p/probe", "a/web", 80): True}), Matrix(), "p", [], ["a/db"], "80"
    )
    assert "not probed: 1 pod(s) declaring no TCP port among --ports 80: a/db" in v.text()


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
