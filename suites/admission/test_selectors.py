"""Scenario 2: which pods a NetworkPolicy's podSelector covers, as the constraint sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from npconform import admission as adm
from npconform.cluster.client import Clients
from npconform.session import RunState
from npconform.workload import apply_policies, ensure_namespace

from .conftest import Verify
from .policies import expr, match_labels, policy

pytestmark = [pytest.mark.admission, pytest.mark.cluster]


@dataclass
class Case:
    id: str
    selectors: list[dict[str, Any]]  # podSelectors of the policies in the pod's namespace
    labels: dict[str, str]
    admitted: bool
    elsewhere: list[dict[str, Any]] = field(default_factory=list)  # policies in another namespace
    deny_all: bool = False


CASES = [
    Case("matchLabels-equal", [match_labels(app="web")], {"app": "web"}, True),
    Case("matchLabels-wrong-value", [match_labels(app="web")], {"app": "db"}, False),
    Case("matchLabels-wrong-key", [match_labels(app="web")], {"role": "web"}, False),
    Case("matchLabels-all-pairs", [match_labels(app="web", tier="fe")], {"app": "web"}, False),
    Case(
        "In-value-listed",
        [{"matchExpressions": [expr("app", "In", "web", "api")]}],
        {"app": "api"},
        True,
    ),
    Case(
        "In-value-not-listed",
        [{"matchExpressions": [expr("app", "In", "web", "api")]}],
        {"app": "db"},
        False,
    ),
    Case(
        "In-key-missing", [{"matchExpressions": [expr("app", "In", "web")]}], {"tier": "fe"}, False
    ),
    Case(
        "NotIn-value-not-listed",
        [{"matchExpressions": [expr("app", "NotIn", "db")]}],
        {"app": "web"},
        True,
    ),
    Case(
        "NotIn-value-listed",
        [{"matchExpressions": [expr("app", "NotIn", "db")]}],
        {"app": "db"},
        False,
    ),
    Case(
        "NotIn-key-missing",
        [{"matchExpressions": [expr("app", "NotIn", "db")]}],
        {"tier": "fe"},
        True,
    ),
    Case("Exists-present", [{"matchExpressions": [expr("app", "Exists")]}], {"app": "x"}, True),
    Case("Exists-absent", [{"matchExpressions": [expr("app", "Exists")]}], {"tier": "fe"}, False),
    Case(
        "DoesNotExist-absent",
        [{"matchExpressions": [expr("legacy", "DoesNotExist")]}],
        {"app": "x"},
        True,
    ),
    Case(
        "DoesNotExist-present",
        [{"matchExpressions": [expr("legacy", "DoesNotExist")]}],
        {"legacy": "1"},
        False,
    ),
    Case(
        "mixed-both-match",
        [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
        {"app": "web", "tier": "fe"},
        True,
    ),
    Case(
        "mixed-expression-fails",
        [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
        {"app": "web", "tier": "be"},
        False,
    ),
    Case(
        "mixed-labels-fail",
        [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
        {"app": "db", "tier": "fe"},
        False,
    ),
    Case("empty-selector", [{}], {"app": "anything"}, True),
    Case("empty-selector-default-deny", [{}], {"app": "anything"}, True, deny_all=True),
    Case("empty-selector-unlabelled-pod", [{}], {}, True),
    Case("unlabelled-pod", [match_labels(app="web")], {}, False),
    Case("no-policy-at-all", [], {"app": "web"}, False),
    Case("policy-in-other-namespace-only", [], {"app": "web"}, False, elsewhere=[{}]),
    Case(
        "second-of-two-policies-matches",
        [match_labels(app="db"), match_labels(app="web")],
        {"app": "web"},
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_selector(
    case: Case,
    clients: Clients,
    namespace: str,
    verify: Verify,
    probe_image: str,
    run_state: RunState,
) -> None:
    run_id = run_state.options.run_id
    pols = [policy(namespace, f"p{i}", sel, case.deny_all) for i, sel in enumerate(case.selectors)]
    if case.elsewhere:
        other = f"{namespace}-other"
        ensure_namespace(clients, other, {}, run_id)
        apply_policies(
            clients, [policy(other, f"o{i}", s) for i, s in enumerate(case.elsewhere)], run_id
        )
    apply_policies(clients, pols, run_id)
    body = adm.workload_manifest("Pod", namespace, "pod", case.labels, probe_image, run_id)
    if case.admitted:
        verify.admitted(adm.create_after_sync(clients, body), case.id)
    else:
        verify.refused(adm.create(clients, body), case.id)
