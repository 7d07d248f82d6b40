"""Convergence: only disagreeing cells are re-probed; a confirmation pass catches flaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npconform.model.matrix import CONNECTED, TIMEOUT, Cell, Matrix
from npconform.probe.converge import converge
from npconform.probe.script import BatchResult, Observation, Probe, Source


class FakeEngine:
    """Answers from a script of per-round verdicts; records what was probed."""

    def __init__(self, rounds: list[dict[Cell, bool]]) -> None:
        self.rounds = rounds
        self.asked: list[set[Cell]] = []

    def runs(self, sources: set[Source]) -> dict[str, Any]:
        return {"sources_program": len(sources), "sources_shell": 0}

    def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
        i = min(len(self.asked), len(self.rounds) - 1)
        cells = {p.cell for ps in plan.values() for p in ps}
        self.asked.append(cells)
        out = []
        for src, ps in plan.items():
            out.append(
                BatchResult(
                    src,
                    {
                        p.cell: Observation(CONNECTED if self.rounds[i][p.cell] else TIMEOUT)
                        for p in ps
                    },
                )
            )
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


def test_a_refused_cell_is_not_blocked_unless_the_cni_rejects() -> None:
    from npconform.model.matrix import REFUSED, REJECT

    class Refusing(FakeEngine):
        def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
            self.asked.append({p.cell for ps in plan.values() for p in ps})
            return [
                BatchResult(
                    s, {p.cell: Observation(REFUSED if p.cell == A else CONNECTED) for p in ps}
                )
                for s, ps in plan.items()
            ]

    _, probes, want = setup([{A: False, B: True}])
    refusing = Refusing([{}])
    out = converge(refusing, probes, want, deadline=0.2)  # type: ignore[arg-type]
    assert out.mismatches == [A] and not out.ok
    out = converge(Refusing([{}]), probes, want, blocking=REJECT)  # type: ignore[arg-type]
    assert out.ok


def test_a_probe_error_stops_the_step_as_an_error() -> None:
    import pytest

    from npconform.model.matrix import ERROR
    from npconform.probe.script import ProbeError

    class Erring(FakeEngine):
        def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
            return [
                BatchResult(s, {p.cell: Observation(ERROR, "probe tool missing: nc") for p in ps})
                for s, ps in plan.items()
            ]

        def repro(self, src: Source, p: Probe) -> str:
            return "kubectl exec ..."

    _, probes, want = setup([{}])
    with pytest.raises(ProbeError, match=r"(?s)could not run.*probe tool missing: nc"):
        converge(Erring([{}]), probes, want)  # type: ignore[arg-type]


class Scripted(FakeEngine):
    """Answers each round with the given outcome classes."""

    def __init__(self, rounds: list[dict[Cell, str]]) -> None:
        self.outcomes = rounds
        self.asked = []

    def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
        i = min(len(self.asked), len(self.outcomes) - 1)
        self.asked.append({p.cell for ps in plan.values() for p in ps})
        return [
            BatchResult(src, {p.cell: Observation(self.outcomes[i][p.cell]) for p in ps})
            for src, ps in plan.items()
        ]


def test_timeout_then_refused_flaps_only_when_refused_is_not_blocked() -> None:
    from npconform.model.matrix import DROP, REFUSED, REJECT

    _, probes, want = setup([{A: False, B: True}])
    script = [{A: TIMEOUT, B: CONNECTED}, {A: REFUSED, B: CONNECTED}]
    rejecting = converge(Scripted(script), probes, want, blocking=REJECT)  # type: ignore[arg-type]
    assert rejecting.ok and rejecting.flapping == []
    dropping = converge(Scripted(script), probes, want, blocking=DROP)  # type: ignore[arg-type]
    assert dropping.flapping == [A] and not dropping.ok


class Patient(Scripted):
    """Scripted rounds; a round asked with patience answers from ``patient``."""

    def __init__(self, rounds: list[dict[Cell, str]], patient: dict[Cell, str]) -> None:
        super().__init__(rounds)
        self.patient = patient
        self.patience: list[float] = []

    def run(
        self, plan: Mapping[Source, Sequence[Probe]], patience: float = 1.0
    ) -> list[BatchResult]:
        if patience == 1.0:
            return super().run(plan)
        self.patience.append(patience)
        return [
            BatchResult(src, {p.cell: Observation(self.patient[p.cell]) for p in ps})
            for src, ps in plan.items()
        ]


def test_an_allowed_cell_that_times_out_in_confirmation_is_asked_again_patiently() -> None:
    from npconform.probe.converge import PATIENCE

    _, probes, want = setup([{A: False, B: True}])
    script = [{A: TIMEOUT, B: CONNECTED}, {A: TIMEOUT, B: TIMEOUT}]
    late = Patient(script, {B: CONNECTED})
    out = converge(late, probes, want)  # type: ignore[arg-type]
    assert out.ok and out.flapping == []
    assert late.patience == [PATIENCE] and late.asked[-1] == {A, B}
    assert "answered only with 4x longer waits (a late answer" in out.details[B]
    # still silent with patient waits: a flap
    silent = converge(Patient(script, {B: TIMEOUT}), probes, want)  # type: ignore[arg-type]
    assert silent.flapping == [B] and not silent.ok


def test_a_blocked_cell_that_connects_in_confirmation_flaps_without_a_second_chance() -> None:
    _, probes, want = setup([{A: False, B: True}])
    leak = Patient([{A: TIMEOUT, B: CONNECTED}, {A: CONNECTED, B: CONNECTED}], {A: TIMEOUT})
    out = converge(leak, probes, want)  # type: ignore[arg-type]
    assert out.flapping == [A] and not out.ok
    assert leak.patience == []


def _starving(starved_rounds: int, b_error: str = "") -> Any:
    from npconform.model.matrix import ERROR
    from npconform.probe.script import STARVED

    class Starving(FakeEngine):
        """The program wakes late for A in the first ``starved_rounds`` batches; B
        answers, or errs with ``b_error``. Records each batch's patience."""

        patience: list[float] = []

        def run(
            self, plan: Mapping[Source, Sequence[Probe]], patience: float = 1.0
        ) -> list[BatchResult]:
            n = len(self.asked)
            self.asked.append({p.cell for ps in plan.values() for p in ps})
            self.patience = [*self.patience, patience]
            late = Observation(ERROR, f"{STARVED} (0.29s, 0.30s, 0.41s past its wait): ...")
            b = Observation(ERROR, b_error) if b_error else Observation(CONNECTED)
            return [
                BatchResult(
                    s,
                    {
                        p.cell: (late if n < starved_rounds else Observation(TIMEOUT))
                        if p.cell == A
                        else b
                        for p in ps
                    },
                )
                for s, ps in plan.items()
            ]

        def repro(self, src: Source, p: Probe) -> str:
            return "kubectl exec ..."

    return Starving([{}])


def test_a_probe_starved_of_cpu_is_asked_again_alone() -> None:
    eng = _starving(2)
    _, probes, want = setup([{}])
    out = converge(eng, probes, want)
    assert out.ok and out.observed[A] == TIMEOUT
    # the first round, then A alone twice, then the confirmation
    assert eng.asked[:3] == [{A, B}, {A}, {A}]


def test_a_reading_after_starved_attempts_says_so() -> None:
    from npconform.probe.converge import observe

    eng = _starving(2)
    _, probes, _ = setup([{}])
    got = observe(eng, probes, [A, B])  # type: ignore[arg-type]
    assert got[A].outcome == TIMEOUT
    assert got[A].detail == "asked 3 times: the first 2 woke late (starved of CPU)"
    assert got[B].detail == ""


def test_a_probe_starved_in_every_attempt_is_an_error_not_a_verdict() -> None:
    import pytest

    from npconform.probe.converge import STARVED_RETRIES
    from npconform.probe.script import ProbeError

    eng = _starving(99)
    _, probes, want = setup([{}])
    with pytest.raises(ProbeError, match=r"timed out late.*asked 3 times"):
        converge(eng, probes, want)
    assert len(eng.asked) == 1 + STARVED_RETRIES


def test_any_other_error_stops_the_round_at_once_even_beside_a_starved_probe() -> None:
    import pytest

    from npconform.probe.script import ProbeError

    eng = _starving(99, b_error="probe tool missing: nc")
    _, probes, want = setup([{}])
    with pytest.raises(ProbeError, match=r"(?s)1 probe\(s\).*x/b -> x/a.*tool missing") as e:
        converge(eng, probes, want)
    assert "timed out late" not in str(e.value)
    assert len(eng.asked) == 1


def test_starved_probes_are_asked_again_with_the_rounds_patience() -> None:
    from npconform.probe.converge import observe

    eng = _starving(1)
    _, probes, _ = setup([{}])
    got = observe(eng, probes, [A, B], patience=4.0)  # type: ignore[arg-type]
    assert got[A].outcome == TIMEOUT and eng.patience == [4.0, 4.0]


def test_the_program_says_starved_as_the_engine_reads_it() -> None:
    from pathlib import Path

    import npconform.airgap
    from npconform.probe.script import STARVED

    src = Path(npconform.airgap.__file__).parent / "files" / "npcprobe.go"
    assert f'"{STARVED} (%s past its wait)' in src.read_text()
