"""Traffic scenarios as data: namespaces, pods, and steps; each step an action and the
matrix expected after it, written in the pattern language of :mod:`npconform.model.expect`
("everything blocked except ``tenant-a/frontend -> tenant-a/backend``"). One interpreter,
:func:`npconform.scenario.play.play`, runs them all.

Pods are named by logical id (``<namespace>/<pod>``) throughout, also after a step
recreates one: the patterns and the ``sources``/``targets`` selections speak of the pod the
scenario declared, the matrices show the pod that is there now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from npconform.model.expect import Expect, columns
from npconform.scenario.objects import PodDef


class SpecError(ValueError):
    """A scenario that cannot be run as written (a bad column, a pattern selecting
    nothing, an unknown pod): a bug of the test, raised before anything is created."""


@dataclass(frozen=True)
class Namespace:
    name: str  # logical
    labels: Mapping[str, str] = field(default_factory=dict)
    #: carries the admission constraint's exemption label (traffic tests the CNI only);
    #: False where the scenario's own policies must be admitted as they would be
    exempt: bool = True


@dataclass(frozen=True)
class Step:
    """One action on the scenario, then the matrix expected after it.

    ``expect`` maps space-separated ``<port>/<protocol>`` columns to an expectation over
    every (source, target) pair of ``sources`` x ``targets`` (fnmatch patterns over
    logical pod ids), a pod's traffic to itself left out."""

    name: str
    expect: Mapping[str, Expect]
    sources: Sequence[str] = ("*",)
    targets: Sequence[str] = ("*",)
    apply: Sequence[Mapping[str, Any]] = ()  # policies created or replaced
    delete: Sequence[str] = ()  # "<namespace>/<policy>"
    relabel_pods: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    relabel_namespaces: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    #: pod id -> its labels after it is replaced by a new pod (None: the same labels)
    recreate: Mapping[str, Mapping[str, str] | None] = field(default_factory=dict)

    def columns(self) -> list[tuple[tuple[int, str], Expect]]:
        try:
            return columns(self.expect)
        except ValueError as e:
            raise SpecError(f"step {self.name!r}: {e}") from None


@dataclass(frozen=True)
class Scenario:
    name: str
    namespaces: Sequence[Namespace]
    pods: Sequence[PodDef]
    steps: Sequence[Step]
    #: applied after the namespaces and before the pods, so that an enforcing admission
    #: constraint admits the pods
    policies: Sequence[Mapping[str, Any]] = ()

    def check(self) -> None:
        """Every step's columns parse, every pod and namespace it names exists, and its
        source and target patterns each select a pod."""
        ids = [p.id for p in self.pods]
        names = {n.name for n in self.namespaces}
        for p in self.pods:
            if p.ns not in names:
                raise SpecError(f"scenario {self.name!r}: pod {p.id} in an undeclared namespace")
        for s in self.steps:
            s.columns()
            for what, pats in (("sources", s.sources), ("targets", s.targets)):
                if not select(ids, pats):
                    raise SpecError(
                        f"scenario {self.name!r}, step {s.name!r}: {what} {list(pats)} "
                        "select no pod"
                    )
            for pid in [*s.relabel_pods, *s.recreate]:
                if pid not in ids:
                    raise SpecError(f"scenario {self.name!r}, step {s.name!r}: no pod {pid}")
            for ns in s.relabel_namespaces:
                if ns not in names:
                    raise SpecError(f"scenario {self.name!r}, step {s.name!r}: no namespace {ns}")


def select(ids: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The ids any of ``patterns`` matches, in the order of ``ids``."""
    return [i for i in ids if any(fnmatchcase(i, p) for p in patterns)]
