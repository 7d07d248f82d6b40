"""Convergence: only disagreeing cells are re-probed; a confirmation pass catches flaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from npconform.model.matrix import Cell, Matrix
from npconform.probe.converge import converge
from npconform.probe.engine import BatchResult, Observation, Probe, Source


class FakeEngine:
    """Answers from a script of per-round verdicts; records what was probed."""

    def __init__(self, rounds: list[dict[Cell, bool]]) -> None:
        self.rounds = rounds
        self.asked: list[set[Cell]] = []

    def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
        i = min(len(self.asked), len(self.rounds) - 1)
        cells = {p.cell for ps in plan.values() for p in ps}
        self.asked.append(cells)
        out = []
        for src, ps in plan.items():
            out.append(BatchResult(src, {p.cell: Observation(self.rounds[i][p.cell]) for p in ps}))
        return out


A = Cell("x/a", "x/b", 80)
B = Cell("x/b", "x/a", 80)


def setup(
    rounds: list[dict[Cell, bool]],
) -> tuple[FakeEngine, dict[Cell, tuple[Source, Probe]], Matrix]:
    eng = FakeEngine(rounds)
    src = Source("s")
    probes = {c: (src, Probe(c, "h", 80, "TCP")) for c in (A, B)}
    return eng, probes, Matrix({A: False, B: True})


def test_agreement_at_once_needs_one_round_and_a_confirmation() -> None:
    eng, probes, want = setup([{A: False, B: True}])
    out = converge(eng, probes, want)  # type: ignore[arg-type]
    assert out.ok and out.rounds == 1 and len(eng.asked) == 2


def test_only_disagreeing_cells_are_probed_again() -> None:
    eng, probes, want = setup([{A: True, B: True}, {A: False, B: True}, {A: False, B: True}])
    out = converge(eng, probes, want)  # type: ignore[arg-type]
    assert out.ok and out.rounds == 2
    assert eng.asked[1] == {A}
    assert eng.asked[2] == {A, B}


def test_a_cell_that_changes_in_the_confirmation_flaps() -> None:
    eng, probes, want = setup([{A: False, B: True}, {A: True, B: True}])
    out = converge(eng, probes, want)  # type: ignore[arg-type]
    assert out.flapping == [A] and not out.ok


def test_a_cell_that_never_agrees_fails_after_the_deadline() -> None:
    eng, probes, want = setup([{A: True, B: True}])
    out = converge(eng, probes, want, deadline=0.2)  # type: ignore[arg-type]
    assert out.mismatches == [A] and not out.ok
