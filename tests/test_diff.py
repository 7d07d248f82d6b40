"""Diffing two finalized results documents: verdicts (worse/better), checks, traffic
cells, policies, safeguard objects, versions and the cluster."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from npconform.model.matrix import Cell
from npconform.report.changes import BETTER, CELL_LIMIT, WORSE, CellState, severity
from npconform.report.diff import diff
from npconform.report.schema import validate
from npconform.scenario.step import policy_digest
from npconform.verdict.rules import cell_key, finalize
from test_schema import DENY_Y, LEAK, SAME_X, SEMANTICS, as_json, make_run, traffic_steps

LEAK_TEXT = "x/a -> y/b:80/TCP: timeout (blocked) -> connected (allowed) [blocked -> leak]"


def control(doc: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in doc["controls"] if c["id"] == cid)


def test_severity_order() -> None:
    assert severity("PASS") < severity("INCOMPLETE") < severity("FAIL")
    assert severity(None) == severity("INCOMPLETE") == severity("bogus")


def test_a_leak_is_reported_and_worse(healthy: dict[str, Any], leaking: dict[str, Any]) -> None:
    assert control(healthy, "A.8.20")["verdict"] == "PASS"
    assert control(leaking, "A.8.20")["verdict"] == "FAIL"
    d = diff(healthy, leaking)
    assert d.worse
    assert (d.verdict.old, d.verdict.new, d.verdict.direction) == ("PASS", "FAIL", WORSE)
    assert [(c.id, c.old, c.new, c.direction) for c in d.controls] == [
        ("A.8.20", "PASS", "FAIL", WORSE)
    ]
    assert [(c.id, c.old, c.new) for c in d.checks] == [("NET-SEMANTICS", "passed", "failed")]
    (cell,) = d.cells
    assert (cell.scenario, cell.step) == ("semantics", "default deny")
    assert cell.cell == cell_key({"src": "x/a", "dst": "y/b", "port": 80, "protocol": "TCP"})
    assert cell.old == CellState("timeout", False, False, "blocked")
    assert cell.new == CellState("connected", True, False, "leak")
    assert d.unmatched == [] and d.policies == [] and d.artifacts == [] and d.versions == []
    text = d.text()
    assert "verdict: PASS -> FAIL (worse)" in text
    assert "A.8.20 Networks security: PASS -> FAIL (worse)" in text
    assert "NET-SEMANTICS: passed -> failed" in text
    assert "semantics / default deny:" in text
    assert LEAK_TEXT in text
    assert "no changes" not in text


def test_reversed_is_better_and_not_worse(healthy: dict[str, Any], leaking: dict[str, Any]) -> None:
    d = diff(leaking, healthy)
    assert not d.worse
    assert d.verdict.direction == BETTER
    assert [(c.id, c.direction) for c in d.controls] == [("A.8.20", BETTER)]
    (cell,) = d.cells
    assert cell.old.kind == "leak" and cell.new.kind == "blocked"
    text = d.text()
    assert "verdict: FAIL -> PASS (better)" in text
    assert "A.8.20 Networks security: FAIL -> PASS (better)" in text
    assert "x/a -> y/b:80/TCP: connected (allowed) -> timeout (blocked) [leak -> blocked]" in text


def test_identical_runs_have_no_changes(healthy: dict[str, Any]) -> None:
    d = diff(healthy, copy.deepcopy(healthy))
    assert not d.worse and not d.changed and d.notes == []
    assert d.text().splitlines()[-2:] == ["verdict: PASS (unchanged)", "no changes"]


def test_two_runs_with_the_same_results_have_no_changes(
    healthy: dict[str, Any], tmp_path: Path
) -> None:
    again = as_json(make_run(tmp_path, "again"))
    assert again["run"]["finished"] >= healthy["run"]["finished"]
    d = diff(healthy, again)
    assert not d.changed, d.text()
    assert d.text().endswith("no changes")


def test_different_clusters_are_noted(healthy: dict[str, Any], tmp_path: Path) -> None:
    other = as_json(
        make_run(tmp_path, "other", server="https://10.0.0.1:6443", kube_system_uid="another-uid")
    )
    d = diff(healthy, other)
    assert not d.changed and not d.worse
    (note,) = d.notes
    assert note.startswith("the runs are of different clusters: ")
    assert "API server https://172.18.0.2:6443 -> https://10.0.0.1:6443" in note
    assert "kube-system UID" in note
    assert f"note: {note}" in d.text()


def test_same_server_new_kube_system_uid_is_a_different_cluster(
    healthy: dict[str, Any], tmp_path: Path
) -> None:
    other = as_json(make_run(tmp_path, "recreated", kube_system_uid="recreated-uid"))
    (note,) = diff(healthy, other).notes
    assert "kube-system UID" in note and "API server" not in note


def test_a_run_without_identity_is_noted(healthy: dict[str, Any]) -> None:
    other = copy.deepcopy(healthy)
    other["identity"] = {}
    (note,) = diff(healthy, other).notes
    assert note.startswith("the new run recorded no cluster identity")


def test_incomplete_is_between_pass_and_fail(
    healthy: dict[str, Any], leaking: dict[str, Any], tmp_path: Path
) -> None:
    incomplete = as_json(make_run(tmp_path, "dns-deselected", deselect=("NET-DNS",)))
    assert control(incomplete, "A.8.20")["verdict"] == "INCOMPLETE"
    to_incomplete = diff(healthy, incomplete)
    assert to_incomplete.worse
    assert "A.8.20 Networks security: PASS -> INCOMPLETE (worse)" in to_incomplete.text()
    assert "NET-DNS: passed -> deselected" in to_incomplete.text()
    assert diff(incomplete, leaking).worse
    assert not diff(leaking, incomplete).worse
    assert not diff(incomplete, healthy).worse


def test_versions_safeguard_objects_and_policies(healthy: dict[str, Any]) -> None:
    new = copy.deepcopy(healthy)
    new["environment"]["gatekeeper"] = "v3.22.0"
    new["environment"]["constraint"]["enforcementAction"] = "warn"
    new["environment"]["deny_response"] = "reject"
    new["tool"]["version"] = "0.2.0"
    new["artifacts"][0]["sha256"] = "f" * 64
    new["artifacts"].append(
        {"kind": "SyncSet", "name": "networkpolicies", "sha256": "e" * 64, "content": {}}
    )
    del new["artifacts"][1]  # the Config
    step = new["scenarios"][1]
    changed = copy.deepcopy(SAME_X)
    changed["spec"]["ingress"] = []
    step["policies"] = [p for p in step["policies"] if p["metadata"]["name"] != "deny-all"]
    digests = step["policy_sha256"]
    assert digests["y/deny-all"] == policy_digest(DENY_Y)
    digests["x/allow-same-namespace"] = policy_digest(changed)
    del digests["y/deny-all"]
    digests["y/extra"] = "d" * 64
    assert validate(new) == []
    d = diff(healthy, new)
    assert not d.worse
    assert [(v.component, v.old, v.new) for v in d.versions] == [
        ("gatekeeper", "v3.21.0", "v3.22.0"),
        ("constraint", "require-networkpolicy (deny)", "require-networkpolicy (warn)"),
        ("deny response", "drop", "reject"),
        ("npconform version", "0.1.0", "0.2.0"),
    ]
    assert [(a.kind, a.namespace, a.name, a.change) for a in d.artifacts] == [
        ("Config", "gatekeeper-system", "config", "removed"),
        ("K8sRequireNetworkPolicy", "", "require-networkpolicy", "changed"),
        ("SyncSet", "", "networkpolicies", "added"),
    ]
    assert [(p.step, p.policy, p.change) for p in d.policies] == [
        ("allow same namespace", "x/allow-same-namespace", "changed"),
        ("allow same namespace", "y/deny-all", "removed"),
        ("allow same namespace", "y/extra", "added"),
    ]
    text = d.text()
    assert "  gatekeeper: v3.21.0 -> v3.22.0" in text
    assert "  Config gatekeeper-system/config: removed" in text
    old_sha = healthy["artifacts"][0]["sha256"][:12]
    assert (
        f"  K8sRequireNetworkPolicy require-networkpolicy: sha256 {old_sha} -> ffffffffffff" in text
    )
    assert "  semantics / allow same namespace: x/allow-same-namespace changed (" in text
    assert "y/deny-all removed; y/extra added" in text


def test_cells_in_only_one_run_are_counted_per_step(
    healthy: dict[str, Any], tmp_path: Path
) -> None:
    steps = traffic_steps()
    extra = [
        {"src": f"x/p{i}", "dst": "y/b", "port": 80, "protocol": "TCP", "allowed": False}
        for i in range(10)
    ]
    steps[0]["expected"] += extra
    steps[0]["observed"] += [{**c, "outcome": "timeout"} for c in extra]
    del steps[1]["expected"][0], steps[1]["observed"][0]
    steps.append({**copy.deepcopy(steps[1]), "step": "a step only the new run has"})
    new = as_json(make_run(tmp_path, "more", steps=steps))
    assert validate(new) == []
    d = diff(healthy, new)
    assert d.cells == [] and not d.worse
    by_step = {u.step: u for u in d.unmatched}
    assert len(by_step["default deny"].new_only) == 10
    assert by_step["default deny"].old_only == ()
    assert len(by_step["allow same namespace"].old_only) == 1
    assert by_step["a step only the new run has"].present == "new"
    text = d.text()
    assert (
        "semantics / default deny: 10 cells only in the new run (e.g. x/p0 -> y/b:80/TCP, "
        "x/p1 -> y/b:80/TCP, x/p2 -> y/b:80/TCP and 7 more)"
    ) in text
    assert "x/p3" not in text
    assert "semantics / allow same namespace: 1 cell only in the old run" in text
    assert "semantics / a step only the new run has: step only in the new run (2 cells)" in text
    assert diff(new, healthy).unmatched[-1].present == "old"


def test_changed_cells_beyond_the_limit_are_counted(healthy: dict[str, Any]) -> None:
    n = CELL_LIMIT + 5
    old = copy.deepcopy(healthy)
    cells = [
        {"src": f"x/p{i}", "dst": "y/b", "port": 80, "protocol": "TCP", "allowed": False}
        for i in range(n)
    ]
    old["scenarios"][0]["expected"] += cells
    old["scenarios"][0]["observed"] += [{**c, "outcome": "timeout"} for c in cells]
    new = copy.deepcopy(old)
    for c in new["scenarios"][0]["observed"][-n:]:
        c["outcome"], c["allowed"] = "connected", True
    d = diff(finalize(old), finalize(new))
    assert len(d.cells) == n and d.worse
    text = d.text()
    assert f"traffic cells: {n} cells changed" in text
    assert "... and 5 more changed cell(s)" in text
    assert text.count("[blocked -> leak]") == CELL_LIMIT


def test_expected_change_is_shown(healthy: dict[str, Any]) -> None:
    new = copy.deepcopy(healthy)
    row = next(
        c for c in new["scenarios"][0]["expected"] if (c["src"], c["dst"]) == (LEAK.src, LEAK.dst)
    )
    row["allowed"] = True
    (cell,) = diff(healthy, new).cells
    assert cell.new.kind == "loss"
    assert cell.text().endswith("[blocked -> loss], expected blocked -> allowed")


def test_repeated_step_names_are_matched_in_order(healthy: dict[str, Any]) -> None:
    old = copy.deepcopy(healthy)
    old["scenarios"].append(copy.deepcopy(old["scenarios"][0]))
    new = copy.deepcopy(old)
    leak = next(
        c for c in new["scenarios"][2]["observed"] if (c["src"], c["dst"]) == (LEAK.src, LEAK.dst)
    )
    leak["outcome"], leak["allowed"] = "connected", True
    (cell,) = diff(old, new).cells
    assert cell.step == "default deny #2"


def test_via_service_cells_are_named_so(healthy: dict[str, Any]) -> None:
    new = copy.deepcopy(healthy)
    row = next(c for c in new["scenarios"][0]["observed"] if c.get("via") == "service")
    row["outcome"], row["allowed"] = "timeout", False
    (cell,) = diff(healthy, new).cells
    assert cell.cell == cell_key(
        {"src": "x/a", "dst": "x/b", "port": 80, "protocol": "TCP", "via": "service"}
    )
    assert "x/a -> x/b:80/TCP (via service): connected (allowed) -> timeout (blocked)" in (
        cell.text()
    )
    assert Cell("x/a", "x/b", 80, "TCP", "service").via == "service"


def test_diff_does_not_modify_its_inputs(healthy: dict[str, Any], leaking: dict[str, Any]) -> None:
    a, b = copy.deepcopy(healthy), copy.deepcopy(leaking)
    diff(a, b).text()
    assert (a, b) == (healthy, leaking)
    assert SEMANTICS in {s["test"] for s in a["scenarios"]}
