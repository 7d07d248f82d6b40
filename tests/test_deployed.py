"""`npconform deployed`: bad input in one line before touching a cluster; the twin pod as
created (exact labels, never Ready, restricted, owned by the run's ConfigMap, a
deadline); the plan's bounds; reading the twin's rounds; and how live readings are
judged (arrived = connected or refused, blocked = timeout only, a blocked cell with no
arrived probe to its pod and port is unconfirmed, not claimed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from npconform.deployed import twins
from npconform.model.isolation import State, compute
from npconform.model.matrix import CONNECTED, REFUSED, TIMEOUT, Cell
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine
from npconform.model.tenants import TenantModel

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npconform.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "a>b:1"], "--only selects probes: use it with --verify or --plan"),
        (["--verify", "--only", "a/x>b/y"], "--only 'a/x>b/y': expected NS/POD>NS/POD:PORT"),
        (["--verify", "--max-probes", "0"], "--max-probes must be at least 1"),
        (
            ["--tenants", "/nonexistent/t.yaml"],
            "/nonexistent/t.yaml: cannot read: No such file or directory",
        ),
        (
            ["--json", "/nonexistent/dir/x.json"],
            "/nonexistent/dir/x.json: no such directory /nonexistent/dir",
        ),
    ],
)
def test_bad_input_is_one_line_before_touching_a_cluster(
    tmp_path: Path, args: list[str], message: str
) -> None:
    p = cli("--kubeconfig", str(tmp_path / "none"), "deployed", *args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [f"npconform: {message}"]


def test_verify_and_plan_exclude_each_other(tmp_path: Path) -> None:
    p = cli("--kubeconfig", str(tmp_path / "none"), "deployed", "--verify", "--plan")
    assert p.returncode == 2
    assert "not allowed with argument" in p.stderr


def test_missing_kubeconfig(tmp_path: Path) -> None:
    p = cli("--kubeconfig", str(tmp_path / "none"), "deployed", "--verify")
    assert p.returncode == 2
    assert p.stderr.strip() == f"npconform: kubeconfig {tmp_path / 'none'} does not exist"


def test_kubeconfig_is_accepted_before_and_after_the_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "none")
    for args in (("--kubeconfig", missing, "cleanup"), ("cleanup", "--kubeconfig", missing)):
        p = cli(*args)
        assert p.returncode == 2
        assert p.stderr.strip() == f"npconform: kubeconfig {missing} does not exist"


def _pod(ns: str, name: str, labels: dict[str, str], ip: str, *ports: tuple[int, str]) -> PodModel:
    return PodModel(
        ns, name, labels, ip, tuple(ContainerPort(p, proto, None) for p, proto in ports)
    )


def _iso(ready: bool = True):  # type: ignore[no-untyped-def]
    pods = [
        _pod(
            "a",
            "web-1",
            {"app": "web", "pod-template-hash": "x1"},
            "10.0.0.1",
            (8080, "TCP"),
            (53, "UDP"),
        ),
        _pod("a", "job-1", {"app": "job"}, "10.0.0.2"),
        _pod("b", "db-1", {"app": "db"}, "10.0.0.3", (5432, "TCP")),
    ]
    policies = [
        {
            "metadata": {"name": "db", "namespace": "b"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
        },
    ]
    state = State(
        namespaces={"a": {}, "b": {}},
        pods=pods,
        policies=policies,
        ready={p.id for p in pods} if ready else {"a/job-1", "b/db-1"},
    )
    return compute(state, TenantModel(platform_labels=()))


def test_plan_names_what_is_not_probed_and_keeps_its_bounds() -> None:
    iso = _iso()
    plan = twins.make_plan(iso, max_twins=10, max_probes=100)
    assert len(plan.twins) == 3 and plan.probes == 6  # 3 sources x (web:8080, db:5432)
    why = dict(plan.not_probed)
    assert why["a/job-1"] == "not probed: no declared port"
    assert why["a/web-1 53/UDP"] == "not probed: UDP is computed only"
    with pytest.raises(ValueError, match="6 probes exceed --max-probes 5"):
        twins.make_plan(iso, max_twins=10, max_probes=5)
    with pytest.raises(ValueError, match="3 twins exceed --max-twins 2"):
        twins.make_plan(iso, max_twins=2, max_probes=100)
    only = twins.make_plan(iso, 10, 100, only=["a/job-1>b/db-1:5432"])
    assert [(t.of.id, [x.pod.id for x in t.targets]) for t in only.twins] == [
        ("a/job-1", ["b/db-1"])
    ]


def test_a_target_without_a_ready_pod_is_not_probed() -> None:
    plan = twins.make_plan(_iso(ready=False), 10, 100)
    assert dict(plan.not_probed)["a/web-1"] == "not probed: no Ready pod to probe"


def test_the_twin_has_the_real_pods_labels_and_is_never_ready_nor_adopted() -> None:
    iso = _iso()
    plan = twins.make_plan(iso, 10, 100)
    tw = next(t for t in plan.twins if t.of.id == "a/web-1")
    pod = twins.twin_manifest(plan, tw, "agnhost:x", "uid-1")
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["labels"] == {"app": "web", "pod-template-hash": "x1"}  # exactly, nothing added
    assert meta["namespace"] == "a"
    owner = meta["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("ConfigMap", "uid-1", True)
    c = spec["containers"][0]
    assert "ports" not in c
    assert c["readinessProbe"]["exec"]["command"] == ["sh", "-c", "exit 1"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"]
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert 0 < spec["activeDeadlineSeconds"] <= 120
    assert "10.0.0.1 8080" in c["command"][2] and "10.0.0.3 5432" in c["command"][2]
    anchor = twins.anchor_manifest(plan, "a")
    assert anchor["metadata"]["labels"]["npconform.io/role"] == "twin-anchor"


def test_rounds_are_read_from_the_log_until_the_last_complete_one() -> None:
    iso = _iso()
    plan = twins.make_plan(iso, 10, 100)
    tw = plan.twins[0]
    log = (
        "NPC-ROUND 1\nNPC 0 0 1.0 1.1\nNPC 1 1 1.0 2.0\n"
        "NPC-OUT 1:nc: connect to 10.0.0.3 port 5432 (tcp) timed out\nNPC-END\n"
        "NPC-ROUND 2\nNPC 0 0 3.0 3.1\n"
    )
    rounds = twins._rounds(log, tw, 1.0)
    assert len(rounds) == 1
    assert sorted(rounds[0].values()) == [CONNECTED, TIMEOUT]


def _outcome(readings: dict[str, str]):  # type: ignore[no-untyped-def]
    """Judge one round per twin where ``readings`` maps 'src>dst' to an outcome."""
    iso = _iso()
    plan = twins.make_plan(iso, 10, 100)
    for tw in plan.twins:
        tw.ip = "10.9.9.9"
        rnd = {}
        for i, t in enumerate(tw.targets):
            rnd[Cell(str(i), "", *t.column)] = readings[f"{tw.of.name}>{t.pod.name}"]
        tw.rounds = [rnd, rnd]
    s = iso.state
    engine = PolicyEngine(
        [NamespaceModel(n, v) for n, v in s.namespaces.items()], s.pods, s.policies
    )
    return twins._compare(iso, plan, plan.twins, engine, [], lambda c, tw, t: "repeat", 1.0)


def test_connected_and_refused_both_mean_arrived_only_timeout_means_blocked() -> None:
    # expected: web:8080 open to all; db:5432 only from b (db-1 itself)
    ok = _outcome(
        {
            "web-1>web-1": CONNECTED,
            "job-1>web-1": REFUSED,
            "db-1>web-1": CONNECTED,
            "web-1>db-1": TIMEOUT,
            "job-1>db-1": TIMEOUT,
            "db-1>db-1": REFUSED,
        }
    )
    assert ok.verdict == "PASS", ok.text()
    leak = _outcome(
        {
            "web-1>web-1": CONNECTED,
            "job-1>web-1": CONNECTED,
            "db-1>web-1": CONNECTED,
            "web-1>db-1": REFUSED,
            "job-1>db-1": TIMEOUT,
            "db-1>db-1": CONNECTED,
        }
    )
    assert leak.verdict == "FAIL"
    assert [str(c) for c in leak.disagree] == ["a/web-1 -> b/db-1:5432/TCP"]
    assert "DISAGREE a/web-1 -> b/db-1:5432/TCP: expected blocked, observed refused" in leak.text()


def test_a_blocked_cell_without_an_arrived_twin_is_unconfirmed() -> None:
    dead = _outcome(
        {
            "web-1>web-1": CONNECTED,
            "job-1>web-1": CONNECTED,
            "db-1>web-1": CONNECTED,
            "web-1>db-1": TIMEOUT,
            "job-1>db-1": TIMEOUT,
            "db-1>db-1": TIMEOUT,
        }
    )
    # db-1's own twin lost its allowed probe (a disagreement); the two blocked cells to
    # db-1:5432 have no arrived probe to that pod and port: not claimed
    assert [str(c) for c in dead.disagree] == ["b/db-1 -> b/db-1:5432/TCP"]
    assert sorted(str(c) for c in dead.unconfirmed) == [
        "a/job-1 -> b/db-1:5432/TCP",
        "a/web-1 -> b/db-1:5432/TCP",
    ]


def test_an_error_is_never_a_verdict() -> None:
    err = _outcome(
        {
            "web-1>web-1": CONNECTED,
            "job-1>web-1": "error",
            "db-1>web-1": CONNECTED,
            "web-1>db-1": TIMEOUT,
            "job-1>db-1": TIMEOUT,
            "db-1>db-1": CONNECTED,
        }
    )
    assert err.verdict == "INCOMPLETE"
    assert [str(c) for c, _ in err.errors] == ["a/job-1 -> a/web-1:8080/TCP"]
