"""Hypothesis strategies over the generator of :mod:`npconform.model.generate`: label
selectors, ingress and egress rules, policies and policy sets, for property tests of the
engine. The generator's decisions are drawn by hypothesis here, so it shrinks them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from npconform.model.generate import (
    Chooser,
    gen_policy,
    gen_policy_set,
    gen_rule,
    gen_selector,
    vocabulary,
)
from npconform.model.netpol import ExternalPeer, NamespaceModel, PodModel

T = TypeVar("T")


class DrawChooser:
    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def flip(self) -> bool:
        return self.draw(st.booleans())


def _strategy(build: Callable[[Chooser], T]) -> st.SearchStrategy[T]:
    @st.composite
    def strategy(draw: st.DrawFn) -> T:
        return build(DrawChooser(draw))

    return strategy()


def label_selectors(pool: Mapping[str, Sequence[str]]) -> st.SearchStrategy[dict[str, Any]]:
    """Label selectors over ``pool`` (label key -> candidate values)."""
    items = tuple((k, tuple(vs)) for k, vs in pool.items())
    return _strategy(lambda c: gen_selector(c, items))


def rules(
    direction: str,
    namespaces: Sequence[NamespaceModel],
    pods: Sequence[PodModel],
    external: Sequence[ExternalPeer] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """One rule of ``direction`` (INGRESS or EGRESS) over the given objects."""
    v = vocabulary(namespaces, pods, external)
    return _strategy(lambda c: gen_rule(c, v, direction))


def policies(
    namespaces: Sequence[NamespaceModel],
    pods: Sequence[PodModel],
    external: Sequence[ExternalPeer] = (),
    *,
    name: str = "p0",
    namespace: str | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """One NetworkPolicy named ``name`` (in ``namespace``, or a drawn one)."""
    v = vocabulary(namespaces, pods, external)
    return _strategy(lambda c: gen_policy(c, v, name, namespace))


def policy_sets(
    namespaces: Sequence[NamespaceModel],
    pods: Sequence[PodModel],
    external: Sequence[ExternalPeer] = (),
    *,
    max_policies: int = 4,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """0..max_policies NetworkPolicies named ``p0``, ``p1``, ... over the model."""
    v = vocabulary(namespaces, pods, external)
    return _strategy(lambda c: gen_policy_set(c, v, max_policies))
