"""The scheduled run's pieces without a cluster: the rendered CronJob, the verdict
ConfigMap, the bundle archived into parts and fetched back (checked), the pruning of old
runs, the refusal of a second run, the exit status, and the suite image's recipe."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from tests.clirun import cli

from npconform import __version__
from npconform.airgap import recipes
from npconform.airgap.imageplans import SUITE_UID, image_plans
from npconform.cluster.client import forbidden
from npconform.cluster.options import RunOptions, UsageError
from npconform.incluster import job, publish
from npconform.incluster.install import Install, binding_name, render
from npconform.lock import load
from npconform.report.bundle import write_manifest

# -- rendering --------------------------------------------------------------------------


def rendered(**kw: Any) -> dict[str, list[dict[str, Any]]]:
    inst = Install(**kw)
    inst.validate(load())
    out: dict[str, list[dict[str, Any]]] = {}
    for d in render(inst):
        out.setdefault(d["kind"], []).append(d)
    return out


def test_render_sets_namespace_schedule_image_and_arguments() -> None:
    docs = rendered(
        namespace="nc",
        schedule="5 1 * * 0",
        pytest_args=["-k", "tenants"],
        namespace_labels=["owner=operator"],
    )
    (cj,) = docs["CronJob"]
    assert cj["metadata"]["namespace"] == "nc"
    assert cj["spec"]["schedule"] == "5 1 * * 0"
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    assert cj["spec"]["successfulJobsHistoryLimit"] >= 1
    assert cj["spec"]["failedJobsHistoryLimit"] >= 1
    job_spec = cj["spec"]["jobTemplate"]["spec"]
    assert job_spec["activeDeadlineSeconds"] == 3600 and job_spec["backoffLimit"] == 0
    pod = job_spec["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == load().image("npconform")
    assert c["args"] == ["--fail-on", "fail", "--keep", "7", "--", "-k", "tenants"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsUser"] == SUITE_UID
    assert c["resources"]["limits"] and c["resources"]["requests"]
    assert pod["serviceAccountName"] == docs["ServiceAccount"][0]["metadata"]["name"]
    (ns,) = docs["Namespace"]
    assert ns["metadata"]["name"] == "nc"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns["metadata"]["labels"]["owner"] == "operator"
    (np_,) = docs["NetworkPolicy"]
    labels = job_spec["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in np_["spec"]["podSelector"]["matchLabels"].items())
    assert [r["metadata"]["name"] for r in docs["ClusterRole"]] == ["npconform-verifier"]
    (b,) = docs["ClusterRoleBinding"]
    assert b["metadata"]["name"] == binding_name("nc", "npconform-verifier")
    assert b["subjects"] == [{"kind": "ServiceAccount", "name": "verifier", "namespace": "nc"}]
    assert all(d["metadata"].get("namespace", "nc") == "nc" for v in docs.values() for d in v)


def test_render_modes_pvc_and_fail_on() -> None:
    docs = rendered(modes=True, pvc="evidence", fail_on="incomplete", image="r.example:5000/n:1")
    assert {r["metadata"]["name"] for r in docs["ClusterRole"]} == {
        "npconform-verifier",
        "npconform-verifier-modes",
    }
    assert len(docs["ClusterRoleBinding"]) == 2
    pod = docs["CronJob"][0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "r.example:5000/n:1"
    assert c["args"][:2] == ["--fail-on", "incomplete"]
    assert c["args"][-1] == "--allow-cluster-changes"
    (reports,) = [v for v in pod["volumes"] if v["name"] == "reports"]
    assert reports == {"name": "reports", "persistentVolumeClaim": {"claimName": "evidence"}}


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("17 2 * * *", ""),
        ("*/15 0-6,22 1 jan-mar mon-fri", ""),
        ("@hourly", ""),
        ("99 2 * * *", "minute '99': '99' is not in 0-59"),
        ("0 24 * * *", "hour '24'"),
        ("0 0 0 * *", "day of month '0'"),
        ("0 0 * 13 *", "month '13'"),
        ("0 0 * * 8", "day of week '8'"),
        ("*/0 * * * *", "the step after / must be a positive number"),
        ("0 0 * * * *", "6 field(s)"),
        ("@sometimes", "1 field(s)"),
    ],
)
def test_cron_schedules(schedule: str, problem: str) -> None:
    from npconform.incluster.install import cron_problem

    got = cron_problem(schedule)
    assert (problem in got) if problem else got == "", got


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"schedule": "every night"}, "five cron fields"),
        ({"schedule": "99 99 * * *"}, "is not in 0-59"),
        ({"namespace": "Bad_NS"}, "not a DNS label"),
        ({"keep": 0}, "--keep"),
        ({"deadline": 5}, "--deadline"),
        ({"fail_on": "never"}, "--fail-on"),
        ({"image": "Bad Image!"}, "not an image reference"),
        ({"namespace_labels": ["owner"]}, "KEY=VALUE"),
        ({"namespace_labels": ["owner=a b"]}, "KEY=VALUE"),
    ],
)
def test_bad_install_options(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Install(**kw).validate(load())


def test_install_cronjob_dry_run_prints_and_bad_input_is_one_line() -> None:
    r = cli("install-cronjob", "--dry-run", "--schedule", "@daily", "--", "-k", "x")
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in __import__("yaml").safe_load_all(r.stdout)]
    assert kinds[-1] == "CronJob" and "Namespace" in kinds
    bad = cli("install-cronjob", "--dry-run", "--schedule", "nightly")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    # pytest arguments must follow --: an option given after them is not swallowed
    swallowed = cli("install-cronjob", "--dry-run", "suites/admission", "--schedule", "@daily")
    assert swallowed.returncode == 2, swallowed.stdout
    assert "pytest arguments go after --" in swallowed.stderr


def test_install_cronjob_refuses_an_image_missing_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from npconform.airgap import registry
    from npconform.incluster import install

    monkeypatch.setattr(registry, "remote_digest", lambda ref: None)
    inst = Install()
    inst.validate(load())
    with pytest.raises(UsageError, match="not in the local registry mirror"):
        install.check_image(inst, load())
    other = Install(image="registry.example/npconform:1")
    other.validate(load())
    install.check_image(other, load())  # the user's own registry: not checked


# -- publishing and fetching -------------------------------------------------------------


class FakeCore:
    """ConfigMaps of one namespace, as the API server keeps them."""

    def __init__(self) -> None:
        self.maps: dict[str, SimpleNamespace] = {}
        self.clock = 0

    def _obj(self, body: dict[str, Any]) -> SimpleNamespace:
        self.clock += 1
        md = body["metadata"]
        return SimpleNamespace(
            metadata=SimpleNamespace(
                name=md["name"],
                labels=dict(md.get("labels") or {}),
                creation_timestamp=dt.datetime(2026, 1, 1) + dt.timedelta(seconds=self.clock),
            ),
            data=dict(body.get("data") or {}),
            binary_data=dict(body.get("binaryData") or {}) or None,
        )

    def create_namespaced_config_map(self, ns: str, body: dict[str, Any]) -> None:
        if body["metadata"]["name"] in self.maps:
            raise ApiException(status=409)
        self.maps[body["metadata"]["name"]] = self._obj(body)

    def patch_namespaced_config_map(self, name: str, ns: str, body: dict[str, Any]) -> None:
        created = self.maps[name].metadata.creation_timestamp
        self.maps[name] = self._obj(body)
        self.maps[name].metadata.creation_timestamp = created

    def read_namespaced_config_map(self, name: str, ns: str) -> SimpleNamespace:
        if name not in self.maps:
            raise ApiException(status=404)
        return self.maps[name]

    def delete_namespaced_config_map(self, name: str, ns: str) -> None:
        del self.maps[name]

    def list_namespaced_config_map(self, ns: str, label_selector: str) -> SimpleNamespace:
        key, _, value = label_selector.partition("=")
        items = [
            m
            for m in self.maps.values()
            if key in m.metadata.labels and (not value or m.metadata.labels[key] == value)
        ]
        return SimpleNamespace(items=items)


class FakeClients:
    def __init__(self) -> None:
        self._core = FakeCore()

    def core(self) -> FakeCore:
        return self._core


def bundle(tmp: Path, run: str, verdict: str, size: int = 100) -> tuple[Path, dict[str, Any]]:
    d = tmp / run
    d.mkdir()
    results = {
        "run": {"id": run, "finished": "2026-12-06T23:00:00Z"},
        "identity": {"kube_system_uid": "uid-1"},
        "verdict": verdict,
        "verdict_reason": f"the reason of {run}",
        "controls": [
            {"id": "A.8.20", "verdict": "PASS"},
            {"id": "A.8.21", "verdict": "INCOMPLETE"},
            {"id": "A.8.22", "verdict": verdict},
        ],
        "checks": [
            {
                "id": "SEG-TENANTS",
                "status": "failed",
                "reason": "1 test failed",
                "required_by": [1],
            },
            {"id": "SEG-COMPONENTS", "status": "passed", "reason": "", "required_by": ["A"]},
            {"id": "NET-SCTP", "status": "skipped", "reason": "no SCTP", "required_by": []},
        ],
    }
    (d / "results.json").write_text(json.dumps(results))
    # incompressible bytes, so that the archive needs several parts
    (d / "report.html").write_bytes(__import__("os").urandom(size))
    (d / "junit.xml").write_text("<testsuites/>")
    write_manifest(d)
    return d, results


def in_parts(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, verdict: str, size: int
) -> tuple[Any, Path, publish.Summary]:
    """Run r1's bundle published in parts of 1000 bytes."""
    monkeypatch.setattr(publish, "PART_BYTES", 1000)
    c = FakeClients()
    d, results = bundle(tmp, "r1", verdict, size=size)
    return c, d, publish.publish(c, "ns", publish.summarize(results, "job-1"), d, keep=3)  # type: ignore[arg-type]


def test_publish_then_fetch_round_trip_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, s = in_parts(tmp_path, monkeypatch, "FAIL", 3500)
    assert s.parts >= 4  # 3.5 kB of random bytes, in parts of 1000
    cm = c.core().maps[publish.VERDICT_CONFIGMAP]
    assert cm.metadata.labels[publish.VERDICT_LABEL] == "FAIL"
    assert cm.metadata.labels[publish.FAILING_LABEL] == "A.8.21_A.8.22"
    assert cm.data["not-passed"] == "A.8.21 (INCOMPLETE) A.8.22 (FAIL)"
    assert cm.data["job"] == "job-1" and cm.data["cluster"] == "uid-1"
    assert cm.data["checks"] == "SEG-TENANTS failed: 1 test failed"
    assert publish.Summary.from_data(cm.data).checks == ["SEG-TENANTS failed: 1 test failed"]
    assert cm.data["bundle.sha256"] == s.sha256
    run, files, _ = publish.fetch(c, "ns", "", tmp_path / "out")
    assert run == "r1"
    assert files == ["SHA256SUMS", "junit.xml", "report.html", "results.json"]
    for f in files:
        assert (tmp_path / "out" / f).read_bytes() == (d / f).read_bytes()


def test_fetch_refuses_a_missing_or_altered_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    c, _, _ = in_parts(tmp_path, monkeypatch, "PASS", 2500)
    maps = c.core().maps
    part = maps[publish.part_name("r1", 1)]
    blob = bytearray(base64.b64decode(part.binary_data[publish.ARCHIVE]))
    blob[10] ^= 0xFF
    part.binary_data[publish.ARCHIVE] = base64.b64encode(bytes(blob)).decode()
    with pytest.raises(publish.FetchError, match="sha256") as e:
        publish.fetch(c, "ns", "r1", tmp_path / "out")
    assert e.value.corrupt
    del maps[publish.part_name("r1", 2)]
    with pytest.raises(publish.FetchError, match="missing: npconform-report-r1-2"):
        publish.fetch(c, "ns", "r1", tmp_path / "out")
    with pytest.raises(publish.FetchError, match="no bundle of run 'r9'"):
        publish.fetch(c, "ns", "r9", tmp_path / "out")


def test_fetch_leaves_out_alone_unless_the_bundle_checks_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, s = in_parts(tmp_path, monkeypatch, "PASS", 100)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an earlier fetch")
    # an archive whose hash is recorded but whose SHA256SUMS no longer matches a file
    (d / "junit.xml").write_text("<edited/>")
    monkeypatch.setattr(publish, "PART_BYTES", 10**6)
    publish.publish(c, "ns", s, d, keep=3)
    with pytest.raises(publish.FetchError, match=r"junit\.xml do not match SHA256SUMS") as e:
        publish.fetch(c, "ns", "", out)
    assert e.value.corrupt
    assert (out / "report.html").read_text() == "an earlier fetch"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out-")] == []
    (d / "SHA256SUMS").unlink()
    publish.publish(c, "ns", s, d, keep=3)
    with pytest.raises(publish.FetchError, match="no SHA256SUMS"):
        publish.fetch(c, "ns", "", out)


def test_the_last_run_is_checked_against_the_verdict_configmap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _, _ = in_parts(tmp_path, monkeypatch, "PASS", 100)
    d2, results2 = bundle(tmp_path, "r2", "PASS")
    publish.publish(c, "ns", publish.summarize(results2, "job-2"), d2, keep=3)
    c.core().maps[publish.VERDICT_CONFIGMAP].data["bundle.sha256"] = "0" * 64
    for last in ("", "r2"):  # the last run, by default or by name: the verdict's hash
        with pytest.raises(publish.FetchError, match="the run recorded 0000"):
            publish.fetch(c, "ns", last, tmp_path / "out")
    publish.fetch(c, "ns", "r1", tmp_path / "out")  # an earlier run: its parts' own record


def test_a_teardown_that_cannot_measure_does_not_hide_a_failure() -> None:
    from npconform.report.collect import Collector

    col = Collector()
    col.add("t::x", "setup", "passed", 0.1, ["traffic"], "")
    col.add("t::x", "call", "failed", 0.1, ["traffic"], "E   AssertionError: leak")
    forbidden_props = [("test_error", "Forbidden"), ("test_error_message", "missing permission")]
    col.add("t::x", "teardown", "failed", 0.1, ["traffic"], "E   403", forbidden_props)
    (o,) = col.to_json()
    assert o["outcome"] == "failed" and "test_error" not in o and "leak" in o["message"]
    col.add("t::y", "setup", "failed", 0.1, ["traffic"], "E   403", forbidden_props)
    y = col.to_json()[1]
    assert y["test_error"] == "Forbidden" and y["message"].startswith("E   missing permission")


def test_only_the_newest_runs_are_kept(tmp_path: Path) -> None:
    c: Any = FakeClients()
    for i in range(4):
        d, results = bundle(tmp_path, f"r{i}", "PASS")
        publish.publish(c, "ns", publish.summarize(results, ""), d, keep=2)
    kept = {m.metadata.labels[publish.RUN_LABEL] for n, m in c.core().maps.items() if "report" in n}
    assert kept == {"r2", "r3"}
    assert sorted(s.run for s in publish.runs(c, "ns")) == ["r2", "r3"]


def test_a_run_that_did_not_start_still_has_a_verdict(tmp_path: Path) -> None:
    c: Any = FakeClients()
    s = publish.Summary("job-9", "INCOMPLETE", "missing permission: x", publish.now(), job="j")
    publish.publish(c, "ns", s, None, keep=2)
    with pytest.raises(publish.FetchError, match="wrote no bundle: missing permission: x"):
        publish.fetch(c, "ns", "", tmp_path)


def test_no_verdict_yet() -> None:
    with pytest.raises(publish.FetchError, match="no scheduled run has finished"):
        publish.read_summary(FakeClients(), "ns")  # type: ignore[arg-type]


# -- the job ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "fail_on", "status"),
    [
        ("PASS", "fail", 0),
        ("FAIL", "fail", 1),
        ("INCOMPLETE", "fail", 0),
        ("INCOMPLETE", "incomplete", 3),
        ("FAIL", "incomplete", 1),
    ],
)
def test_exit_status(verdict: str, fail_on: str, status: int) -> None:
    assert job.exit_status(verdict, fail_on) == status


def _job(name: str, second: int, active: int) -> SimpleNamespace:
    return SimpleNamespace(
        metadata=SimpleNamespace(
            name=name, creation_timestamp=dt.datetime(2026, 1, 1, 0, 0, second)
        ),
        status=SimpleNamespace(active=active),
    )


@pytest.mark.parametrize(
    ("jobs", "me", "other"),
    [
        ([_job("a", 1, 1), _job("b", 2, 1)], "b", "a"),
        ([_job("a", 1, 1), _job("b", 2, 1)], "a", ""),  # the earlier run goes on
        ([_job("a", 1, 0), _job("b", 2, 1)], "b", ""),  # a has finished
        ([_job("a", 1, 1), _job("b", 1, 1)], "b", "a"),  # same second: by name
        ([_job("a", 1, 1)], "z", ""),  # not a Job of the CronJob
    ],
)
def test_one_run_at_a_time(jobs: list[SimpleNamespace], me: str, other: str) -> None:
    batch = SimpleNamespace(
        list_namespaced_job=lambda ns, label_selector: SimpleNamespace(items=jobs)
    )
    c: Any = SimpleNamespace(batch=lambda: batch)
    assert job.other_active_run(c, "ns", me) == other


def test_the_suite_or_the_paths_under_it() -> None:
    whole = job.pytest_argv(Path("/r"), ["-n", "2"])
    assert whole[3:6] == ["suites", "--target", "in-cluster"] and whole[-2:] == ["-n", "2"]
    some = job.pytest_argv(Path("/r"), ["suites/traffic/test_tenants.py", "-n", "2"])
    assert some.count("suites/traffic/test_tenants.py") == 1 and "suites" not in some


class JobClients(FakeClients):
    def __init__(self, jobs: list[SimpleNamespace] | None) -> None:
        super().__init__()
        self.jobs = jobs

    def batch(self) -> SimpleNamespace:
        def listed(ns: str, label_selector: str) -> SimpleNamespace:
            if self.jobs is None:
                raise ApiException(status=403, reason="Forbidden")
            return SimpleNamespace(items=self.jobs)

        return SimpleNamespace(list_namespaced_job=listed)


def run_job(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, clients: JobClients, results: Any
) -> tuple[int, list[str]]:
    """job.main with fake clients and a fake pytest; (exit status, verdicts published)."""
    seen: list[str] = []
    real_put = publish._put

    def put(c: Any, ns: str, body: dict[str, Any]) -> None:
        if body["metadata"]["name"] == publish.VERDICT_CONFIGMAP:
            seen.append(body["data"]["verdict"] + ": " + body["data"]["reason"])
        real_put(c, ns, body)

    def fake_pytest(report_dir: Path, args: Any) -> tuple[int, str]:
        if results is not None:
            (report_dir / "results.json").write_text(json.dumps(results))
            write_manifest(report_dir)
        return (0 if results else 4), "ERROR: npconform: missing permission: cannot list nodes"

    monkeypatch.setattr(publish, "_put", put)
    monkeypatch.setattr(job, "Clients", lambda kubeconfig: clients)
    monkeypatch.setattr(job, "run_pytest", fake_pytest)
    monkeypatch.setenv("JOB_NAME", "run-1")
    return job.main(tmp, "fail", 3, [], "ns"), seen


def test_a_job_publishes_that_it_started_then_its_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, results = bundle(tmp_path, "r1", "FAIL")
    status, seen = run_job(monkeypatch, tmp_path, JobClients([_job("run-1", 1, 1)]), results)
    assert status == 1
    assert seen[0].startswith("INCOMPLETE: run run-1 started at ")
    assert seen[1] == "FAIL: the reason of r1"


def test_a_job_that_did_not_start_fails_whatever_fail_on_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, seen = run_job(monkeypatch, tmp_path, JobClients([_job("run-1", 1, 1)]), None)
    assert status == 3
    assert seen[-1] == (
        "INCOMPLETE: the run did not start (pytest exit 4): "
        "npconform: missing permission: cannot list nodes"
    )


def test_a_job_that_cannot_check_for_another_run_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, seen = run_job(monkeypatch, tmp_path, JobClients(None), None)
    assert status == 3
    assert seen == [
        "INCOMPLETE: could not tell whether another run is active: (403)\nReason: Forbidden\n"
    ] or (len(seen) == 1 and seen[0].startswith("INCOMPLETE: could not tell whether another run"))


def test_last_reason_of_a_run_that_did_not_start() -> None:
    out = "collecting\nERROR: npconform: missing permission: pods is forbidden: cannot list\n"
    assert job._last_reason(out) == "npconform: missing permission: pods is forbidden: cannot list"
    assert job._last_reason("") == "pytest wrote no results"


def test_forbidden_tells_rbac_from_admission() -> None:
    rbac = ApiException(status=403, reason="Forbidden")
    rbac.body = json.dumps(
        {
            "message": 'pods is forbidden: User "system:serviceaccount:n:v" cannot create '
            'resource "pods" in API group "" in the namespace "x"'
        }
    )
    webhook = ApiException(status=403, reason="Forbidden")
    webhook.body = json.dumps({"message": 'admission webhook "validation.gatekeeper.sh" denied'})
    assert "cannot create resource" in forbidden(rbac)
    assert forbidden(webhook) == ""
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = rbac
    assert "cannot create" in forbidden(wrapped)


def test_in_cluster_target_needs_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(UsageError, match="runs inside a pod"):
        RunOptions(target="in-cluster").validate()
    with pytest.raises(UsageError, match="--kubeconfig is for --target existing"):
        RunOptions(target="in-cluster", kubeconfig=Path("k")).validate()


# -- the image -----------------------------------------------------------------------------


def test_suite_image_is_the_package_version_and_non_root() -> None:
    lock = load()
    assert lock.image("npconform") == f"npconform:{__version__}"
    (plan,) = [p for p in image_plans(lock) if p.key == "npconform"]
    assert plan.base == "rootfs:python"
    assert f"USER {SUITE_UID}:{SUITE_UID}" in plan.dockerfile
    assert "--no-index" in plan.dockerfile  # nothing fetched while the image is built
    assert plan.steps() == ["py:suite", "rootfs:python"]


def test_suite_wheels_are_the_pins_without_the_developer_tools() -> None:
    argv = recipes.pip_download_argv(load(), Path("/w"))
    pins = [a for a in argv if "==" in a]
    assert "pytest==" + load().python_pins["pytest"] in pins
    assert not [p for p in pins if p.split("==")[0] in recipes.DEV_ONLY]
    assert "--only-binary=:all:" in argv


def test_suite_sources_digest_follows_the_sources(tmp_path: Path) -> None:
    for name in recipes.SUITE_SOURCES:
        p = tmp_path / name
        if "." in Path(name).name:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(name)
        else:
            (p / "sub").mkdir(parents=True)
            (p / "sub" / "a.py").write_text("a")
    before = recipes.sources_digest(tmp_path)
    (tmp_path / "suites" / "sub" / "__pycache__").mkdir()
    (tmp_path / "suites" / "sub" / "__pycache__" / "a.pyc").write_text("x")
    assert recipes.sources_digest(tmp_path) == before
    (tmp_path / "suites" / "sub" / "a.py").write_text("b")
    assert recipes.sources_digest(tmp_path) != before
