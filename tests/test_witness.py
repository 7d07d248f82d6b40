"""Witnesses of "must be refused" admission cases: labels a case's policy selects (checked
with the engine), and the dry-run proof that the policy reached every webhook pod."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from suites.admission.policies import expr, match_labels
from suites.admission.test_selectors import CASES, SelectorCase

from npconform.gatekeeper import admission as adm
from npconform.model.netpol import NetworkPolicyError, parse_selector
from npconform.model.strategies import label_selectors
from npconform.model.witness import witness_labels


def selected(labels: Mapping[str, str], selectors: Sequence[Mapping[str, Any]]) -> bool:
    return any(parse_selector(s).matches(labels) for s in selectors)


# --------------------------------------------------------------------------- the suite's cases


def _policy_sets(case: SelectorCase) -> list[list[dict[str, Any]]]:
    return [s for s in (case.selectors, case.elsewhere) if s]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_with_policies_has_a_witness_its_selectors_select(case: SelectorCase) -> None:
    for selectors in _policy_sets(case):
        w = witness_labels(selectors)
        assert w is not None, f"{case.id}: no witness for {selectors}"
        assert selected(w, selectors), f"{case.id}: {w} is not selected by {selectors}"
        for s in selectors:  # the suite witnesses each policy on its own
            one = witness_labels([s])
            assert one is not None
            assert parse_selector(s).matches(one)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_cases_expectations_agree_with_the_engine(case: SelectorCase) -> None:
    # What a refused case's pod must not have: a selector of its own namespace matching it.
    assert selected(case.labels, case.selectors) == case.admitted, case.id


def test_the_cases_without_policy_in_the_pods_namespace_are_the_expected_ones() -> None:
    assert {c.id for c in CASES if not c.selectors} == {
        "no-policy-at-all",
        "policy-in-other-namespace-only",
    }


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ([{}], {}),
        ([match_labels(app="web", tier="fe")], {"app": "web", "tier": "fe"}),
        ([{"matchExpressions": [expr("app", "In", "web", "api")]}], {"app": "web"}),
        ([{"matchExpressions": [expr("app", "NotIn", "db")]}], {}),
        ([{"matchExpressions": [expr("app", "Exists")]}], {"app": "witness"}),
        ([{"matchExpressions": [expr("legacy", "DoesNotExist")]}], {}),
        (
            [{"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "fe")]}],
            {"app": "web", "tier": "fe"},
        ),
        # Several terms on one key: the first value all of them allow.
        (
            [{"matchExpressions": [expr("app", "In", "a", "b"), expr("app", "In", "b", "c")]}],
            {"app": "b"},
        ),
        (
            [{"matchExpressions": [expr("app", "In", "a", "b"), expr("app", "NotIn", "a")]}],
            {"app": "b"},
        ),
        (
            [{"matchExpressions": [expr("app", "Exists"), expr("app", "NotIn", "witness")]}],
            {"app": "witness-1"},
        ),
        ([{"matchExpressions": [expr("app", "In", "x"), expr("app", "Exists")]}], {"app": "x"}),
        # The first satisfiable selector wins.
        (
            [
                {"matchExpressions": [expr("a", "In", "x"), expr("a", "NotIn", "x")]},
                match_labels(b="y"),
            ],
            {"b": "y"},
        ),
        ([match_labels(app="db"), match_labels(app="web")], {"app": "db"}),
    ],
)
def test_witness_labels(selectors: list[dict[str, Any]], expected: dict[str, str]) -> None:
    assert witness_labels(selectors) == expected
    assert selected(expected, selectors)


@pytest.mark.parametrize(
    "selectors",
    [
        [],
        [{"matchExpressions": [expr("app", "In", "a"), expr("app", "NotIn", "a")]}],
        [{"matchExpressions": [expr("app", "Exists"), expr("app", "DoesNotExist")]}],
        [{"matchExpressions": [expr("app", "In", "a"), expr("app", "In", "b")]}],
        [{"matchLabels": {"app": "a"}, "matchExpressions": [expr("app", "In", "b")]}],
        [{"matchLabels": {"app": "a"}, "matchExpressions": [expr("app", "NotIn", "a")]}],
        [{"matchLabels": {"app": "a"}, "matchExpressions": [expr("app", "DoesNotExist")]}],
        [
            {"matchExpressions": [expr("app", "In", "a"), expr("app", "NotIn", "a")]},
            {"matchExpressions": [expr("x", "Exists"), expr("x", "DoesNotExist")]},
        ],
    ],
)
def test_unsatisfiable_selectors_have_no_witness(selectors: list[dict[str, Any]]) -> None:
    assert witness_labels(selectors) is None


def test_a_malformed_selector_is_an_error_not_a_missing_witness() -> None:
    with pytest.raises(NetworkPolicyError, match="operator"):
        witness_labels([{"matchExpressions": [{"key": "app", "operator": "Equals"}]}])


POOL = {"app": ["web", "db"], "k": ["witness", "witness-1"]}


@st.composite
def dense_selectors(draw: st.DrawFn) -> dict[str, Any]:
    """Selectors with up to four terms over POOL's two keys: terms on one key often meet."""
    key = st.sampled_from(sorted(POOL))
    sel: dict[str, Any] = {}
    labels = draw(st.dictionaries(key, st.just(""), max_size=1))
    if labels:
        sel["matchLabels"] = {k: draw(st.sampled_from(POOL[k])) for k in labels}
    exprs = []
    for _ in range(draw(st.integers(0, 4))):
        k = draw(key)
        op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        values = draw(st.lists(st.sampled_from(POOL[k]), min_size=1, max_size=2, unique=True))
        exprs.append(expr(k, op, *values) if op in ("In", "NotIn") else expr(k, op))
    if exprs:
        sel["matchExpressions"] = exprs
    return sel


def _every_label_set() -> Iterator[dict[str, str]]:
    """Every label set over POOL's keys, with POOL's values, one value no selector names, or
    the key absent: a selector over POOL that selects any pod selects one of these."""
    options = [[None, *vs, "unnamed"] for vs in POOL.values()]
    for combo in itertools.product(*options):
        yield {k: v for k, v in zip(POOL, combo, strict=True) if v is not None}


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(label_selectors(POOL), dense_selectors()), min_size=1, max_size=3))
def test_a_witness_exactly_when_some_selector_is_satisfiable(
    selectors: list[dict[str, Any]],
) -> None:
    w = witness_labels(selectors)
    satisfiable = any(selected(labels, selectors) for labels in _every_label_set())
    assert (w is not None) == satisfiable, (selectors, w)
    if w is not None:
        assert selected(w, selectors)


# --------------------------------------------------------------------------- the proof


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake webhook with 2 pods answering the scripted dry runs (then its last answer)."""
    seen: dict[str, Any] = {"dry": 0, "real": 0, "bodies": []}

    def setup(seq: list[bool]) -> dict[str, Any]:
        def answers() -> Iterator[bool]:
            yield from seq
            while True:
                yield seq[-1]

        it = answers()

        def create(clients: Any, body: Any, dry_run: bool = False) -> adm.Admission:
            seen["dry" if dry_run else "real"] += 1
            seen["bodies"].append(body)
            meta = body["metadata"]
            ok = next(it)
            return adm.Admission("Pod", meta["namespace"], meta["name"], ok, [], "" if ok else "no")

        monkeypatch.setattr(adm, "create", create)
        monkeypatch.setattr("npconform.gatekeeper.install.webhook_pods", lambda c: ["wh-0", "wh-1"])
        monkeypatch.setattr("npconform.gatekeeper.admission.time.sleep", lambda s: None)
        return seen

    return setup


def test_prove_synced_settles_on_dry_runs_and_creates_nothing(webhook: Any) -> None:
    seen = webhook([False, True, True, False] + [True] * 20)
    result = adm.prove_synced(None, "ns", {"app": "web"}, "img", "run")  # type: ignore[arg-type]
    assert result.observed == "admitted"
    assert result.id == "Pod/ns/witness"
    assert seen["real"] == 0
    assert seen["dry"] == 4 + 8  # a run of four answers per webhook pod, after the last refusal
    body = seen["bodies"][0]
    assert body["metadata"]["labels"]["app"] == "web"
    assert body["metadata"]["namespace"] == "ns"


def test_prove_synced_fails_clearly_when_the_policy_never_arrives(webhook: Any) -> None:
    seen = webhook([True, False] * 1000)
    with pytest.raises(AssertionError) as info:
        adm.prove_synced(None, "ns-other", {"app": "web"}, "img", "run", timeout=0.05)  # type: ignore[arg-type]
    assert isinstance(info.value, adm.NotSynced)
    message = str(info.value)
    assert "\n" not in message
    assert "ns-other/witness" in message
    assert "{'app': 'web'}" in message
    assert info.value.last is not None
    assert seen["real"] == 0
