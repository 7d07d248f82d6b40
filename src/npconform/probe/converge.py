"""Convergence: re-probe only disagreeing cells until they agree or a deadline passes,
then confirm with one full pass. A cell that changes in the confirmation pass flaps."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from npconform.model.matrix import Cell, Matrix
from npconform.probe.engine import Probe, ProbeEngine, Source


@dataclass
class Outcome:
    expected: Matrix
    observed: Matrix
    converge_seconds: float  # until every cell agreed (or the deadline)
    rounds: int
    flapping: list[Cell] = field(default_factory=list)
    probe_seconds: list[float] = field(default_factory=list)  # wall time of each round

    @property
    def mismatches(self) -> list[Cell]:
        return self.expected.mismatches(self.observed)

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


def observe(
    engine: ProbeEngine, probes: Mapping[Cell, tuple[Source, Probe]], cells: Sequence[Cell]
) -> Matrix:
    m = Matrix()
    for batch in engine.run(_plan(cells, probes)):
        for cell, o in batch.observations.items():
            m[cell] = o.allowed
    return m


def converge(
    engine: ProbeEngine,
    probes: Mapping[Cell, tuple[Source, Probe]],
    expected: Matrix,
    deadline: float = 30.0,
    confirm: bool = True,
) -> Outcome:
    t0 = time.monotonic()
    cells = list(expected)
    rounds = 0
    times = []
    observed = Matrix()
    todo = cells
    while True:
        r0 = time.monotonic()
        got = observe(engine, probes, todo)
        times.append(time.monotonic() - r0)
        rounds += 1
        for c, v in got.items():
            observed[c] = v
        todo = expected.mismatches(observed)
        if not todo or time.monotonic() - t0 >= deadline:
            break
    converged = time.monotonic() - t0
    flapping: list[Cell] = []
    if confirm:
        r0 = time.monotonic()
        final = observe(engine, probes, cells)
        times.append(time.monotonic() - r0)
        flapping = [c for c in cells if final.get(c) is not observed.get(c)]
        for c in cells:
            if c in final:
                observed[c] = final[c]
    return Outcome(
        expected, observed, round(converged, 2), rounds, flapping, [round(t, 2) for t in times]
    )
