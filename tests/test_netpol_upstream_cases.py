"""The oracle reproduces every category of Kubernetes' netpol e2e (the cases live in
npconform.model.e2e_cases, shared with the cluster suite)."""

from __future__ import annotations

import pytest

from npconform.model.e2e_cases import CASES, NAMESPACES, PEERS, PODS, Case, Expect, expected_matrix
from npconform.model.matrix import render_comparison
from npconform.model.netpol import PolicyEngine, load_policies


def test_cases_have_unique_names() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 30


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_upstream_case(c: Case) -> None:
    policies = load_policies("---\n".join(c.policies))
    assert len(policies) == len(c.policies)
    engine = PolicyEngine(NAMESPACES, PODS, policies)
    expected = expected_matrix(c)
    observed = engine.matrix(PEERS, PEERS, [col for col, _ in c.columns()])
    assert observed.cells.keys() == expected.cells.keys()
    wrong = expected.mismatches(observed)
    assert not wrong, f"{c.name}\n{render_comparison(expected, observed)}"


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_case_patterns_match_something(c: Case) -> None:
    """Guard against typos in the expectations: every pattern names at least one cell."""
    ids = [p.id for p in PEERS]
    for _, exp in c.columns():
        for pattern in exp.patterns():
            assert any(Expect._match(pattern, s, d) for s in ids for d in ids if s != d), (
                f"{c.name}: {pattern!r} matches no pair"
            )
