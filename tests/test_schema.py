"""The v2 results document's JSON Schema: documents the suite builds validate; wrong
verdicts, outcome classes and digests do not, one line per error.

The documents are built without a cluster: ``report.collect.build`` over a fake run state
(``RunState.to_json``'s keys), evidence written with ``append_evidence`` and
``write_collection``, and a filled ``Collector``, then ``verdict.rules.finalize``.
``make_run`` is shared with test_diff.py and test_cli_verdict.py.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from npconform.cluster.options import RunOptions
from npconform.model.matrix import CONNECTED, OUTCOMES, SERVICE, TIMEOUT, Cell, Matrix, Readings
from npconform.model.netpol import network_policy
from npconform.platform.capabilities import Capabilities, NodeInfo
from npconform.probe.converge import Outcome
from npconform.report import collect
from npconform.report.collect import Collector, append_evidence, build, write_collection
from npconform.report.document import dumps_results
from npconform.report.schema import load_schema, main, validate
from npconform.scenario.step import PROVENANCES, StepResult, policy_digest
from npconform.verdict.checks import CHECKS
from npconform.verdict.rules import CHECK_STATUSES, VERDICTS, finalize

RUN_ID = "a1b2c3"
SERVER = "https://172.18.0.2:6443"
KUBE_SYSTEM_UID = "0f6a3c1e-5b7d-4e2a-9c1b-2d3e4f5a6b7c"
SEMANTICS = "suites/traffic/test_semantics.py::test_category[default-deny]"
LEAK = Cell("x/a", "y/b", 80)


def nodeid(check: str) -> str:
    if check == "NET-SEMANTICS":
        return SEMANTICS
    return f"suites/{area(check)}/test_{check.lower().replace('-', '_')}.py::test_check"


def area(check: str) -> str:
    prefix = check.split("-", 1)[0]
    return {"ADM": "admission", "NET": "traffic", "SEG": "traffic", "SMOKE": "smoke"}.get(
        prefix, "other"
    )


policy = network_policy


DENY_Y = policy("y", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})
TWIN_Y = policy(
    "y",
    "npconform-twin",
    {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "twin"}}}]}],
    },
)
SAME_X = policy(
    "x",
    "allow-same-namespace",
    {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
)


def step_json(
    scenario: str,
    step: str,
    expected: dict[Cell, bool],
    policies: list[dict[str, Any]],
    leak: Cell | None = None,
    twins: tuple[Cell, ...] = (),
) -> dict[str, Any]:
    """A traffic step as the world records it: every cell observed as expected (allowed
    connected, blocked timed out), except ``leak``, which connected."""
    observed = Readings()
    for c, want in expected.items():
        observed[c] = CONNECTED if want else TIMEOUT
    if leak is not None:
        observed[leak] = CONNECTED
    outcome = Outcome(
        Matrix(dict(expected)),
        observed,
        converge_seconds=1.4,
        rounds=2,
        probe_seconds=[0.8, 0.6],
        details={leak: "HTTP 200 from y/b"} if leak is not None else {},
    )
    repro = ["kubectl exec -n npconform-x a -- /agnhost connect y-b:80"] if leak else []
    return StepResult(
        scenario,
        step,
        outcome,
        copy.deepcopy(policies),
        repro,
        twins=list(twins),
        namespaces={ns: f"npconform-{RUN_ID}-gw0-{scenario}-{ns}" for ns in ("x", "y", "twin")},
    ).to_json()


def traffic_steps(leak: bool = False) -> list[dict[str, Any]]:
    twin = Cell("twin/probe", "y/b", 80)
    deny = {
        Cell("x/a", "x/b", 80): True,
        LEAK: False,
        Cell("x/b", "y/b", 80): False,
        Cell("y/b", "x/a", 81, "UDP"): True,
        Cell("x/a", "x/b", 80, "TCP", SERVICE): True,
        twin: True,
    }
    same = {
        Cell("x/a", "x/b", 80): True,
        Cell("y/b", "x/a", 80): False,
        Cell("x/b", "x/a", 81, "UDP"): True,
    }
    return [
        step_json(
            "semantics",
            "default deny",
            deny,
            [DENY_Y, TWIN_Y],
            LEAK if leak else None,
            (twin,),
        ),
        step_json("semantics", "allow same namespace", same, [DENY_Y, TWIN_Y, SAME_X]),
    ]


def artifacts(constraint_action: str = "deny") -> list[dict[str, Any]]:
    def obj(kind: str, name: str, ns: str | None, body: Any) -> dict[str, Any]:
        sha = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return {
            "kind": kind,
            "name": name,
            **({"namespace": ns} if ns else {}),
            "sha256": sha,
            "content": body,
        }

    return [
        obj(
            "K8sRequireNetworkPolicy",
            "require-networkpolicy",
            None,
            {"enforcementAction": constraint_action, "match": {"kinds": [{"kinds": ["Pod"]}]}},
        ),
        obj("Config", "config", "gatekeeper-system", {"sync": {"syncOnly": []}}),
    ]


def make_run(
    tmp_path: Path,
    name: str = "run",
    *,
    leak: bool = False,
    server: str = SERVER,
    kube_system_uid: str = KUBE_SYSTEM_UID,
    deselect: tuple[str, ...] = (),
    gatekeeper: str = "v3.21.0",
    steps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A finalized v2 document of a run on a (fake) cluster: one test per registered
    check, all passed (SCTP skipped), two traffic steps of NET-SEMANTICS; ``leak`` turns
    one expected-blocked cell of the first step into a connection (and its test fails);
    checks in ``deselect`` are deselected."""
    workdir = tmp_path / name
    evidence = workdir / "evidence"
    evidence.mkdir(parents=True)
    ids = {c.id: nodeid(c.id) for c in CHECKS}
    deselected = [ids[c] for c in deselect]
    write_collection(
        evidence,
        "main",
        {
            "args": ["suites"],
            "collected": [{"nodeid": n, "check": c} for c, n in ids.items()],
            "deselected": deselected,
            "narrowed": [],
        },
    )
    records = [("scenario", s) for s in (steps if steps is not None else traffic_steps(leak))]
    append_evidence(evidence, "gw0", SEMANTICS, records)
    append_evidence(
        evidence,
        "gw1",
        ids["ADM-REFUSE-POD"],
        [
            (
                "admission",
                [
                    {
                        "case": "pod without policy",
                        "kind": "Pod",
                        "namespace": f"npconform-{RUN_ID}-gw1-adm",
                        "expected": "denied",
                        "observed": "denied",
                        "ok": True,
                        "message": "[require-networkpolicy] No matching networkpolicy found",
                    }
                ],
            )
        ],
    )
    append_evidence(
        evidence,
        "gw1",
        ids["ADM-AUDIT"],
        [
            (
                "audit_violations",
                [
                    {
                        "enforcementAction": "deny",
                        "kind": "Pod",
                        "name": "old-pod",
                        "namespace": f"npconform-{RUN_ID}-gw1-audit",
                        "message": "No matching networkpolicy found",
                    }
                ],
            )
        ],
    )
    append_evidence(
        evidence,
        "gw0",
        ids["NET-SCTP"],
        [
            (
                "not_tested",
                {
                    "what": "SCTP NetworkPolicy rules",
                    "reason": "the nodes' kernel has no SCTP support",
                    "required": False,
                    "area": "traffic",
                },
            )
        ],
    )
    collector = Collector()
    for cid, n in ids.items():
        if n in deselected:
            continue
        props = [("check", cid)]
        kw = [area(cid)]
        collector.add(n, "setup", "passed", 0.01, kw, "", props)
        if cid == "NET-SCTP":
            collector.add(n, "call", "skipped", 0.0, kw, "SCTP not testable", props)
        elif cid == "NET-SEMANTICS" and leak:
            collector.add(n, "call", "failed", 3.2, kw, "E   AssertionError: leak", props)
        else:
            collector.add(n, "call", "passed", 1.5, kw, "", props)
        collector.add(n, "teardown", "passed", 0.01, kw, "", props)
    caps = Capabilities(
        kubernetes_version="v1.34.1",
        nodes=[
            NodeInfo("npconform-control-plane", True, False, True, "172.18.0.2"),
            NodeInfo("npconform-worker", True, True, False, "172.18.0.3"),
        ],
        cni="calico",
        gatekeeper_version=gatekeeper,
        constraint_crd=True,
        constraint_name="require-networkpolicy",
        enforcement_action="deny",
        sync_networkpolicies=True,
        webhook_registered=True,
    )
    state = {
        "options": RunOptions(target="existing", run_id=RUN_ID).to_json(),
        "kubeconfig": str(tmp_path / "kubeconfig"),
        "capabilities": caps.to_json(),
        "offline": False,
        "timings": [{"step": "cluster", "seconds": 41.2}],
        "started": time.time() - 120,
        "workdir": str(workdir),
        "identity": {
            "server": server,
            "context": "kind-npconform",
            "kube_system_uid": kube_system_uid,
            "user": {
                "username": "kubernetes-admin",
                "uid": "",
                "groups": ["kubeadm:cluster-admins", "system:authenticated"],
                "source": "SelfSubjectReview",
            },
        },
        "artifacts": artifacts(),
        "cni_version": "v3.30.2",
    }
    doc = build(
        state,
        collector,
        "pytest suites -n 2",
        exit_status=1 if leak else 0,
        cleanup={
            "selector": f"npconform.io/run={RUN_ID}",
            "done": True,
            "removed": [f"npconform-{RUN_ID}-gw0-semantics-x"],
            "left": [],
        },
        artifacts_end=artifacts(),
        probe_image="registry.k8s.io/e2e-test-images/agnhost:2.56",
    )
    return finalize(doc)


def as_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as results.json holds it."""
    out: dict[str, Any] = json.loads(dumps_results(doc))
    return out


def no_cluster_run() -> dict[str, Any]:
    """A run that never reached a cluster: no state, no tests."""
    return finalize(build(None, Collector(), "pytest suites", exit_status=4))


@pytest.fixture
def healthy(tmp_path: Path) -> dict[str, Any]:
    return make_run(tmp_path)


# -- the schema itself ------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema_with_the_documents_id() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == collect.SCHEMA
    assert schema["properties"]["$schema"] == {"const": collect.SCHEMA}
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_enums_follow_the_code() -> None:
    defs = load_schema()["$defs"]
    assert set(defs["verdict"]["enum"]) == set(VERDICTS)
    assert defs["checkStatus"]["enum"] == list(CHECK_STATUSES)
    assert defs["outcomeClass"]["enum"] == list(OUTCOMES)
    assert defs["testOutcome"]["enum"] == ["passed", "failed", "skipped", "error"]
    step = defs["step"]["properties"]
    assert step["provenance"]["enum"] == list(PROVENANCES)


def test_load_schema_returns_a_fresh_copy() -> None:
    load_schema()["$id"] = "mutated"
    assert load_schema()["$id"] == collect.SCHEMA


# -- documents the suite builds ---------------------------------------------------------


def test_healthy_run_validates_as_built_and_as_written(healthy: dict[str, Any]) -> None:
    assert healthy["verdict"] == "PASS", healthy["verdict_reason"]
    assert validate(healthy) == []
    assert validate(as_json(healthy)) == []


def test_failing_run_validates(tmp_path: Path) -> None:
    doc = make_run(tmp_path, leak=True)
    assert doc["verdict"] == "FAIL"
    assert validate(as_json(doc)) == []


def test_incomplete_run_validates(tmp_path: Path) -> None:
    doc = make_run(tmp_path, deselect=("NET-DNS",))
    assert doc["verdict"] == "INCOMPLETE"
    assert validate(as_json(doc)) == []


def test_run_that_never_reached_a_cluster_validates() -> None:
    doc = no_cluster_run()
    assert doc["environment"] == {} and doc["identity"] == {} and doc["selection"] == {}
    assert validate(as_json(doc)) == []


def test_finalize_twice_still_validates(healthy: dict[str, Any]) -> None:
    assert validate(as_json(finalize(healthy))) == []


# -- documents that are wrong -----------------------------------------------------------


def test_wrong_verdict_outcome_and_digest_each_give_one_line(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    doc["verdict"] = "MAYBE"
    doc["scenarios"][0]["observed"][1]["outcome"] = "dropped"
    doc["artifacts"][0]["sha256"] = "ABC123"
    errors = validate(doc)
    assert errors == [
        "$.artifacts[0].sha256: 'ABC123' does not match '^[0-9a-f]{64}$'",
        "$.scenarios[0].observed[1].outcome: 'dropped' is not one of "
        "['connected', 'timeout', 'refused', 'error']",
        "$.verdict: 'MAYBE' is not one of ['PASS', 'FAIL', 'INCOMPLETE']",
    ]
    assert all("\n" not in e for e in errors)


def test_pass_with_a_failing_control_is_invalid(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    doc["controls"][0]["verdict"] = "FAIL"
    errors = validate(doc)
    assert any(e.startswith("$.verdict: 'FAIL' was expected") for e in errors), errors
    assert any(e.startswith("$.controls[0].verdict: 'PASS' was expected") for e in errors)


@pytest.mark.parametrize(
    ("where", "value", "expected_error"),
    [
        (("tool", "commit"), "not-a-commit", "$.tool.commit: 'not-a-commit' does not match"),
        (("run", "started"), "yesterday", "$.run.started: 'yesterday'"),
        (("run", "finished"), "2026-13-45T99:00:00Z", "$.run.finished: '2026-13-45T99:00:00Z'"),
        (("tests", 0, "outcome"), "xfailed", "$.tests[0].outcome: 'xfailed' is not one of"),
        (("checks", 0, "status"), "ok", "$.checks[0].status: 'ok' is not one of"),
        (("controls", 0, "id"), "A.8", "$.controls[0].id: 'A.8' does not match"),
        (("scenarios", 0, "expected", 0, "allowed"), None, "$.scenarios[0].expected[0].allowed"),
        (("scenarios", 0, "observed", 1, "allowed"), True, "$.scenarios[0].observed[1].allowed"),
        (("scenarios", 0, "outcomes", "dropped"), 1, "$.scenarios[0].outcomes: Additional"),
        (
            ("artifacts_changed",),
            [{"kind": "Config", "name": "config", "start": "x", "end": None}],
            "$.artifacts_changed[0].start: 'x' does not match",
        ),
    ],
)
def test_one_wrong_value_is_one_error(
    healthy: dict[str, Any], where: tuple[Any, ...], value: Any, expected_error: str
) -> None:
    doc = as_json(healthy)
    target = doc
    for k in where[:-1]:
        target = target[k]
    target[where[-1]] = value
    errors = validate(doc)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected_error), errors


def test_policy_digest_must_be_a_sha256(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    digests = doc["scenarios"][0]["policy_sha256"]
    assert digests["y/deny-all"] == policy_digest(DENY_Y)
    digests["y/deny-all"] = digests["y/deny-all"][:63]
    assert validate(doc) == [
        f"$.scenarios[0].policy_sha256['y/deny-all']: '{digests['y/deny-all']}' does not "
        "match '^[0-9a-f]{64}$'"
    ]


def test_refused_cell_may_read_as_blocked_or_as_no_verdict(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    cell = doc["scenarios"][0]["observed"][1]
    cell["outcome"] = "refused"
    for allowed in (False, None):
        cell["allowed"] = allowed
        assert not [e for e in validate(doc) if "observed" in e]
    cell["allowed"] = True
    assert [e for e in validate(doc) if "observed" in e] == [
        "$.scenarios[0].observed[1].allowed: True is not one of [False, None]"
    ]


def test_missing_top_level_keys_are_named(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    del doc["controls"], doc["verdict"]
    assert validate(doc) == [
        "$: 'controls' is a required property",
        "$: 'verdict' is a required property",
    ]


def test_partial_identity_and_environment_are_invalid(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    doc["identity"] = {"server": SERVER}
    doc["environment"] = {"cni": "calico"}
    errors = validate(doc)
    assert "$.identity: 'kube_system_uid' is a required property" in errors
    assert "$.environment: 'gatekeeper' is a required property" in errors


def test_not_an_object() -> None:
    assert validate([1, 2]) == ["$: [1, 2] is not of type 'object'"]


def test_long_values_are_cut_to_one_short_line(healthy: dict[str, Any]) -> None:
    doc = as_json(healthy)
    doc["tests"] = {"x": "line\n" * 500}
    (error,) = validate(doc)
    assert error.startswith("$.tests: ") and "\n" not in error and len(error) < 320


# -- the command ------------------------------------------------------------------------


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_main_valid_invalid_and_unreadable(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "good.json", as_json(healthy))
    bad_doc = as_json(healthy)
    bad_doc["verdict"] = "MAYBE"
    bad = write(tmp_path / "bad.json", bad_doc)
    assert main([str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: valid\n"
    assert main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{good}: valid",
        f"{bad}: $.verdict: 'MAYBE' is not one of ['PASS', 'FAIL', 'INCOMPLETE']",
    ]
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert main([str(garbage), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"{garbage}: not JSON: ")
    assert len(captured.err.splitlines()) == 1
    assert main([str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'missing.json'}: cannot read: ")


def test_python_dash_m_entry(healthy: dict[str, Any], tmp_path: Path) -> None:
    good = write(tmp_path / "results.json", as_json(healthy))
    p = subprocess.run(
        [sys.executable, "-m", "npconform.report.schema", str(good)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (p.returncode, p.stdout) == (0, f"{good}: valid\n"), p.stderr
