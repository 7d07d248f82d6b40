"""Convergence: re-probe only disagreeing cells until they agree or a deadline passes,
then confirm with one full pass. A cell that changes in the confirmation pass flaps.

Waits are short, so an answer that comes late on a busy node reads as a timeout. A cell
that was allowed and reads as blocked in the confirmation pass is therefore probed once
more with patient waits (:data:`PATIENCE` times longer) before it counts as a flap: a
connection made then is evidence that the flow is allowed, and the cell's detail says the
answer was late. The other direction (blocked, then connected) is never excused: a
connection is never an artefact of waiting.

A probe that errs (its tool is missing, its output is not understood) stops the step at
once with :class:`~npconform.probe.script.ProbeError`: an error is never a verdict. Only a
probe whose every attempt woke late (no reading at all) is first asked again."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from npconform.model.matrix import CONNECTED, DROP, ERROR, Cell, Matrix, Readings, reads_as
from npconform.probe.engine import ProbeEngine
from npconform.probe.script import Observation, Probe, ProbeError, Source


@dataclass
class Outcome:
    expected: Matrix
    observed: Readings
    converge_seconds: float  # until every cell agreed (or the deadline)
    rounds: int
    flapping: list[Cell] = field(default_factory=list)
    probe_seconds: list[float] = field(default_factory=list)  # wall time of each round
    blocking: frozenset[str] = DROP  # outcome classes that read as blocked
    details: dict[Cell, str] = field(default_factory=dict)  # what a probe said, if anything
    probe: dict[str, Any] = field(default_factory=dict)  # how the probes ran (ProbeEngine.runs)

    @property
    def mismatches(self) -> list[Cell]:
        return self.observed.mismatches(self.expected, self.blocking)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.flapping


def _plan(
    cells: Sequence[Cell], probes: Mapping[Cell, tuple[Source, Probe]]
) -> dict[Source, list[Probe]]:
    plan: dict[Source, list[Probe]] = defaultdict(list)
    for c in cells:
        src, p = probes[c]
        plan[src].append(p)
    return plan


#: How much longer the waits are when a cell's change to blocked is checked.
PATIENCE = 4.0


#: How often probes whose every attempt woke late (the program was starved of CPU: no
#: reading) are asked again, in a batch of their own, before they are an error.
STARVED_RETRIES = 2


def _raise_errors(
    engine: ProbeEngine,
    probes: Mapping[Cell, tuple[Source, Probe]],
    errors: list[tuple[Cell, Observation]],
) -> NoReturn:
    lines = [
        f"{c}: {o.detail}" + (f" (asked {1 + STARVED_RETRIES} times)" if o.starved else "")
        for c, o in errors[:5]
    ]
    src, p = probes[errors[0][0]]
    raise ProbeError(
        f"{len(errors)} probe(s) could not run (an error of the test, not a verdict):\n  "
        + "\n  ".join(lines)
        + f"\nrepeat one with:\n  {engine.repro(src, p)}"
    )


def observe(
    engine: ProbeEngine,
    probes: Mapping[Cell, tuple[Source, Probe]],
    cells: Sequence[Cell],
    patience: float = 1.0,
) -> dict[Cell, Observation]:
    """One round: every cell's observation, the waits ``patience`` times the engine's.
    A probe error raises ProbeError at once, naming the cells, the sources' repro commands
    and what the probe said. Only probes that got no reading because their process was
    starved of CPU are first asked again (:data:`STARVED_RETRIES` times, alone); a reading
    that comes then says so in its detail."""
    got: dict[Cell, Observation] = {}
    todo = list(cells)
    for asked in range(1, 2 + STARVED_RETRIES):
        plan = _plan(todo, probes)
        for batch in engine.run(plan) if patience == 1.0 else engine.run(plan, patience):
            got.update(batch.observations)
        errors = [(c, got[c]) for c in todo if c in got and got[c].outcome == ERROR]
        if any(not o.starved for _, o in errors):
            _raise_errors(engine, probes, [(c, o) for c, o in errors if not o.starved])
        if asked > 1:  # a reading after starved attempts says so
            note = f"asked {asked} times: the first {asked - 1} woke late (starved of CPU)"
            for c in [c for c in todo if c in got and not got[c].starved]:
                got[c] = Observation(got[c].outcome, "; ".join(filter(None, [got[c].detail, note])))
        todo = [c for c, _ in errors]
        if not todo:
            return got
    _raise_errors(engine, probes, [(c, got[c]) for c in todo])


def ask_patiently(
    engine: ProbeEngine,
    probes: Mapping[Cell, tuple[Source, Probe]],
    got: dict[Cell, Observation],
    allowed: Sequence[Cell],
    blocking: frozenset[str] = DROP,
) -> list[Cell]:
    """Probe again, with :data:`PATIENCE` times longer waits, every cell of ``allowed``
    (known to be allowed: it connected before) that reads as blocked in ``got``; each that
    connects now is replaced in ``got`` by a connected observation saying its answer came
    late. Returns those cells."""
    late = [c for c in allowed if c in got and reads_as(got[c].outcome, blocking) is False]
    if not late:
        return []
    again = observe(engine, probes, late, PATIENCE)
    answered = [c for c in late if again[c].outcome == CONNECTED]
    for c in answered:
        got[c] = Observation(
            CONNECTED,
            f"answered only with {PATIENCE:g}x longer waits (a late answer, not a change of "
            "verdict)",
        )
    return answered


def converge(
    engine: ProbeEngine,
    probes: Mapping[Cell, tuple[Source, Probe]],
    expected: Matrix,
    deadline: float = 30.0,
    confirm: bool = True,
    blocking: frozenset[str] = DROP,
) -> Outcome:
    t0 = time.monotonic()
    cells = list(expected)
    rounds = 0
    times = []
    observed = Readings()
    details: dict[Cell, str] = {}
    todo = cells
    while True:
        r0 = time.monotonic()
        got = observe(engine, probes, todo)
        times.append(time.monotonic() - r0)
        rounds += 1
        for c, o in got.items():
            observed[c] = o.outcome
            details[c] = o.detail
        todo = observed.mismatches(expected, blocking)
        if not todo or time.monotonic() - t0 >= deadline:
            break
    converged = time.monotonic() - t0
    flapping: list[Cell] = []
    if confirm:
        r0 = time.monotonic()
        final = observe(engine, probes, cells)
        ask_patiently(
            engine,
            probes,
            final,
            [c for c in cells if c in observed and reads_as(observed[c], blocking) is True],
            blocking,
        )
        times.append(time.monotonic() - r0)
        # a flap is a change of verdict: with a CNI that rejects, timeout and refused are
        # both "blocked", and a change between them is not a flap
        flapping = [
            c
            for c in cells
            if c in final
            and c in observed
            and reads_as(final[c].outcome, blocking) != reads_as(observed[c], blocking)
        ]
        for c, o in final.items():
            observed[c] = o.outcome
            details[c] = o.detail
    return Outcome(
        expected,
        observed,
        round(converged, 2),
        rounds,
        flapping,
        [round(t, 2) for t in times],
        blocking,
        {c: d for c, d in details.items() if d},
        engine.runs({src for src, _ in probes.values()}),
    )
