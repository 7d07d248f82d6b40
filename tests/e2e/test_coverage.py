"""`npconform coverage` on the kind cluster, with namespaces created for it: each
mechanism that takes a namespace out of the constraint's match is named, a namespace the
webhook never sees fails the run, and the Welkin profile (constraint
elastisys-require-networkpolicy in warn) is read with no option.

These tests change the webhook's namespaceSelector, Gatekeeper's Config and the
constraint: they hold the run's constraint lock exclusively, so no admission verdict is
taken meanwhile, and put every object back, also when they fail."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from tests.e2e.cli import npconform

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.cluster.workload import (
    delete_namespaces,
    ensure_namespace,
    grant_namespace_patch,
)
from npconform.gatekeeper import admission as adm
from npconform.gatekeeper import coverage as gkcov
from npconform.gatekeeper import install as gkinstall
from npconform.gatekeeper import names as gk
from npconform.gatekeeper import switches
from npconform.lock import load
from npconform.model.coverage import IGNORE_LABEL, compute, platform_rule
from npconform.platform.target import RunState

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.mutates_constraint,
    pytest.mark.xdist_group("constraint"),
    pytest.mark.check("COVERAGE-TOOL"),
]

UNSEEN = "npconform.io/coverage-unseen"
WELKIN = "elastisys-require-networkpolicy"


@dataclass
class Landscape:
    names: dict[str, str]  # role -> namespace
    rows: dict[str, dict[str, Any]]  # namespace -> row (in-process survey, JSON)
    declared: dict[str, dict[str, Any]]  # the same, with the Config one declared platform
    cli: subprocess.CompletedProcess[str]
    cli_rows: dict[str, dict[str, Any]]
    ignore_refused: str  # Gatekeeper's answer to the ignore label ("" if it took it)
    switch_off: dict[str, Any]  # the in-process survey's RBAC findings
    exempt_flags: dict[str, list[str]]  # read from Gatekeeper's controller Deployment


def _constraint(clients: Clients, name: str) -> dict[str, Any] | None:
    return adm.get_constraint(clients, name)


def _patch_constraint(clients: Clients, name: str, spec: dict[str, Any]) -> None:
    clients.custom().patch_cluster_custom_object(
        gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, name, {"spec": spec}
    )
    _enforced(clients, name)


def _enforced(clients: Clients, name: str) -> None:
    kube.wait_until(
        f"constraint {name} enforced by every webhook pod",
        lambda: gkinstall.constraint_enforced(clients, name),
        timeout=120,
    )


def _dry_run_answer(clients: Clients, ns: str, image: str, want: str) -> None:
    """Wait until a dry-run Pod without policy in ``ns`` gets ``want`` (Gatekeeper reads
    its Config asynchronously)."""

    def answered() -> bool:
        body = adm.workload_manifest("Pod", ns, "settle", {"app": "x"}, image, "settle")
        return adm.create(clients, body, dry_run=True).observed == want

    kube.wait_until(f"a dry-run Pod in {ns} to be {want}", answered, timeout=60)


def _cli(run_state: RunState, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return npconform(run_state.kubeconfig, "coverage", "--json", str(out), *args)


def _by_ns(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["namespace"]: r for r in doc["rows"]}


@pytest.fixture(scope="module")
def image(run_state: RunState) -> str:
    return run_state.options.probe_image or load().image("agnhost")


@pytest.fixture(scope="module")
def landscape(
    run_state: RunState, image: str, tmp_path_factory: pytest.TempPathFactory
) -> Landscape:
    clients = run_state.clients()
    run_id = run_state.options.run_id
    p = f"{run_state.options.namespace_prefix}-cov"
    names = {
        r: f"{p}-{r}"
        for r in ("tenant", "operator", "excluded", "unseen", "config", "ignore", "rbac")
    }
    with run_state.constraint_lock(exclusive=True):
        selector = copy.deepcopy(gkinstall.namespace_selector(clients))
        constraint = _constraint(clients, gk.CONSTRAINT_NAMES[0])
        assert constraint is not None, "the suite's constraint is not installed"
        excluded = list(constraint["spec"]["match"].get("excludedNamespaces") or [])
        try:
            ensure_namespace(clients, names["tenant"], {}, run_id)
            ensure_namespace(clients, names["operator"], {"owner": "operator"}, run_id)
            ensure_namespace(clients, names["excluded"], {}, run_id)
            ensure_namespace(clients, names["unseen"], {UNSEEN: "yes"}, run_id)
            ensure_namespace(clients, names["config"], {}, run_id)
            ensure_namespace(clients, names["rbac"], {}, run_id)
            grant_namespace_patch(clients, names["rbac"], "labeller", "ns-labeller", "labeller")
            refused = ""
            try:
                ensure_namespace(clients, names["ignore"], {IGNORE_LABEL: "yes"}, run_id)
            except ApiException as e:
                refused = adm.denial_message(e)
            extra = {"key": UNSEEN, "operator": "DoesNotExist"}
            gkinstall.namespace_selector(
                clients,
                {**selector, "matchExpressions": [*selector.get("matchExpressions", []), extra]},
            )
            gkinstall.set_config_match(
                clients, [{"excludedNamespaces": [names["config"]], "processes": ["webhook"]}]
            )
            _patch_constraint(
                clients,
                gk.CONSTRAINT_NAMES[0],
                {"match": {"excludedNamespaces": [*excluded, names["excluded"]]}},
            )
            for role in ("config", "excluded", "unseen"):
                _dry_run_answer(clients, names[role], image, "admitted")
            snap, cov = gkcov.survey(clients, image, run_id)
            switches.examine(clients, cov)
            # the same objects under a rule that declares the Config's namespace platform
            cov2 = compute(snap, platform_rule(namespaces=[names["config"]]))
            out = tmp_path_factory.mktemp("coverage") / "coverage.json"
            cli = _cli(run_state, out)
            cli_rows = _by_ns(json.loads(out.read_text())) if out.is_file() else {}
        finally:
            gkinstall.namespace_selector(clients, selector)
            gkinstall.set_config_match(clients, None)
            _patch_constraint(
                clients, gk.CONSTRAINT_NAMES[0], {"match": {"excludedNamespaces": excluded}}
            )
            delete_namespaces(
                clients, f"kubernetes.io/metadata.name in ({','.join(names.values())})"
            )
    doc = cov.to_json()
    return Landscape(
        names,
        _by_ns(doc),
        _by_ns(cov2.to_json()),
        cli,
        cli_rows,
        refused,
        doc["switch_off"],
        {k: list(v) for k, v in snap.exempt_flags.items()},
    )


def test_tenant_namespace_covered_and_proven(landscape: Landscape) -> None:
    row = landscape.rows[landscape.names["tenant"]]
    assert (row["status"], row["action"]) == ("covered", "deny"), row
    assert row["live"] == "denied" and row["agrees"] is True, row
    assert row["by"] == ["constraint require-networkpolicy (deny)"]


def test_each_exemption_mechanism_is_named(landscape: Landscape) -> None:
    n, rows = landscape.names, landscape.rows
    op = rows[n["operator"]]
    assert op["status"] == "exempt" and op["platform"] == "label owner=operator", op
    assert op["by"] == [
        "constraint require-networkpolicy spec.match.namespaceSelector {owner notin (operator)}"
    ]
    ex = rows[n["excluded"]]
    assert ex["status"] == "exempt", ex
    assert ex["by"] == [
        f"constraint require-networkpolicy spec.match.excludedNamespaces {n['excluded']}"
    ]
    assert ex["platform"] == "excluded by the constraint itself"
    cfg = landscape.declared[n["config"]]
    assert cfg["status"] == "exempt", cfg
    assert cfg["by"] == [
        f"Config config spec.match[0].excludedNamespaces {n['config']} (processes webhook)"
    ]
    assert cfg["platform"] == f"declared platform namespace {n['config']}"
    # the declared rule changes the verdict, not the answer: the same dry run proves it
    assert cfg["expected"] == "admitted" and cfg["probe_labels"] is not None
    for row in (op, ex, rows[n["config"]]):
        assert row["live"] == "admitted" and row["agrees"] is True, row
    # Gatekeeper's own namespace carries the ignore label, which the controller's
    # --exempt-namespace flag (read from its Deployment) lets it keep
    assert "gatekeeper-system" in landscape.exempt_flags["namespace"], landscape.exempt_flags
    gks = rows["gatekeeper-system"]
    assert gks["status"] == "exempt", gks
    assert gks["by"][0].startswith("webhook validation.gatekeeper.sh namespaceSelector"), gks
    assert f"(the namespace is labelled {IGNORE_LABEL}=" in gks["by"][0], gks


def test_gatekeeper_refuses_the_ignore_label_outside_its_exempt_namespaces(
    landscape: Landscape,
) -> None:
    """Gatekeeper lets only the namespaces of its --exempt-namespace flags carry the
    ignore label; had it taken it, the namespace would have to show as unprotected."""
    row = landscape.rows.get(landscape.names["ignore"])
    if landscape.ignore_refused:
        assert row is None
        assert IGNORE_LABEL in landscape.ignore_refused, landscape.ignore_refused
    else:
        assert row is not None and row["status"] == "unprotected", row
        assert f"labelled {IGNORE_LABEL}=yes" in row["by"][0]


def test_namespaces_outside_the_match_are_unprotected_and_fail(landscape: Landscape) -> None:
    n = landscape.names
    unseen = landscape.rows[n["unseen"]]
    assert unseen["status"] == "unprotected" and unseen["platform"] == "", unseen
    assert unseen["by"][0].startswith("webhook validation.gatekeeper.sh namespaceSelector")
    assert f"!{UNSEEN}" in unseen["by"][0]
    assert unseen["live"] == "admitted" and unseen["agrees"] is True
    cfg = landscape.rows[n["config"]]
    assert cfg["status"] == "unprotected", cfg
    # the command: the same rows, and exit 1
    cli = landscape.cli
    assert cli.returncode == 1, cli.stdout[-3000:] + cli.stderr[-2000:]
    assert landscape.cli_rows[n["unseen"]]["status"] == "unprotected"
    line = next(ln for ln in cli.stdout.splitlines() if ln.startswith(n["unseen"]))
    assert "unprotected" in line and "namespaceSelector" in line
    assert cli.stdout.splitlines()[-1].startswith("coverage FAIL:")


def test_tenant_service_account_that_can_label_its_namespace_is_listed(
    landscape: Landscape,
) -> None:
    ns = landscape.names["rbac"]
    found = [
        f
        for f in landscape.switch_off["findings"]
        if f["subject"] == f"ServiceAccount {ns}/labeller"
    ]
    assert len(found) == 1, landscape.switch_off
    f = found[0]
    assert (f["can"], f["verb"], f["scope"]) == (
        "label or annotate namespaces",
        "patch",
        f"namespace {ns}",
    )
    assert f["binding"] == f"RoleBinding {ns}/labeller -> Role ns-labeller"
    assert f["platform"] is False and f["confirmed"] is True, f
    assert landscape.switch_off["breaches"] >= 1
    assert f"OUTSIDE THE PLATFORM: ServiceAccount {ns}/labeller" in landscape.cli.stdout


@pytest.fixture
def welkin(run_state: RunState) -> Iterator[tuple[Clients, str]]:
    """The Welkin profile: the suite's constraint replaced by one named
    elastisys-require-networkpolicy in warn mode, the same match (owner=operator exempt)."""
    clients = run_state.clients()
    ours = gk.CONSTRAINT_NAMES[0]
    with run_state.constraint_lock(exclusive=True):
        saved = _constraint(clients, ours)
        assert saved is not None
        twin = {
            "apiVersion": f"{gk.CONSTRAINT_GROUP}/{gk.CONSTRAINT_VERSION}",
            "kind": gk.CONSTRAINT_KIND,
            "metadata": {"name": WELKIN, "labels": {"app.kubernetes.io/part-of": "npconform"}},
            "spec": {**copy.deepcopy(saved["spec"]), "enforcementAction": "warn"},
        }
        restore = {
            "apiVersion": twin["apiVersion"],
            "kind": twin["kind"],
            "metadata": {"name": ours, "labels": saved["metadata"].get("labels") or {}},
            "spec": saved["spec"],
        }
        ns = f"{run_state.options.namespace_prefix}-cov-welkin"
        try:
            kube.apply(clients, [twin])
            _enforced(clients, WELKIN)
            clients.custom().delete_cluster_custom_object(
                gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, ours
            )
            ensure_namespace(clients, ns, {}, run_state.options.run_id)
            yield clients, ns
        finally:
            kube.apply(clients, [restore])
            _enforced(clients, ours)
            try:
                clients.custom().delete_cluster_custom_object(
                    gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, WELKIN
                )
            except ApiException as e:
                if e.status != 404:
                    raise
            delete_namespaces(clients, f"kubernetes.io/metadata.name={ns}")


def test_welkin_profile_with_no_option(
    welkin: tuple[Clients, str], run_state: RunState, tmp_path: Path
) -> None:
    _, ns = welkin
    proc = _cli(run_state, tmp_path / "welkin.json")
    rows = _by_ns(json.loads((tmp_path / "welkin.json").read_text()))
    row = rows[ns]
    assert (row["status"], row["action"]) == ("covered", "warn"), proc.stdout[-3000:]
    assert row["by"] == [f"constraint {WELKIN} (warn)"]
    assert row["live"] == "warned" and row["agrees"] is True, row
    assert rows["kube-system"]["status"] == "exempt"
    assert not [r for r in rows.values() if r["status"] == "unprotected"], proc.stdout[-3000:]
