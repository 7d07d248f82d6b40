"""Harness pieces without a cluster: kind config, options, admission parsing, names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from npconform.cluster import kind
from npconform.cluster.options import RunOptions, UsageError
from npconform.cluster.workload import PodPlan, pod_manifest, serve_all_command
from npconform.gatekeeper import admission as adm
from npconform.platform.capabilities import Capabilities, exemption_label


def test_kind_config_nodes_and_host_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kind, "host_is_cgroup_v1", lambda: True)
    monkeypatch.setattr(kind, "host_lacks_sys_resource", lambda: True)
    cfg = kind.kind_config(RunOptions(workers=3))
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane", "worker", "worker", "worker"]
    assert cfg["networking"]["disableDefaultCNI"] is True
    assert any("failCgroupV1: false" in p for p in cfg["kubeadmConfigPatches"])
    assert any("restrict_oom_score_adj = true" in p for p in cfg["containerdConfigPatches"])


def test_kind_config_without_host_quirks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kind, "host_is_cgroup_v1", lambda: False)
    monkeypatch.setattr(kind, "host_lacks_sys_resource", lambda: False)
    cfg = kind.kind_config(RunOptions(workers=0))
    assert cfg["nodes"] == [{"role": "control-plane"}]
    assert not cfg.get("kubeadmConfigPatches")
    assert not cfg.get("containerdConfigPatches")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cni": "flannel"}, "unknown CNI 'flannel'"),
        ({"target": "gke"}, "unknown target 'gke'"),
        ({"expect_enforcement": "block"}, "unknown enforcement action"),
        ({"workers": 20}, "--kind-workers"),
        ({"probe_timeout": 0}, "--probe-timeout"),
        ({"target": "existing", "kubeconfig": Path("/nonexistent/kubeconfig")}, "does not exist"),
    ],
)
def test_bad_options_are_one_clear_line(changes: dict[str, Any], message: str) -> None:
    opts = RunOptions(**changes)
    with pytest.raises(UsageError, match=message) as e:
        opts.validate()
    assert "\n" not in str(e.value)


def test_options_round_trip_through_json() -> None:
    opts = RunOptions(target="existing", kubeconfig=Path("/k"), seed=7)
    assert RunOptions.from_json(opts.to_json()) == opts


def test_capabilities_round_trip_and_workers() -> None:
    from npconform.platform.capabilities import NodeInfo

    caps = Capabilities(
        nodes=[NodeInfo("cp", True, False, True, "1"), NodeInfo("w", True, True, False, "2")],
        exemption_label=("owner", "operator"),
    )
    back = Capabilities.from_json(caps.to_json())
    assert back == caps
    assert back.workers == ["w"]


def test_exemption_label_from_constraint() -> None:
    c = {
        "spec": {
            "match": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "owner", "operator": "NotIn", "values": ["operator"]}
                    ]
                }
            }
        }
    }
    assert exemption_label(c) == ("owner", "operator")
    assert exemption_label({"spec": {}}) is None


def test_parse_warnings() -> None:
    headers = {
        "Warning": '299 - "[require-networkpolicy] No matching networkpolicy found: a \\"b\\""'
    }
    assert adm.parse_warnings(headers) == [
        '[require-networkpolicy] No matching networkpolicy found: a "b"'
    ]
    assert adm.parse_warnings(None) == []


@pytest.mark.parametrize("kind_", list(adm.API_VERSIONS))
def test_workload_manifests_carry_the_pod_labels(kind_: str) -> None:
    m = adm.workload_manifest(kind_, "ns", "w", {"app": "x"}, "img:1", "run")
    if kind_ == "Pod":
        labels = m["metadata"]["labels"]
    elif kind_ == "CronJob":
        labels = m["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    else:
        labels = m["spec"]["template"]["metadata"]["labels"]
    assert labels["app"] == "x"


def _pod_spec(m: dict) -> dict:  # type: ignore[type-arg]
    if m["kind"] == "Pod":
        return m["spec"]  # type: ignore[no-any-return]
    if m["kind"] == "CronJob":
        return m["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return m["spec"]["template"]["spec"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind_", list(adm.API_VERSIONS))
def test_admission_pods_are_held_unless_a_test_claims_they_run(kind_: str) -> None:
    held = _pod_spec(adm.workload_manifest(kind_, "ns", "w", {"app": "x"}, "img:1", "run"))
    assert held["schedulingGates"] == [{"name": adm.ADMISSION_ONLY_GATE}]
    started = adm.workload_manifest(kind_, "ns", "w", {"app": "x"}, "img:1", "run", start=True)
    assert "schedulingGates" not in _pod_spec(started)


def test_admission_outcomes() -> None:
    denied = adm.Admission(
        "Pod", "ns", "p", False, [], "[require-networkpolicy] No matching networkpolicy found"
    )
    warned = adm.Admission(
        "Pod", "ns", "p", True, ["[require-networkpolicy] No matching networkpolicy found"]
    )
    assert denied.observed == "denied" and denied.names_constraint("require-networkpolicy")
    assert warned.observed == "warned" and warned.names_constraint("require-networkpolicy")
    assert adm.Admission("Pod", "ns", "p", True).observed == "admitted"


def test_probe_pods_meet_the_restricted_pod_security_standard() -> None:
    pod = pod_manifest(
        PodPlan("ns", "p", {"a": "b"}), "registry.k8s.io/e2e-test-images/agnhost:2.66.1", "run"
    )
    spec = pod["spec"]
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert ":" in c["image"] and not c["image"].endswith(":latest")


def test_a_wait_asks_again_at_least_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as _time

    from npconform.cluster import kube

    slept: list[float] = []
    monkeypatch.setattr(_time, "sleep", slept.append)
    answers = iter([None] * 6 + ["done"])
    assert kube.wait_until("it", lambda: next(answers), timeout=60, interval=2) == "done"
    assert slept and max(slept) <= 2 and slept[0] == 1


def test_a_probe_pod_is_one_container_serving_every_port() -> None:
    plan = PodPlan("ns", "p", {"a": "b"}, (8080, 8081), {8081: "web"})
    pod = pod_manifest(plan, "registry.k8s.io/e2e-test-images/agnhost:2.66.1", "run")
    (c,) = pod["spec"]["containers"]
    assert c["name"] == "probe"
    names = [p["name"] for p in c["ports"]]
    assert names == ["serve-8080-tcp", "serve-8080-udp", "web-8081-tcp", "web-8081-udp"]
    assert [(p["containerPort"], p["protocol"]) for p in c["ports"]] == [
        (8080, "TCP"),
        (8080, "UDP"),
        (8081, "TCP"),
        (8081, "UDP"),
    ]
    for port in plan.ports:
        assert f"--port={port} " in c["command"][2]
    # what the shell runs once Kubernetes has read "$$" as "$"
    assert c["command"][2].replace("$$", "$") == serve_all_command(plan.ports)
    assert "kill $$$$)" in c["command"][2]  # the shell's own PID, "$$"


def test_the_serving_shell_ends_when_any_server_ends() -> None:
    import contextlib
    import os
    import signal
    import subprocess
    import time

    from npconform.cluster.workload import serve_all_command

    cmd = serve_all_command([1, 2], lambda p: "sleep 0.3" if p == 1 else "sleep 30")
    t0 = time.monotonic()
    proc = subprocess.Popen(["sh", "-c", cmd], start_new_session=True)
    try:
        assert proc.wait(timeout=10) == 1
        assert time.monotonic() - t0 < 5, "the shell waited for the other server"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the other server, left behind
    with pytest.raises(ValueError, match="at least one port"):
        serve_all_command([])


@pytest.mark.parametrize("lock", ["network_lock", "constraint_lock"])
def test_an_exclusive_run_lock_waits_for_every_shared_holder(lock: str, tmp_path: Path) -> None:
    import threading
    import time as _time

    from npconform.cluster.options import RunOptions
    from npconform.platform.target import RunState

    state = RunState(RunOptions(run_id="abc123"), None, Capabilities(), workdir=tmp_path)
    other = RunState.from_json(state.to_json())  # another worker: the same lock file
    events: list[str] = []
    shared_in = threading.Event()
    release = threading.Event()

    def shared() -> None:
        with getattr(other, lock)(exclusive=False):
            events.append("shared in")
            shared_in.set()
            release.wait(5)
            events.append("shared out")

    def exclusive() -> None:
        shared_in.wait(5)
        with getattr(state, lock)(exclusive=True):
            events.append("exclusive in")

    threads = [threading.Thread(target=shared), threading.Thread(target=exclusive)]
    for t in threads:
        t.start()
    shared_in.wait(5)
    with getattr(state, lock)(exclusive=False):  # shared holders do not wait for each other
        events.append("second shared")
    _time.sleep(0.3)
    assert "exclusive in" not in events
    release.set()
    for t in threads:
        t.join(5)
    assert events == ["shared in", "second shared", "shared out", "exclusive in"]
