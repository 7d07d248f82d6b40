"""The cluster's own workloads, examined for tenant isolation: every pod and NetworkPolicy
outside the runs' own namespaces read, computed on pod classes, and judged against the
tenants file (``--tenants``). Nothing is created and nothing is sent: live proof is
``npconform deployed --verify``'s, an opt-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from npconform.cli import isolation_text
from npconform.cluster.client import Clients
from npconform.cluster.options import RunOptions, read_tenants
from npconform.cluster.workload import RUN_LABEL
from npconform.deployed.read import IsolationUndetermined, read_state
from npconform.gatekeeper.state import find_constraint
from npconform.model.coverage import platform_rule
from npconform.model.isolation import compute
from npconform.model.tenants import TENANT, TenantModel, default_model
from npconform.platform.target import RunState

pytestmark = [pytest.mark.cluster, pytest.mark.check("SEG-DEPLOYED")]


def tenant_model(opts: RunOptions, clients: Clients) -> TenantModel:
    """The tenants file, or: the platform rule of the run (labels and namespaces) plus the
    namespaces the require-networkpolicy constraint excludes, each other namespace a
    tenant of its own, every tenant intended to reach the cluster DNS."""
    if opts.tenants:
        return read_tenants(Path(opts.tenants))
    rule = platform_rule(opts.platform_labels, opts.platform_namespaces)
    constraint = find_constraint(clients) or {}
    match = (constraint.get("spec") or {}).get("match") or {}
    excluded = match.get("excludedNamespaces") or []
    return default_model(
        platform_labels=rule.labels,
        platform_namespaces=tuple(rule.namespaces) + tuple(excluded),
        source="(none: the run's platform rule and the constraint's excludedNamespaces)",
    )


def test_deployed_tenants_are_segregated(
    clients: Clients, run_state: RunState, record_evidence
) -> None:
    model = tenant_model(run_state.options, clients)
    # every run's own namespaces come and go while tests run: not examined here
    state = read_state(clients, skip=lambda name, labels: RUN_LABEL in labels)
    iso = compute(state, model)
    tenant_pods = [c for c in iso.classes if iso.member(c).kind == TENANT]
    if not tenant_pods and not state.unreadable:
        # nothing examined: no evidence, so the report and the A.8.22 claim say nothing
        pytest.skip(
            f"no tenant workload to examine outside the runs' own namespaces "
            f"({len(state.namespaces)} namespaces read, all platform or without running pods)"
        )
    doc = iso.to_json()
    record_evidence("isolation", doc)
    report = isolation_text(doc)
    assert iso.verdict != "FAIL", report
    if state.unreadable:
        raise IsolationUndetermined(f"not determined: namespaces that could not be read\n{report}")
