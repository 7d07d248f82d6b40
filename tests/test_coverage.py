"""Admission coverage computed from a snapshot of the objects that decide it: each
mechanism that takes a namespace out of the match is named, platform namespaces are
recognised by the declared rule, and what cannot be read leaves a row undetermined."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from npconform.cli import main
from npconform.gatekeeper.coverage import settle
from npconform.model.coverage import (
    COVERED,
    EXEMPT,
    LIVE_ANSWER,
    TERMINATING,
    UNDETERMINED,
    UNPROTECTED,
    PlatformRule,
    Snapshot,
    basis,
    changed_inputs,
    compute,
    name_matches,
    platform_rule,
)
from npconform.model.netpol import parse_selector
from npconform.model.witness import escaping_labels

PLATFORM_NS = ["kube-system", "kube-public", "kube-node-lease", "calico-system"]


def welkin() -> dict[str, Any]:
    """A Welkin-like cluster: elastisys-require-networkpolicy in warn, platform namespaces
    labelled owner=operator, the webhook exempting kube-system & co. by name."""
    doc: dict[str, Any] = {
        "namespaces": [
            {"name": "kube-system", "labels": {}},
            {"name": "monitoring", "labels": {"owner": "operator"}},
            {"name": "tenant-a", "labels": {}},
            {"name": "tenant-b", "labels": {"team": "b"}},
        ],
        "policies": {
            "tenant-a": [{"name": "web", "podSelector": {"matchLabels": {"app": "web"}}}],
            "tenant-b": [{"name": "default-deny", "podSelector": {}}],
        },
        "pods": {
            "tenant-a": [
                {"name": "web-1", "labels": {"app": "web"}},
                {"name": "old-1", "labels": {"app": "old"}},
            ]
        },
        "constraints": [
            {
                "metadata": {"name": "elastisys-require-networkpolicy"},
                "spec": {
                    "enforcementAction": "warn",
                    "match": {
                        "kinds": [{"apiGroups": [""], "kinds": ["Pod"]}],
                        "excludedNamespaces": PLATFORM_NS,
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": "owner", "operator": "NotIn", "values": ["operator"]}
                            ]
                        },
                    },
                },
            }
        ],
        "config": {"metadata": {"name": "config"}, "spec": {}},
        "webhook": {
            "name": "validation.gatekeeper.sh",
            "failurePolicy": "Fail",
            "rules": [
                {
                    "apiGroups": ["*"],
                    "apiVersions": ["*"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["*"],
                }
            ],
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "admission.gatekeeper.sh/ignore", "operator": "DoesNotExist"},
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": PLATFORM_NS,
                    },
                ]
            },
        },
        "exempt_flags": {"namespace": ["gatekeeper-system"], "prefix": [], "suffix": []},
        "missing": [],
    }
    return copy.deepcopy(doc)


def rows(doc: dict[str, Any], rule: PlatformRule | None = None) -> dict[str, Any]:
    cov = compute(Snapshot.from_json(doc), rule)
    return {r.namespace: r for r in cov.rows}


def with_ns(doc: dict[str, Any], name: str, labels: dict[str, str] | None = None) -> None:
    doc["namespaces"].append({"name": name, "labels": labels or {}})


def test_welkin_profile_with_no_option() -> None:
    r = rows(welkin())
    assert (r["tenant-a"].status, r["tenant-a"].action) == (COVERED, "warn")
    assert r["tenant-a"].by == ["constraint elastisys-require-networkpolicy (warn)"]
    # the probe pod's labels escape the tenant's only policy; warn mode answers with a warning
    assert r["tenant-a"].probe_labels is not None
    assert "app" not in r["tenant-a"].probe_labels
    assert r["tenant-a"].expected == "warned"
    assert r["tenant-a"].unselected_pods == 1
    assert any("1 of its 2 pods" in n for n in r["tenant-a"].notes)
    # owner=operator: excluded by the constraint's namespaceSelector, a platform namespace
    assert r["monitoring"].status == EXEMPT
    assert r["monitoring"].by == [
        "constraint elastisys-require-networkpolicy spec.match.namespaceSelector "
        "{owner notin (operator)}"
    ]
    assert r["monitoring"].platform == "label owner=operator"
    assert r["monitoring"].expected == "admitted"
    # kube-system: the webhook never sees it, and the constraint excludes it by name
    ks = r["kube-system"]
    assert ks.status == EXEMPT and ks.platform == "excluded by the constraint itself"
    assert ks.by[0].startswith("webhook validation.gatekeeper.sh namespaceSelector")
    assert "excludedNamespaces kube-system" in ks.by[1]
    # a catch-all policy: covered, nothing to probe
    assert r["tenant-b"].status == COVERED and r["tenant-b"].catch_all == "default-deny"
    assert r["tenant-b"].probe_labels is None


def test_webhook_namespace_selector_leaves_a_tenant_unprotected() -> None:
    doc = welkin()
    doc["webhook"]["namespaceSelector"]["matchExpressions"].append(
        {"key": "skip-admission", "operator": "DoesNotExist"}
    )
    with_ns(doc, "tenant-c", {"skip-admission": "yes"})
    cov = compute(Snapshot.from_json(doc))
    c = next(r for r in cov.rows if r.namespace == "tenant-c")
    assert c.status == UNPROTECTED and c.platform == ""
    assert "namespaceSelector" in c.by[0] and "!skip-admission" in c.by[0]
    assert c.expected == "admitted"
    assert cov.verdict == "FAIL"


def test_ignore_label_exempts_only_as_gatekeeper_allows() -> None:
    doc = welkin()
    with_ns(doc, "gatekeeper-system", {"admission.gatekeeper.sh/ignore": "no-self-managing"})
    with_ns(doc, "tenant-x", {"admission.gatekeeper.sh/ignore": "yes"})
    r = rows(doc)
    gk = r["gatekeeper-system"]
    assert gk.status == EXEMPT and gk.platform == "Gatekeeper --exempt-namespace=gatekeeper-system"
    assert "labelled admission.gatekeeper.sh/ignore=no-self-managing" in gk.by[0]
    assert r["tenant-x"].status == UNPROTECTED
    doc["exempt_flags"]["prefix"] = ["tenant-"]
    assert rows(doc)["tenant-x"].platform == "Gatekeeper --exempt-namespace-prefix=tenant-"


def test_config_match_processes() -> None:
    doc = welkin()
    doc["config"]["spec"]["match"] = [
        {"excludedNamespaces": ["tenant-a"], "processes": ["webhook"]},
        {"excludedNamespaces": ["tenant-*"], "processes": ["audit"]},
    ]
    r = rows(doc)
    assert r["tenant-a"].status == UNPROTECTED
    assert r["tenant-a"].by == ["Config config spec.match[0].excludedNamespaces tenant-a "
                                "(processes webhook)"]  # fmt: skip
    # audit only: still covered at admission, but not audited
    assert r["tenant-b"].status == COVERED
    assert any("not audited" in n and "match[1]" in n for n in r["tenant-b"].notes)
    # declared a platform namespace: exempt, naming the Config
    r = rows(doc, platform_rule(namespaces=["tenant-a"]))
    assert r["tenant-a"].status == EXEMPT
    assert r["tenant-a"].platform == "declared platform namespace tenant-a"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m.update(kinds=[{"apiGroups": ["apps"], "kinds": ["Deployment"]}]),
         "spec.match.kinds does not include Pod"),
        (lambda m: m.update(scope="Cluster"), "spec.match.scope Cluster"),
        (lambda m: m.update(namespaces=["tenant-b"]), "spec.match.namespaces ['tenant-b']"),
    ],
)  # fmt: skip
def test_constraint_match_that_misses_a_tenant(change: Any, expected: str) -> None:
    doc = welkin()
    change(doc["constraints"][0]["spec"]["match"])
    r = rows(doc)["tenant-a"]
    assert r.status == UNPROTECTED
    assert expected in r.by[0]


def test_excluded_namespace_pattern_is_a_platform_exclusion() -> None:
    doc = welkin()
    doc["constraints"][0]["spec"]["match"]["excludedNamespaces"].append("tenant-*")
    r = rows(doc)["tenant-a"]
    assert r.status == EXEMPT and r.platform == "excluded by the constraint itself"
    strict = PlatformRule(constraint_exclusions=False)
    assert rows(doc, strict)["tenant-a"].status == UNPROTECTED


def test_strongest_action_wins_and_scoped_reads_the_webhook_point() -> None:
    doc = welkin()
    second = copy.deepcopy(doc["constraints"][0])
    second["metadata"]["name"] = "require-networkpolicy"
    second["spec"]["enforcementAction"] = "scoped"
    second["spec"]["scopedEnforcementActions"] = [
        {"action": "dryrun", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
        {"action": "deny", "enforcementPoints": [{"name": "audit.gatekeeper.sh"}]},
    ]
    doc["constraints"].append(second)
    r = rows(doc)["tenant-a"]
    assert r.action == "warn"
    assert r.by == [
        "constraint elastisys-require-networkpolicy (warn)",
        "constraint require-networkpolicy (dryrun)",
    ]
    second["spec"]["scopedEnforcementActions"][1]["enforcementPoints"] = [{"name": "*"}]
    assert rows(doc)["tenant-a"].action == "deny"
    assert rows(doc)["tenant-a"].expected == "denied"


def test_no_webhook_or_no_constraint_in_one_line() -> None:
    doc = welkin()
    doc["webhook"] = None
    cov = compute(Snapshot.from_json(doc))
    assert cov.summary.startswith("Gatekeeper's validating webhook validation.gatekeeper.sh")
    by = {r.namespace: r for r in cov.rows}
    assert by["tenant-a"].status == UNPROTECTED and by["monitoring"].status == EXEMPT
    doc = welkin()
    doc["constraints"] = None
    cov = compute(Snapshot.from_json(doc))
    assert "no K8sRequireNetworkPolicy constraint (the kind is not served)" in cov.summary
    assert {r.status for r in cov.rows if r.namespace.startswith("tenant")} == {UNPROTECTED}


def test_webhook_rules_without_pods() -> None:
    doc = welkin()
    doc["webhook"]["rules"] = [
        {"apiGroups": ["apps"], "operations": ["CREATE"], "resources": ["deployments"]}
    ]
    assert "rules do not include CREATE of pods" in rows(doc)["tenant-a"].by[0]


def test_notes_on_escapes_and_fail_open() -> None:
    doc = welkin()
    doc["webhook"]["failurePolicy"] = "Ignore"
    doc["webhook"]["objectSelector"] = {"matchLabels": {"admission": "on"}}
    doc["webhook"]["matchConditions"] = [{"name": "not-system", "expression": "true"}]
    doc["constraints"][0]["spec"]["match"]["labelSelector"] = {
        "matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]
    }
    r = rows(doc)["tenant-a"]
    text = "\n".join(r.notes)
    assert "objectSelector {admission=on} does not select escape it" in text
    assert "labelSelector {!legacy}" in text
    assert "fails open" in text and "matchConditions not-system" in text
    # the probe pod is one the webhook and the constraint do judge
    assert r.probe_labels is not None
    assert r.probe_labels.get("admission") == "on" and "legacy" not in r.probe_labels


def test_missing_permissions_leave_rows_undetermined() -> None:
    doc = welkin()
    doc["missing"] = ["constraints"]
    doc["constraints"] = None
    cov = compute(Snapshot.from_json(doc))
    by = {r.namespace: r for r in cov.rows}
    assert by["tenant-a"].status == UNDETERMINED
    assert "missing permission list k8srequirenetworkpolicy" in by["tenant-a"].notes[-1]
    assert by["monitoring"].status == UNDETERMINED  # the webhook sees it: the constraint decides
    # the webhook exempts kube-system, but whether it is platform needs the constraint
    assert by["kube-system"].status == UNDETERMINED
    assert "whether it is a platform namespace" in by["kube-system"].notes[-1]
    assert cov.verdict == "INCOMPLETE"
    doc = welkin()
    doc["missing"] = ["namespaces"]
    cov = compute(Snapshot.from_json(doc))
    assert cov.rows == [] and "list namespaces" in cov.summary and cov.verdict == "INCOMPLETE"
    doc = welkin()
    doc["missing"] = ["policies"]
    r = rows(doc)["tenant-a"]
    assert r.probe_labels is None and "not probed live" in r.notes[-1]


def test_verdict_needs_the_live_answers() -> None:
    cov = compute(Snapshot.from_json(welkin()))
    assert cov.verdict == "INCOMPLETE"  # computed only
    cov.live = True
    for r in cov.rows:
        if r.expected:
            r.live = r.expected
    assert cov.verdict == "INCOMPLETE"  # who can switch it off not examined (--no-rbac)
    cov.switches = []
    assert cov.verdict == "PASS"
    tenant = next(r for r in cov.rows if r.namespace == "tenant-a")
    tenant.live = "admitted"
    assert tenant.agrees is False and cov.verdict == "FAIL"
    tenant.live = "refused by another admission step"
    assert tenant.agrees is None and cov.verdict == "INCOMPLETE"


def test_terminating_and_own_namespaces() -> None:
    doc = welkin()
    doc["namespaces"].append({"name": "gone", "labels": {}, "terminating": True})
    doc["namespaces"].append({"name": "npconform-x", "labels": {"npconform.io/run": "x"}})
    cov = compute(Snapshot.from_json(doc), skip={"npconform.io/run": "x"})
    by = {r.namespace: r for r in cov.rows}
    assert by["gone"].status == TERMINATING and by["gone"].probe_labels is None
    assert by["npconform-x"].status == "not examined"


def test_snapshot_round_trip_and_bad_input() -> None:
    snap = Snapshot.from_json(welkin())
    assert Snapshot.from_json(json.loads(json.dumps(snap.to_json()))) == snap
    with pytest.raises(ValueError, match="unknown snapshot field"):
        Snapshot.from_json({**welkin(), "nodes": []})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        platform_rule(["owner"])
    with pytest.raises(ValueError, match="NAME\\* or \\*NAME"):
        platform_rule(namespaces=["a*b"])
    assert platform_rule().labels == (("owner", "operator"),)
    assert name_matches("kube-*", "kube-system") and not name_matches("kube-", "kube-system")
    assert name_matches("*-system", "kube-system") and name_matches("a", "a")


@pytest.mark.parametrize(
    ("avoid", "must", "found"),
    [
        ([{}], [], False),
        ([{"matchExpressions": [{"key": "a", "operator": "Exists"}]},
          {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}], [], False),
        ([{"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]}], [], True),
        ([{"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}],
         [{"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "y"]}]}], True),
        ([{"matchLabels": {"a": "x"}}], [{"matchLabels": {"a": "x"}}], False),
    ],
)  # fmt: skip
def test_escaping_labels(avoid: list[Any], must: list[Any], found: bool) -> None:
    a = [parse_selector(s) for s in avoid]
    m = [parse_selector(s) for s in must]
    labels, decided = escaping_labels(a, m, prefer={"app.kubernetes.io/managed-by": "npconform"})
    assert decided
    assert (labels is not None) is found
    if labels is not None:
        assert not any(s.matches(labels) for s in a) and all(s.matches(labels) for s in m)
        assert labels["app.kubernetes.io/managed-by"] == "npconform"


def test_escaping_labels_budget() -> None:
    many = [
        parse_selector({"matchExpressions": [{"key": f"k{i}", "operator": "DoesNotExist"}]})
        for i in range(30)
    ]
    labels, decided = escaping_labels(many, budget=10)
    assert labels is None and not decided


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npconform.cli", "coverage", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_from_a_snapshot(tmp_path: Any) -> None:
    doc = welkin()
    (tmp_path / "snap.json").write_text(json.dumps(doc))
    p = run_cli("--snapshot", str(tmp_path / "snap.json"), "--json", str(tmp_path / "cov.json"))
    assert p.returncode == 3, p.stderr  # computed only: no live answers
    assert "tenant-a" in p.stdout and "covered (warn)" in p.stdout
    assert "coverage INCOMPLETE: 4 namespaces" in p.stdout
    out = json.loads((tmp_path / "cov.json").read_text())
    assert out["counts"]["covered"] == 2 and out["counts"]["exempt"] == 2
    doc["webhook"] = None
    (tmp_path / "snap.json").write_text(json.dumps(doc))
    p = run_cli("--snapshot", str(tmp_path / "snap.json"))
    assert p.returncode == 1
    assert p.stdout.splitlines()[0].endswith("every non-platform namespace is unprotected")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--snapshot", "/nonexistent.json"], "cannot read"),
        (["--platform-label", "owner"], "expected KEY=VALUE"),
        (["--budget", "0"], "--budget must be positive"),
        (["--json", "/nonexistent/dir/x.json"], "no such directory"),
    ],
)
def test_cli_bad_input(args: list[str], message: str, capsys: Any) -> None:
    assert main(["coverage", *args]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err
    assert not out


def test_cli_snapshot_that_is_not_one(tmp_path: Any, capsys: Any) -> None:
    (tmp_path / "bad.json").write_text('{"nodes": []}')
    assert main(["coverage", "--snapshot", str(tmp_path / "bad.json")]) == 2
    assert "not a coverage snapshot: unknown snapshot field" in capsys.readouterr().err


def test_scale_within_budget() -> None:
    """2,000 namespaces, 20,000 pods and 5,000 NetworkPolicies: loaded from JSON and
    computed well within the 20 s the coverage check may take on 2 cores."""
    from npconform.bench.coverage import scale

    r = scale(rounds=1)
    assert (r["namespaces"], r["pods"], r["policies"]) == (2000, 20000, 5000)
    assert r["rows"]["covered"] + r["rows"]["exempt"] == 2000
    assert r["seconds_max"] < 20, r


# -- who can switch it off ------------------------------------------------------------------


def _binding(kind: str, name: str, ns: str, role: tuple[str, str], *subjects: dict) -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": role[0], "name": role[1]},
        "subjects": list(subjects),
    }


def test_switch_off_findings_name_the_binding() -> None:
    from npconform.model.rbac import findings, platform_subjects, review_request

    sa = {"kind": "ServiceAccount", "name": "ci", "namespace": "tenant-a"}
    roles = [
        {"metadata": {"name": "ns-labeller", "namespace": "tenant-a"},
         "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}]},
        {"metadata": {"name": "constraint-editor", "namespace": "tenant-a"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
    ]  # fmt: skip
    cluster_roles = [
        {"metadata": {"name": "webhook-editor"},
         "rules": [{"apiGroups": ["admissionregistration.k8s.io"],
                    "resources": ["validatingwebhookconfigurations"], "verbs": ["update"],
                    "resourceNames": ["gatekeeper-validating-webhook-configuration"]}]},
        {"metadata": {"name": "viewer"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"]}]},
    ]  # fmt: skip
    rbs = [
        _binding("RoleBinding", "labeller", "tenant-a", ("Role", "ns-labeller"), sa),
        # all rights in its namespace: still no cluster-scoped constraint or webhook
        _binding("RoleBinding", "owner", "tenant-a", ("Role", "constraint-editor"), sa),
    ]
    crbs = [
        _binding("ClusterRoleBinding", "hooks", "", ("ClusterRole", "webhook-editor"),
                 {"kind": "Group", "name": "ops"}),
        _binding("ClusterRoleBinding", "view", "", ("ClusterRole", "viewer"),
                 {"kind": "User", "name": "auditor"}),
    ]  # fmt: skip
    found = findings(roles, cluster_roles, rbs, crbs, platform_subjects({"kube-system"}))
    got = {(f.subject, f.can, f.scope, f.binding) for f in found}
    assert got == {
        ("ServiceAccount tenant-a/ci", "label or annotate namespaces", "namespace tenant-a",
         "RoleBinding tenant-a/labeller -> Role ns-labeller"),
        ("Group ops", "change the validating webhook configuration", "cluster",
         "ClusterRoleBinding hooks -> ClusterRole webhook-editor"),
    }  # fmt: skip
    hook = next(f for f in found if f.subject == "Group ops")
    assert hook.only == ("gatekeeper-validating-webhook-configuration",) and not hook.platform
    req = review_request(hook, __import__("npconform.model.rbac").model.rbac.BY_WHAT[hook.can])
    assert req["spec"]["groups"] == ["ops"]
    assert (
        req["spec"]["resourceAttributes"]["name"] == "gatekeeper-validating-webhook-configuration"
    )
    ns = next(f for f in found if f.kind == "ServiceAccount")
    req = review_request(ns, __import__("npconform.model.rbac").model.rbac.BY_WHAT[ns.can])
    assert req["spec"]["user"] == "system:serviceaccount:tenant-a:ci"
    assert req["spec"]["resourceAttributes"] == {
        "verb": "patch", "group": "", "resource": "namespaces",
        "namespace": "tenant-a", "name": "tenant-a",
    }  # fmt: skip
    # a tenant service account that can switch it off fails the coverage verdict
    cov = compute(Snapshot.from_json(welkin()))
    cov.live = True
    for r in cov.rows:
        r.live = r.expected
    cov.switches = found
    assert [f.subject for f in cov.breaches] == ["ServiceAccount tenant-a/ci"]
    assert cov.verdict == "FAIL"
    ns.confirmed = False  # the API server says no: not a breach
    assert cov.breaches == [] and cov.verdict == "PASS"
    declared = platform_subjects(set(), ["ServiceAccount:tenant-a/ci", "Group:ops"])
    assert declared(sa) and declared({"kind": "Group", "name": "ops"})
    assert platform_subjects(set())({"kind": "Group", "name": "system:masters"})


@pytest.mark.parametrize("bad", ["ops", "Team:ops", "ServiceAccount:ci", "Group:"])
def test_platform_subject_bad_input(bad: str, capsys: Any) -> None:
    assert main(["coverage", "--platform-subject", bad]) == 2
    assert "expected User:NAME, Group:NAME or ServiceAccount:NS/NAME" in capsys.readouterr().err


def test_the_identity_running_the_check_is_marked_not_counted() -> None:
    """Only the verifier's own ClusterRole: the same identity bound to any other role that
    can switch the safeguard off is a breach like any tenant's."""
    from npconform.model.rbac import findings, platform_subjects

    sa = {"kind": "ServiceAccount", "name": "verifier", "namespace": "npconform-verifier"}
    me = "system:serviceaccount:npconform-verifier:verifier"
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}]
    roles = [{"metadata": {"name": n}, "rules": rules} for n in ("npconform-verifier", "deployer")]
    crb = [_binding("ClusterRoleBinding", "v", "", ("ClusterRole", "npconform-verifier"), sa)]
    found = findings([], roles, [], crb, platform_subjects(set()), runner=me)
    assert [(f.subject, f.runner, f.platform, f.breach) for f in found] == [
        ("ServiceAccount npconform-verifier/verifier", True, False, False)
    ]
    cov = compute(Snapshot.from_json(welkin()))
    cov.switches = found
    assert cov.breaches == []
    cov.switches = findings([], roles, [], crb, platform_subjects(set()), runner="someone-else")
    assert len(cov.breaches) == 1
    # running as an account that can switch it off through its own role hides nothing
    crb.append(_binding("ClusterRoleBinding", "d", "", ("ClusterRole", "deployer"), sa))
    cov.switches = findings([], roles, [], crb, platform_subjects(set()), runner=me)
    assert [(f.binding, f.runner) for f in cov.switches] == [
        ("ClusterRoleBinding v -> ClusterRole npconform-verifier", True),
        ("ClusterRoleBinding d -> ClusterRole deployer", False),
    ]
    assert [f.binding for f in cov.breaches] == ["ClusterRoleBinding d -> ClusterRole deployer"]
    assert [f["breach"] for f in cov.to_json()["switch_off"]["findings"]] == [False, True]


@pytest.mark.parametrize(
    ("group", "breach"),
    [
        ("system:serviceaccounts", True),
        ("system:authenticated", True),
        ("system:unauthenticated", True),
        ("system:serviceaccounts:tenant-a", True),
        ("system:serviceaccounts:kube-system", False),
        ("system:masters", False),
        ("ops", False),  # a group of people: listed for review, not a tenant's account
    ],
)
def test_groups_that_include_tenant_service_accounts_are_breaches(group: str, breach: bool) -> None:
    from npconform.model.rbac import findings, platform_subjects

    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}]
    roles = [{"metadata": {"name": "labeller"}, "rules": rules}]
    subject = {"kind": "Group", "name": group}
    crb = [_binding("ClusterRoleBinding", "b", "", ("ClusterRole", "labeller"), subject)]
    (f,) = findings([], roles, [], crb, platform_subjects({"kube-system"}))
    assert (f.breach, f.platform) == (
        breach,
        group in ("system:masters", "system:serviceaccounts:kube-system"),
    )


def test_a_rolebinding_service_account_without_namespace_is_the_bindings() -> None:
    from npconform.model.rbac import findings, platform_subjects, review_request

    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}]
    roles = [{"metadata": {"name": "l", "namespace": "tenant-a"}, "rules": rules}]
    rb = [
        _binding(
            "RoleBinding", "b", "tenant-a", ("Role", "l"), {"kind": "ServiceAccount", "name": "ci"}
        )
    ]
    (f,) = findings(roles, [], rb, [], platform_subjects(set()))
    assert (f.subject, f.namespace, f.breach) == ("ServiceAccount tenant-a/ci", "tenant-a", True)
    req = review_request(f, __import__("npconform.model.rbac").model.rbac.BY_WHAT[f.can])
    assert req["spec"]["user"] == "system:serviceaccount:tenant-a:ci"


def test_roles_in_a_terminating_namespace_switch_nothing_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A namespace being deleted (a finished run's) takes its Roles and RoleBindings
    along: they are no finding, while the same binding in a live namespace is."""
    from npconform.gatekeeper import switches

    sa = {"kind": "ServiceAccount", "name": "ci", "namespace": "tenant-a"}
    role = {
        "metadata": {"name": "ns-labeller", "namespace": "tenant-a"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}],
    }
    binding = _binding("RoleBinding", "labeller", "tenant-a", ("Role", "ns-labeller"), sa)
    lists = {"roles": [role], "clusterroles": [], "rolebindings": [binding]}
    lists["clusterrolebindings"] = []
    rbac = type(
        "R",
        (),
        {
            f"list_{k}": None
            for k in (
                "role_for_all_namespaces",
                "cluster_role",
                "role_binding_for_all_namespaces",
                "cluster_role_binding",
            )
        },
    )
    monkeypatch.setattr(switches.client, "RbacAuthorizationV1Api", lambda api: rbac())
    monkeypatch.setattr(switches, "pages", lambda fetch, key, progress: lists[key])
    clients = type("C", (), {"api": lambda self: None})()

    def subjects(terminating: bool) -> list[str]:
        doc = welkin()
        for n in doc["namespaces"]:
            if n["name"] == "tenant-a":
                n["terminating"] = terminating
        cov = compute(Snapshot.from_json(doc))
        switches.examine(clients, cov, confirm=False, runner="me")  # type: ignore[arg-type]
        return [f.subject for f in cov.switches]

    assert subjects(False) == ["ServiceAccount tenant-a/ci"]
    assert subjects(True) == []


# -- a disagreement re-examined when what decides it changed during the survey -------------


class Cluster:
    """A fake cluster for :func:`settle`: ``doc`` is its state now; a dry run is answered
    from that state (a policy now selecting the probe Pod lets it in)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.reads = 0
        self.probed: list[str] = []
        self.broken = False  # the constraint ignores every Pod

    def read(self) -> Snapshot:
        self.reads += 1
        return Snapshot.from_json(copy.deepcopy(self.doc))

    def answer(self, ns: str, labels: dict[str, str]) -> str:
        now = {r.namespace: r for r in compute(Snapshot.from_json(self.doc)).rows}
        if ns not in now:
            return "namespace deleted meanwhile"
        sels = [parse_selector(p["podSelector"]) for p in self.doc["policies"].get(ns, [])]
        if self.broken or now[ns].status != COVERED or any(s.matches(labels) for s in sels):
            return "admitted"
        return LIVE_ANSWER[now[ns].action]

    def probe(self, cov: Any, snap: Snapshot) -> None:
        for r in cov.rows:
            if r.probe_labels is not None:
                self.probed.append(r.namespace)
                r.live = self.answer(r.namespace, r.probe_labels)


def surveyed(c: Cluster) -> tuple[Snapshot, Any]:
    snap = c.read()
    cov = compute(snap)
    c.probe(cov, snap)
    return snap, cov


def test_a_policy_created_during_the_survey_is_re_examined_not_a_disagreement() -> None:
    c = Cluster(welkin())
    with_ns(c.doc, "tenant-c")
    snap = c.read()
    cov = compute(snap)
    # someone else's policy lands between the snapshot and the dry run
    c.doc["policies"]["tenant-c"] = [{"name": "web", "podSelector": {}}]
    c.probe(cov, snap)
    row = next(r for r in cov.rows if r.namespace == "tenant-c")
    assert row.agrees is False  # what the check would have reported
    settle(cov, snap, c.read, compute, c.probe)
    row = next(r for r in cov.rows if r.namespace == "tenant-c")
    assert not cov.disagreeing and row.catch_all == "web" and row.agrees is None
    assert row.notes[-1] == (
        "re-examined: its NetworkPolicies changed after the snapshot it was first computed from"
    )

    # a selective policy: the new probe Pod escapes it, and the answer agrees
    def preferring(s: Snapshot) -> Any:
        return compute(s, prefer={"probe": "1"})

    c = Cluster(welkin())
    with_ns(c.doc, "tenant-c")
    snap = c.read()
    cov = preferring(snap)
    c.doc["policies"]["tenant-c"] = [
        {
            "name": "web",
            "podSelector": {"matchExpressions": [{"key": "probe", "operator": "Exists"}]},
        }
    ]
    c.probe(cov, snap)
    assert [r.namespace for r in cov.disagreeing] == ["tenant-c"]
    settle(cov, snap, c.read, preferring, c.probe)
    row = next(r for r in cov.rows if r.namespace == "tenant-c")
    assert row.agrees is True and c.probed.count("tenant-c") == 2 and cov.verdict != "FAIL"


def test_a_disagreement_whose_inputs_did_not_change_stands() -> None:
    c = Cluster(welkin())
    c.broken = True
    snap, cov = surveyed(c)
    before = [r.namespace for r in cov.disagreeing]
    assert before and cov.verdict == "FAIL"
    # the audit rewrote the constraint's status meanwhile: not what decides a row
    c.doc["constraints"][0]["status"] = {"totalViolations": 3}
    c.doc["constraints"][0]["metadata"]["resourceVersion"] = "2"
    settle(cov, snap, c.read, compute, c.probe)
    assert [r.namespace for r in cov.disagreeing] == before and c.reads == 2
    assert cov.verdict == "FAIL" and all("re-examined" not in " ".join(r.notes) for r in cov.rows)


def test_inputs_that_keep_changing_leave_the_row_undetermined() -> None:
    c = Cluster(welkin())
    c.broken = True
    snap, cov = surveyed(c)
    before = {r.namespace for r in cov.disagreeing}

    def read() -> Snapshot:
        c.doc["namespaces"][2]["labels"]["round"] = str(c.reads)
        return c.read()

    settle(cov, snap, read, compute, c.probe, rounds=2)
    row = next(r for r in cov.rows if r.namespace == "tenant-a")
    assert before == {"tenant-a"} and row.live == (
        "not determined: its namespace (labels, deletion) changed during each of 2 "
        "re-examination(s)"
    )
    assert row in cov.undetermined and row not in cov.disagreeing
    assert c.reads == 4  # the snapshot, then one read per round and the last one


def test_a_namespace_deleted_during_the_survey_is_not_a_disagreement() -> None:
    c = Cluster(welkin())
    c.broken = True
    snap, cov = surveyed(c)
    c.broken = False
    gone = cov.disagreeing[0].namespace
    c.doc["namespaces"] = [n for n in c.doc["namespaces"] if n["name"] != gone]
    settle(cov, snap, c.read, compute, c.probe)
    row = next(r for r in cov.rows if r.namespace == gone)
    assert row.live == "namespace deleted meanwhile" and row.agrees is None


def test_the_basis_of_a_row() -> None:
    a = Snapshot.from_json(welkin())
    doc = welkin()
    doc["config"]["metadata"]["resourceVersion"] = "9"
    doc["policies"]["tenant-b"].append({"name": "more", "podSelector": {}})
    b = Snapshot.from_json(doc)
    assert changed_inputs(a, b, "tenant-a") == []
    assert changed_inputs(a, b, "tenant-b") == ["NetworkPolicies"]
    doc["constraints"][0]["spec"]["enforcementAction"] = "deny"
    assert changed_inputs(a, Snapshot.from_json(doc), "tenant-a") == ["constraints"]
    assert basis(a, "absent")["namespace"] is None


def test_a_disagreement_that_survives_its_re_examination_fails() -> None:
    c = Cluster(welkin())
    c.broken = True
    snap, cov = surveyed(c)
    c.doc["namespaces"][2]["labels"]["team"] = "a"  # changed once, the fault stays
    settle(cov, snap, c.read, compute, c.probe)
    row = next(r for r in cov.rows if r.namespace == "tenant-a")
    assert row.agrees is False and cov.verdict == "FAIL" and "re-examined" in row.notes[-1]
    assert c.reads == 3  # the snapshot, the re-read, and one more that found no change


def test_namespaces_not_listed_again_leave_the_row_not_determined() -> None:
    c = Cluster(welkin())
    c.broken = True
    snap, cov = surveyed(c)
    c.doc["missing"] = ["namespaces"]
    settle(cov, snap, c.read, compute, c.probe)
    row = next(r for r in cov.rows if r.namespace == "tenant-a")
    assert row.live == "not determined: the namespaces could not be read again"
    assert row.expected and row in cov.undetermined and cov.verdict != "PASS"


def test_a_read_that_fails_leaves_the_disagreements_standing() -> None:
    from kubernetes.client.exceptions import ApiException

    c = Cluster(welkin())
    c.broken = True
    snap, cov = surveyed(c)

    def read() -> Snapshot:
        raise ApiException(status=503, reason="Service Unavailable")

    settle(cov, snap, read, compute, c.probe)
    assert [r.namespace for r in cov.disagreeing] == ["tenant-a"] and cov.verdict == "FAIL"


def test_a_rotated_webhook_certificate_is_not_a_change() -> None:
    a = Snapshot.from_json(welkin())
    doc = welkin()
    doc["webhook"]["clientConfig"] = {"caBundle": "bmV3"}
    assert changed_inputs(a, Snapshot.from_json(doc), "tenant-a") == []
    doc["webhook"]["matchConditions"] = [{"name": "skip", "expression": "false"}]
    assert changed_inputs(a, Snapshot.from_json(doc), "tenant-a") == ["webhook"]
