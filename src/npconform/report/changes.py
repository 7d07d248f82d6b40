"""The changes between two runs' results documents, and how they read: the run verdict
and each control's (worse or better, by the severity PASS < INCOMPLETE < FAIL), check
statuses, traffic cells, policies, safeguard objects, component versions. What finds them
is :mod:`npconform.report.diff`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from npconform.verdict.rules import INCOMPLETE, VERDICTS, plural

CellKey = tuple[str, str, int, str, str]
StepKey = tuple[str, str]

#: Changed cells listed one by one in the text; the rest are counted.
CELL_LIMIT = 40
#: Cells present in only one run, named per step as examples; the rest are counted.
EXAMPLES = 3

WORSE = "worse"
BETTER = "better"
SAME = "same"


def severity(verdict: str | None) -> int:
    """PASS < INCOMPLETE < FAIL; a verdict that is missing or unknown is not proven, so
    it counts as INCOMPLETE."""
    return VERDICTS.index(verdict if verdict in VERDICTS else INCOMPLETE)


def cell_text(key: CellKey) -> str:
    src, dst, port, proto, via = key
    return f"{src} -> {dst}:{port}/{proto}" + (f" (via {via})" if via != "pod" else "")


def _value(v: object) -> str:
    return "-" if v is None or v == "" else str(v)


@dataclass(frozen=True)
class VerdictChange:
    """The run's verdict (``id`` ``"run"``) or a control's, old -> new (None: absent)."""

    id: str
    title: str
    old: str | None
    new: str | None
    detail: str = ""  # the new run's reason (run) or evidence (control)

    @property
    def direction(self) -> str:
        o, n = severity(self.old), severity(self.new)
        return WORSE if n > o else BETTER if n < o else SAME


@dataclass(frozen=True)
class CheckChange:
    id: str
    old: str | None  # status; None: the check is not in that run
    new: str | None
    reason: str = ""  # the new run's reason


@dataclass(frozen=True)
class CellState:
    """One cell in one run: the observed outcome class and the verdict it reads as (None:
    no verdict), the expected verdict (None: not expected), and its kind by
    :func:`~npconform.verdict.rules.compare_step` (allowed, blocked, leak, loss, refused,
    unobserved; ``not expected`` for a cell observed but not expected)."""

    outcome: str | None
    allowed: bool | None
    expected: bool | None
    kind: str

    def text(self) -> str:
        if self.outcome is None:
            return "unobserved"
        reads = {True: "allowed", False: "blocked", None: "no verdict"}[self.allowed]
        return f"{self.outcome} ({reads})"

    def same(self, other: CellState) -> bool:
        return (self.outcome, self.allowed, self.expected) == (
            other.outcome,
            other.allowed,
            other.expected,
        )


@dataclass(frozen=True)
class CellChange:
    scenario: str
    step: str
    cell: CellKey
    old: CellState
    new: CellState

    def text(self) -> str:
        o, n = self.old, self.new
        kind = f"{o.kind} -> {n.kind}" if o.kind != n.kind else n.kind
        line = f"{cell_text(self.cell)}: {o.text()} -> {n.text()} [{kind}]"
        if o.expected != n.expected:
            line += f", expected {_verdict_word(o.expected)} -> {_verdict_word(n.expected)}"
        return line


def _verdict_word(v: bool | None) -> str:
    return "-" if v is None else "allowed" if v else "blocked"


@dataclass(frozen=True)
class UnmatchedCells:
    """Cells of a step that only one of the runs has (``present``: the step is in
    ``"both"`` runs, or only in the ``"old"`` or the ``"new"`` one)."""

    scenario: str
    step: str
    present: str
    old_only: tuple[CellKey, ...] = ()
    new_only: tuple[CellKey, ...] = ()


@dataclass(frozen=True)
class PolicyChange:
    scenario: str
    step: str
    policy: str  # namespace/name
    old: str | None  # sha256; None: not in force in that run
    new: str | None

    @property
    def change(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"


@dataclass(frozen=True)
class ArtifactChange:
    kind: str
    namespace: str
    name: str
    old: str | None  # sha256; None: absent, or recorded without a digest
    new: str | None
    old_present: bool = True
    new_present: bool = True

    @property
    def change(self) -> str:
        if not self.old_present:
            return "added"
        return "removed" if not self.new_present else "changed"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True)
class VersionChange:
    component: str
    old: str | None
    new: str | None


@dataclass
class Diff:
    old_run: str
    new_run: str
    verdict: VerdictChange
    controls: list[VerdictChange] = field(default_factory=list)
    checks: list[CheckChange] = field(default_factory=list)
    cells: list[CellChange] = field(default_factory=list)
    unmatched: list[UnmatchedCells] = field(default_factory=list)
    policies: list[PolicyChange] = field(default_factory=list)
    artifacts: list[ArtifactChange] = field(default_factory=list)
    versions: list[VersionChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. the runs saw different clusters

    @property
    def worse(self) -> bool:
        """The run's verdict or any control's got worse."""
        return self.verdict.direction == WORSE or any(c.direction == WORSE for c in self.controls)

    @property
    def changed(self) -> bool:
        return self.verdict.old != self.verdict.new or any(
            (
                self.controls,
                self.checks,
                self.cells,
                self.unmatched,
                self.policies,
                self.artifacts,
                self.versions,
            )
        )

    def text(self) -> str:
        lines = [f"old: {self.old_run}", f"new: {self.new_run}"]
        lines += [f"note: {n}" for n in self.notes]
        v = self.verdict
        if v.old == v.new:
            lines.append(f"verdict: {_value(v.new)} (unchanged)")
        else:
            lines.append(f"verdict: {_value(v.old)} -> {_value(v.new)} ({v.direction})")
            if v.detail:
                lines.append(f"  {v.detail}")
        if not self.changed:
            lines.append("no changes")
            return "\n".join(lines)
        if self.controls:
            lines.append("controls:")
            for c in self.controls:
                lines.append(
                    f"  {c.id} {c.title}: {_value(c.old)} -> {_value(c.new)} ({c.direction})"
                )
                if c.detail and c.direction == WORSE:
                    lines.append(f"    {_short(c.detail)}")
        if self.checks:
            lines.append("checks:")
            for k in self.checks:
                reason = f" ({_short(k.reason)})" if k.reason else ""
                lines.append(f"  {k.id}: {_value(k.old)} -> {_value(k.new)}{reason}")
        if self.cells:
            lines.append(f"traffic cells: {plural(len(self.cells), 'cell')} changed")
            shown = self.cells[:CELL_LIMIT]
            for label, group in _by_step(shown):
                lines.append(f"  {label}:")
                lines += [f"    {c.text()}" for c in group]
            if len(self.cells) > len(shown):
                lines.append(f"  ... and {len(self.cells) - len(shown)} more changed cell(s)")
        if self.unmatched:
            lines.append("traffic cells in only one run:")
            lines += [f"  {_unmatched_text(u)}" for u in self.unmatched]
        if self.policies:
            lines.append("policies:")
            for label, pgroup in _by_step(self.policies):
                parts = []
                for p in pgroup:
                    if p.change == "changed":
                        parts.append(f"{p.policy} changed ({_digest(p.old)} -> {_digest(p.new)})")
                    else:
                        parts.append(f"{p.policy} {p.change}")
                lines.append(f"  {label}: " + "; ".join(parts))
        if self.artifacts:
            lines.append("safeguard objects:")
            for a in self.artifacts:
                if a.change == "changed":
                    lines.append(f"  {a.label}: sha256 {_digest(a.old)} -> {_digest(a.new)}")
                else:
                    lines.append(f"  {a.label}: {a.change}")
        if self.versions:
            lines.append("versions:")
            lines += [f"  {x.component}: {_value(x.old)} -> {_value(x.new)}" for x in self.versions]
        return "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _digest(d: str | None) -> str:
    return d[:12] if d else "-"


def _by_step(
    items: Iterable[CellChange | PolicyChange],
) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    for i in items:
        groups.setdefault(f"{i.scenario} / {i.step}", []).append(i)
    return list(groups.items())


def _unmatched_text(u: UnmatchedCells) -> str:
    label = f"{u.scenario} / {u.step}"
    if u.present == "old":
        return f"{label}: step only in the old run ({plural(len(u.old_only), 'cell')})"
    if u.present == "new":
        return f"{label}: step only in the new run ({plural(len(u.new_only), 'cell')})"
    parts = []
    for where, keys in (("old", u.old_only), ("new", u.new_only)):
        if keys:
            examples = ", ".join(cell_text(k) for k in keys[:EXAMPLES])
            more = f" and {len(keys) - EXAMPLES} more" if len(keys) > EXAMPLES else ""
            parts.append(
                f"{plural(len(keys), 'cell')} only in the {where} run (e.g. {examples}{more})"
            )
    return f"{label}: " + "; ".join(parts)
