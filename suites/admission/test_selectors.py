"""Scenario 2: which pods a NetworkPolicy's podSelector covers, as the constraint sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from npconform.cluster.client import Clients
from npconform.cluster.workload import apply_policies, ensure_namespace
from npconform.gatekeeper import admission as adm
from npconform.model.witness import witness_labels
from npconform.platform.target import RunState

from .conftest import Verify
from .policies import expr, match_labels, policy

pytestmark = [pytest.mark.admission, pytest.mark.cluster, pytest.mark.check("ADM-SELECTORS")]


@dataclass
class SelectorCase:
    id: str
    selectors: list[dict[str, Any]]  # podSelectors of the policies in the pod's namespace
    labels: dict[str, str]
    admitted: bool
    elsewhere: list[dict[str, Any]] = field(default_factory=list)  # policies in another namespace
    deny_all: bool = False


CASES = [
    SelectorCase("matchLabels-equal", [match_labels(app="web")], {"app": "web"}, True),
    SelectorCase("matchLabels-wrong-value", [match_labels(app="web")], {"app": "db"}, False),
    SelectorCase("matchLabels-wrong-key", [match_labels(app="web")], {"role": "web"}, False),
    SelectorCase(
        "matchLabels-all-pairs", [match_labels(app="web", tier="fe")], {"app": "web"}, False
    ),
    SelectorCase(
        "In-value-listed",
        [{"matchExpressions": [expr("app", "In", "web", "api")]}],
        {"app": "api"},
        True,
    ),
    SelectorCase(
        "In-value-not-listed",
        [{"matchExpressions": [expr("app", "In", "web", "api")]}],
        {"app": "db"},
        False,
    ),
    SelectorCase(
        "In-key-missing", [{"matchExpressions": [expr("app", "In", "web")]}], {"tier": "fe"}, False
    ),
    SelectorCase(
        "NotIn-value-not-listed",
        [{"matchExpressions": [expr("app", "NotIn", "db")]}],
        {"app": "web"},
        True,
    ),
    SelectorCase(
        "NotIn-value-listed",
        [{"matchExpressions": [expr("app", "NotIn", "db")]}],
        {"app": "db"},
        False,
    ),
    SelectorCase(
        "NotIn-key-missing",
        [{"matchExpressions": [expr("app", "NotIn", "db")]}],
        {"tier": "fe"},
        True,
    ),
    SelectorCase(
        "Exists-present", [{"matchExpressions": [expr("app", "Exists")]}], {"app": "x"}, True
    ),
    SelectorCase(
        "Exists-absent", [{"matchExpressions": [expr("app", "Exists")]}], {"tier": "fe"}, False
    ),
    SelectorCase(
        "DoesNotExist-absent",
        [{"matchExpressions": [expr("legacy", "DoesNotExist")]}],
        {"app": "x"},
        True,
    ),
    SelectorCase(
        "DoesNotExist-present",
        [{"matchExpressions": [expr("legacy", "DoesNotExist")]}],
        {"legacy": "1"},
        False,
    ),
    SelectorCase(
        "mixed-both-match",
        [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
        {"app": "web", "tier": "fe"},
        True,
    ),
    SelectorCase(
        "mixed-expression-fails",
        [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
        {"app": "web", "tier": "be"},
        False,
    ),
    SelectorCase(
        "mixed-labels-fail",
        [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
        {"app": "db", "tier": "fe"},
        False,
    ),
    SelectorCase("empty-selector", [{}], {"app": "anything"}, True),
    SelectorCase("empty-selector-default-deny", [{}], {"app": "anything"}, True, deny_all=True),
    SelectorCase("empty-selector-unlabelled-pod", [{}], {}, True),
    SelectorCase("unlabelled-pod", [match_labels(app="web")], {}, False),
    SelectorCase("no-policy-at-all", [], {"app": "web"}, False),
    SelectorCase("policy-in-other-namespace-only", [], {"app": "web"}, False, elsewhere=[{}]),
    SelectorCase(
        "second-of-two-policies-matches",
        [match_labels(app="db"), match_labels(app="web")],
        {"app": "web"},
        True,
    ),
]


def prove_policies_synced(
    clients: Clients,
    verify: Verify,
    case: SelectorCase,
    policies: list[dict[str, Any]],
    image: str,
    run_id: str,
) -> None:
    """Before a "must be refused" verdict: each of ``policies`` (of one namespace) admits a
    witness pod it selects on every webhook pod, so it is in every inventory and a refusal
    means its selector was evaluated and did not match. Each witness is an evidence row."""
    selectors = [p["spec"]["podSelector"] for p in policies]
    if witness_labels(selectors) is None:
        pytest.fail(
            f"{case.id}: the case has no satisfiable selector, so no witness pod can prove "
            f"its policies reached Gatekeeper's inventory (a scenario bug): {selectors}",
            pytrace=False,
        )
    for p in policies:
        labels = witness_labels([p["spec"]["podSelector"]])
        if labels is None:
            continue  # selects no pod at all: nothing can show it synced, nor can it matter
        meta = p["metadata"]
        name = f"{meta['namespace']}/{meta['name']}" if len(policies) > 1 else ""
        try:
            result = adm.prove_synced(clients, meta["namespace"], labels, image, run_id)
        except adm.NotSynced as e:
            verify.witnessed(e.last, case.id, failure=str(e), policy=name)  # fails the test
        else:
            verify.witnessed(result, case.id, policy=name)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_selector(
    case: SelectorCase,
    clients: Clients,
    namespace: str,
    verify: Verify,
    probe_image: str,
    run_state: RunState,
) -> None:
    run_id = run_state.options.run_id
    pols = [policy(namespace, f"p{i}", sel, case.deny_all) for i, sel in enumerate(case.selectors)]
    others: list[dict[str, Any]] = []
    if case.elsewhere:
        other = f"{namespace}-other"
        ensure_namespace(clients, other, {}, run_id)
        others = [policy(other, f"o{i}", s) for i, s in enumerate(case.elsewhere)]
        apply_policies(clients, others, run_id)
    apply_policies(clients, pols, run_id)
    body = adm.workload_manifest("Pod", namespace, "pod", case.labels, probe_image, run_id)
    if case.admitted:
        verify.admitted(adm.create_after_sync(clients, body), case.id)
        return
    # A refusal right after a policy is applied may only mean that the policy has not reached
    # the webhook pod that answered. Prove first that every policy of the case has: those of
    # the pod's namespace, and those of the other namespace (so that a refusal there means a
    # policy elsewhere does not count). Without any policy there is nothing to sync.
    for synced in (pols, others):
        if synced:
            prove_policies_synced(clients, verify, case, synced, probe_image, run_id)
    verify.refused(adm.create(clients, body), case.id)
