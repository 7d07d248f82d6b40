"""`npconform deployed`: bad input in one line before touching a cluster; the twin pod as
created (exact labels, never Ready, restricted, owned by the run's ConfigMap, a
deadline); the plan's bounds; reading the twin's rounds; and how live readings are
judged (arrived = connected or refused, blocked = timeout only, a blocked cell with no
arrived probe to its pod and port is unconfirmed, not claimed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.clirun import cli

from npconform.deployed import twins
from npconform.model.isolation import State, compute
from npconform.model.matrix import CONNECTED, REFUSED, TIMEOUT
from npconform.model.netpol import ContainerPort, NamespaceModel, PodModel, PolicyEngine
from npconform.model.tenants import TenantModel

ROOT = Path(__file__).resolve().parents[1]


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
    assert spec["restartPolicy"] == "OnFailure" and spec["automountServiceAccountToken"] is False
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
    assert rounds == [[CONNECTED, TIMEOUT]]


#: What agrees with the computation (web:8080 open to all; db:5432 only from b, i.e. db-1):
#: 'source pod>target pod' -> the outcome of its probe.
AGREE = {
    "web-1>web-1": CONNECTED,
    "job-1>web-1": CONNECTED,
    "db-1>web-1": CONNECTED,
    "web-1>db-1": TIMEOUT,
    "job-1>db-1": TIMEOUT,
    "db-1>db-1": CONNECTED,
}


def _outcome(  # type: ignore[no-untyped-def]
    changed: dict[str, str],
    before: dict[str, str] | None = None,
    reject: bool = False,
    restarted: str = "",
):
    """Judge two rounds per twin: the last one is :data:`AGREE` with ``changed``; the one
    before it the same, but for ``before``."""
    readings = {**AGREE, **changed}
    iso = _iso()
    plan = twins.make_plan(iso, 10, 100, reject=reject)
    for tw in plan.twins:
        tw.ip = "10.9.9.9"
        pairs = [f"{tw.of.name}>{t.pod.name}" for t in tw.targets]
        last = [readings[p] for p in pairs]
        tw.rounds = [[(before or {}).get(p, readings[p]) for p in pairs], last]
    plan.twins[0].restarts = restarted
    s = iso.state
    engine = PolicyEngine(
        [NamespaceModel(n, v) for n, v in s.namespaces.items()], s.pods, s.policies
    )
    return twins._compare(iso, plan, plan.twins, engine, [], lambda c, tw, t: "repeat", 1.0)


def test_connected_and_refused_both_mean_arrived_only_timeout_means_blocked() -> None:
    assert _outcome({}).verdict == "PASS"
    ok = _outcome({"job-1>web-1": REFUSED, "db-1>db-1": REFUSED})
    assert ok.verdict == "PASS", ok.text()
    leak = _outcome({"web-1>db-1": REFUSED})
    assert leak.verdict == "FAIL"
    assert [str(c) for c in leak.disagree] == ["a/web-1 -> b/db-1:5432/TCP"]
    assert "DISAGREE a/web-1 -> b/db-1:5432/TCP: expected blocked, observed refused" in leak.text()


def test_a_blocked_cell_without_an_arrived_twin_is_unconfirmed() -> None:
    dead = _outcome({"db-1>db-1": TIMEOUT})
    # db-1's own twin lost its allowed probe (a disagreement); the two blocked cells to
    # db-1:5432 have no arrived probe to that pod and port: not claimed
    assert [str(c) for c in dead.disagree] == ["b/db-1 -> b/db-1:5432/TCP"]
    assert sorted(str(c) for c in dead.unconfirmed) == [
        "a/job-1 -> b/db-1:5432/TCP",
        "a/web-1 -> b/db-1:5432/TCP",
    ]


def test_an_error_is_never_a_verdict() -> None:
    err = _outcome({"job-1>web-1": "error"})
    assert err.verdict == "INCOMPLETE"
    assert [str(c) for c, _ in err.errors] == ["a/job-1 -> a/web-1:8080/TCP"]


class _Resp:
    def __init__(self, doc: dict) -> None:  # type: ignore[type-arg]
        import json

        self.data = json.dumps(doc).encode()


def _forbidden() -> Exception:
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=403, reason="Forbidden")


class _FakeApi:
    """Lists that a verifier allowed to read namespaces a and b, but not c, would get."""

    def __init__(self) -> None:
        self.pods = {
            "a": [self._pod("a", "web", True)],
            "b": [self._pod("b", "db", False), self._pod("b", "node-agent", True, host=True)],
            "c": [self._pod("c", "secret", True)],
        }

    @staticmethod
    def _pod(ns: str, name: str, ready: bool, host: bool = False) -> dict:  # type: ignore[type-arg]
        sidecars = [
            {"restartPolicy": "Always", "ports": [{"containerPort": 9090, "name": "metrics"}]},
            {"ports": [{"containerPort": 7777}]},  # a plain init container: gone when it runs
        ]
        return {
            "metadata": {"namespace": ns, "name": name, "labels": {"app": name}},
            "spec": {
                "hostNetwork": host,
                "containers": [{"ports": [{"containerPort": 80}]}],
                "initContainers": sidecars,
            },
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        }

    def list_namespace(self, **kw: object) -> _Resp:
        return _Resp({"items": [{"metadata": {"name": n}} for n in "abc"], "metadata": {}})

    def list_pod_for_all_namespaces(self, **kw: object) -> _Resp:
        raise _forbidden()

    def list_namespaced_pod(self, ns: str, **kw: object) -> _Resp:
        if ns == "c":
            raise _forbidden()
        return _Resp({"items": self.pods[ns], "metadata": {}})

    def list_network_policy_for_all_namespaces(self, **kw: object) -> _Resp:
        raise _forbidden()

    def list_namespaced_network_policy(self, ns: str, **kw: object) -> _Resp:
        return _Resp({"items": [], "metadata": {}})


def test_a_namespace_the_reader_may_not_read_is_named_and_incomplete() -> None:
    from types import SimpleNamespace

    from npconform.deployed.read import read_state

    api = _FakeApi()
    clients = SimpleNamespace(core=lambda: api, net=lambda: api)
    state = read_state(clients)  # type: ignore[arg-type]
    assert state.unreadable == {"c": "pods: 403 Forbidden"}
    assert sorted(p.id for p in state.pods) == ["a/web", "b/db"]  # c's pod is not guessed
    assert state.ready == {"a/web"} and state.host_network == ["b/node-agent"]
    web = next(p for p in state.pods if p.id == "a/web")
    assert [(c.port, c.name) for c in web.ports] == [(80, None), (9090, "metrics")]
    # one tenant: nothing crosses a boundary, so only what was not read decides
    iso = compute(state, TenantModel(lists=(("t", ("a", "b", "c")),), platform_labels=()))
    assert iso.verdict == "INCOMPLETE"
    assert iso.to_json()["unreadable"] == [{"namespace": "c", "why": "pods: 403 Forbidden"}]


def test_an_error_in_the_round_before_is_not_flapping() -> None:
    out = _outcome({}, before={"job-1>web-1": "error"})
    assert out.verdict == "PASS" and not out.flapping, out.text()


def test_two_rounds_that_differ_are_flapping() -> None:
    out = _outcome({}, before={"web-1>web-1": TIMEOUT})
    assert out.verdict == "FAIL" and [str(c) for c in out.flapping] == [
        "a/web-1 -> a/web-1:8080/TCP"
    ]


def test_on_a_rejecting_cni_a_refusal_is_blocked() -> None:
    refusals = {"web-1>db-1": REFUSED, "job-1>db-1": REFUSED}
    assert _outcome(refusals).verdict == "FAIL"
    assert _outcome(refusals, reject=True).verdict == "PASS"


def test_a_twin_the_api_refused_leaves_the_result_incomplete() -> None:
    iso = _iso()
    plan = twins.make_plan(iso, 10, 100)
    s = iso.state
    engine = PolicyEngine(
        [NamespaceModel(n, v) for n, v in s.namespaces.items()], s.pods, s.policies
    )
    refused = [("twin of a/web-1", "refused by the API: exceeded quota")]
    out = twins._compare(iso, plan, [], engine, refused, lambda c, tw, t: "", 1.0)
    assert out.verdict == "INCOMPLETE"
    assert "NOT PROBED twin of a/web-1: refused by the API: exceeded quota" in out.text()


def test_a_tenant_named_platform_is_not_the_platform() -> None:
    pods = [
        _pod("platform", "p", {}, "10.0.0.1", (80, "TCP")),
        _pod("alpha", "a", {}, "10.0.0.2", (80, "TCP")),
    ]
    state = State(namespaces={"platform": {}, "alpha": {}}, pods=pods, ready={p.id for p in pods})
    iso = compute(state, TenantModel(platform_labels=()))
    assert iso.tenants == ["alpha", "platform (tenant)"]
    fails = sorted(f.subject for f in iso.findings if f.severity == "FAIL")
    assert fails == ["alpha/a (tenant alpha)", "platform/p (tenant platform (tenant))"]


def test_why_a_twin_ended_is_kept_before_it_is_deleted() -> None:
    pod = {
        "status": {
            "phase": "Failed",
            "reason": "DeadlineExceeded",
            "message": "Pod was active on the node longer than the specified deadline",
            "containerStatuses": [
                {"name": "other", "state": {"terminated": {"exitCode": 0}}},
                {
                    "name": twins.CONTAINER,
                    "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                },
            ],
        }
    }
    got = twins.ending(pod, "NPC-ROUND 1\nt 0 ok\n\nsh: nc: not found\n")
    assert got == (
        "; reason DeadlineExceeded; message Pod was active on the node longer than the "
        "specified deadline; exit code 137 (OOMKilled); log ends t 0 ok | sh: nc: not found"
    )
    assert twins.ending({"status": {}}, "") == ""
    assert len(twins.ending(pod, "x" * 2000)) == 400


def test_a_restarted_twin_says_so() -> None:
    pod = {
        "status": {
            "containerStatuses": [
                {
                    "name": twins.CONTAINER,
                    "restartCount": 1,
                    "lastState": {
                        "terminated": {
                            "exitCode": 128,
                            "reason": "StartError",
                            "message": "runc create failed: unable to freeze\n",
                        }
                    },
                }
            ]
        }
    }
    assert twins.restarts(pod) == (
        "its probe container restarted 1 time(s), last ended: exit code 128 (StartError): "
        "runc create failed: unable to freeze"
    )
    assert twins.restarts({"status": {"containerStatuses": [{"name": twins.CONTAINER}]}}) == ""
    out = _outcome({}, restarted="its probe container restarted 1 time(s)")
    first = out.restarted[0][0]
    assert f"RESTARTED {first}: its probe container restarted 1 time(s)" in out.text()
    assert out.to_json()["restarted"] == [
        {"what": first, "why": "its probe container restarted 1 time(s)"}
    ]
    assert first.startswith("twin of ") and out.verdict == "PASS"  # its rounds agree
