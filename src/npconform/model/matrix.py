"""Reachability matrices: which source reaches which target on which port.

A cell is one (source, target, port, protocol) probe. Sources and targets are peer ids:
``"<namespace>/<pod>"`` for pods, ``"ext/<name>"`` for containers outside the cluster.
A verdict is ``True`` (allowed: the connection succeeded) or ``False`` (blocked).

What a probe observes is one of four outcome classes (:data:`OUTCOMES`): ``connected``
(the traffic got through), ``timeout`` (no answer: what a policy that drops looks like),
``refused`` (an active rejection: a TCP reset or an ICMP unreachable, sent by a target
where nothing listens or by a CNI that rejects instead of dropping) and ``error`` (the
probe itself could not run). Only ``timeout`` reads as *blocked by policy*, unless the run
says its CNI rejects (``refused`` then reads as blocked too); ``error`` is never a verdict.

Rendering follows the convention of Kubernetes' netpol e2e: ``.`` allowed, ``X`` blocked
(``R`` refused, ``E`` error). In a difference grid ``.`` means expected and observed agree,
``+`` means traffic got through that should have been blocked (a leak), ``-`` means
traffic was blocked that should have been allowed, ``R`` a refusal that does not count as
blocked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

ALLOWED = "."
BLOCKED = "X"
UNKNOWN = "?"
AGREE = "."
LEAK = "+"
LOSS = "-"

CONNECTED = "connected"
TIMEOUT = "timeout"
REFUSED = "refused"
ERROR = "error"
OUTCOMES = (CONNECTED, TIMEOUT, REFUSED, ERROR)
#: What counts as "blocked by policy" by default: only silence.
DROP: frozenset[str] = frozenset({TIMEOUT})
#: For CNIs that reject denied traffic (a reset or an ICMP unreachable), e.g. kube-router.
REJECT: frozenset[str] = frozenset({TIMEOUT, REFUSED})
_SYMBOL = {CONNECTED: ALLOWED, TIMEOUT: BLOCKED, REFUSED: "R", ERROR: "E"}


def reads_as(outcome: str, blocking: frozenset[str] = DROP) -> bool | None:
    """The verdict an outcome supports: True (allowed), False (blocked), or None (neither:
    a refusal the run does not count as blocked, or an error)."""
    if outcome == CONNECTED:
        return True
    if outcome in blocking:
        return False
    return None


POD = "pod"
SERVICE = "service"


@dataclass(frozen=True, order=True)
class Cell:
    """One probe: ``src`` tries ``dst`` on ``port``/``protocol``, addressing the target by
    its pod IP (``via="pod"``) or its Service's ClusterIP (``via="service"``)."""

    src: str
    dst: str
    port: int
    protocol: str = "TCP"
    via: str = POD

    @property
    def column(self) -> tuple[int, str]:
        return (self.port, self.protocol)

    @property
    def grid(self) -> tuple[int, str, str]:
        """The grid a rendering puts this cell in: one per port, protocol and address."""
        return (self.port, self.protocol, self.via)

    def __str__(self) -> str:
        via = f" (via {self.via})" if self.via != POD else ""
        return f"{self.src} -> {self.dst}:{self.port}/{self.protocol}{via}"


V = TypeVar("V")


@dataclass
class _Cells(Generic[V]):
    """A value per cell, in the order first seen."""

    cells: dict[Cell, V] = field(default_factory=dict)

    def __getitem__(self, cell: Cell) -> V:
        return self.cells[cell]

    def __setitem__(self, cell: Cell, value: V) -> None:
        self.cells[cell] = value

    def __contains__(self, cell: object) -> bool:
        return cell in self.cells

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Iterator[Cell]:
        return iter(self.cells)

    def items(self) -> Iterable[tuple[Cell, V]]:
        return self.cells.items()

    def get(self, cell: Cell) -> V | None:
        return self.cells.get(cell)


@dataclass
class Matrix(_Cells[bool]):
    """Verdicts per cell (True: allowed). Row and column order is kept as first seen."""

    @classmethod
    def from_items(cls, items: Iterable[tuple[Cell, bool]]) -> Matrix:
        return cls(dict(items))

    def sources(self) -> list[str]:
        return list(dict.fromkeys(c.src for c in self.cells))

    def targets(self) -> list[str]:
        return list(dict.fromkeys(c.dst for c in self.cells))

    def columns(self) -> list[tuple[int, str]]:
        return list(dict.fromkeys(c.column for c in self.cells))

    def restrict(self, cells: Iterable[Cell]) -> Matrix:
        return Matrix({c: self.cells[c] for c in cells if c in self.cells})

    def mismatches(self, observed: Mapping[Cell, bool] | Matrix) -> list[Cell]:
        """Cells of this (expected) matrix whose observed verdict differs or is missing."""
        obs = observed.cells if isinstance(observed, Matrix) else observed
        return [c for c, want in self.cells.items() if obs.get(c) is not want]

    def counts(self) -> tuple[int, int]:
        """(allowed, blocked)."""
        allowed = sum(1 for v in self.cells.values() if v)
        return allowed, len(self.cells) - allowed

    def grids(self) -> list[tuple[int, str, str]]:
        return list(dict.fromkeys(c.grid for c in self.cells))

    def to_json(self) -> list[dict[str, object]]:
        return [
            {
                "src": c.src,
                "dst": c.dst,
                "port": c.port,
                "protocol": c.protocol,
                **({"via": c.via} if c.via != POD else {}),
                "allowed": v,
            }
            for c, v in self.cells.items()
        ]

    @classmethod
    def from_json(cls, rows: Iterable[Mapping[str, object]]) -> Matrix:
        m = cls()
        for r in rows:
            m[cell_of(r)] = bool(r["allowed"])
        return m


def cell_of(row: Mapping[str, object]) -> Cell:
    """The cell a JSON row (of ``Matrix.to_json`` or ``Readings.to_json``) is about."""
    port = row["port"]
    if not isinstance(port, int):
        raise ValueError(f"cell port must be an integer: {row!r}")
    return Cell(
        str(row["src"]), str(row["dst"]), port, str(row["protocol"]), str(row.get("via") or POD)
    )


@dataclass
class Readings(_Cells[str]):
    """Observed outcome classes per cell (:data:`OUTCOMES`), as the probes reported them."""

    def __setitem__(self, cell: Cell, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown probe outcome {outcome!r} for {cell}")
        self.cells[cell] = outcome

    def verdicts(self, blocking: frozenset[str] = DROP) -> dict[Cell, bool | None]:
        return {c: reads_as(o, blocking) for c, o in self.cells.items()}

    def mismatches(self, expected: Matrix, blocking: frozenset[str] = DROP) -> list[Cell]:
        """Cells of ``expected`` whose reading does not support the expected verdict
        (missing, refused when refusals are not blocks, errors included)."""
        return [
            c
            for c, want in expected.items()
            if c not in self.cells or reads_as(self.cells[c], blocking) is not want
        ]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        for o in self.cells.values():
            out[o] += 1
        return out

    def to_json(self, blocking: frozenset[str] = DROP) -> list[dict[str, object]]:
        return [
            {
                "src": c.src,
                "dst": c.dst,
                "port": c.port,
                "protocol": c.protocol,
                **({"via": c.via} if c.via != POD else {}),
                "outcome": o,
                "allowed": reads_as(o, blocking),
            }
            for c, o in self.cells.items()
        ]


def _grid(
    rows: list[str], cols: list[str], symbol: Mapping[tuple[str, str], str], title: str
) -> str:
    width = max([len(r) for r in rows] + [4])
    header = " " * width + " | " + " ".join(f"{i:>2}" for i in range(len(cols)))
    lines = [title, header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r:<{width}} | " + " ".join(f"{symbol.get((r, c), ' '):>2}" for c in cols))
    legend = "  ".join(f"{i}={c}" for i, c in enumerate(cols))
    lines.append(f"columns: {legend}")
    return "\n".join(lines)


def _grid_title(grid: tuple[int, str, str]) -> str:
    port, proto, via = grid
    return f"{port}/{proto}" + (f" via {via}" if via != POD else "")


def render(matrix: Matrix, title: str = "") -> str:
    """One grid per port/protocol (and address kind): rows are sources, columns targets."""
    out = []
    rows, cols = matrix.sources(), matrix.targets()
    for g in matrix.grids():
        sym = {(c.src, c.dst): ALLOWED if v else BLOCKED for c, v in matrix.items() if c.grid == g}
        out.append(_grid(rows, cols, sym, f"{title} {_grid_title(g)}".strip()))
    return "\n\n".join(out)


def _observed_symbol(got: bool | str | None) -> str:
    if got is None:
        return UNKNOWN
    if isinstance(got, bool):
        return ALLOWED if got else BLOCKED
    return _SYMBOL.get(got, UNKNOWN)


def render_comparison(
    expected: Matrix, observed: Matrix | Readings, blocking: frozenset[str] = DROP
) -> str:
    """Expected, observed and difference grids per port/protocol, with a tally line.
    ``observed`` holds verdicts (a computed matrix) or outcome classes (probe readings)."""
    rows, cols = expected.sources(), expected.targets()
    blocks = []
    for g in expected.grids():
        exp_sym: dict[tuple[str, str], str] = {}
        obs_sym: dict[tuple[str, str], str] = {}
        diff_sym: dict[tuple[str, str], str] = {}
        for c, want in expected.items():
            if c.grid != g:
                continue
            raw = observed.get(c)
            got = raw if isinstance(raw, bool) or raw is None else reads_as(raw, blocking)
            key = (c.src, c.dst)
            exp_sym[key] = ALLOWED if want else BLOCKED
            obs_sym[key] = _observed_symbol(raw)
            if raw is None:
                diff_sym[key] = UNKNOWN
            elif got is None:
                diff_sym[key] = _observed_symbol(raw)
            elif got == want:
                diff_sym[key] = AGREE
            else:
                diff_sym[key] = LEAK if got else LOSS
        t = _grid_title(g)
        blocks.append(_grid(rows, cols, exp_sym, f"expected {t}"))
        blocks.append(
            _grid(rows, cols, obs_sym, f"observed {t} (. connected, X timeout, R refused)")
        )
        blocks.append(
            _grid(rows, cols, diff_sym, f"difference {t} (+ leak, - loss, R refused, ? unknown)")
        )
    if isinstance(observed, Readings):
        wrong = observed.mismatches(expected, blocking)
    else:
        wrong = expected.mismatches(observed)
    blocks.append(f"reachability: correct:{len(expected) - len(wrong)}, incorrect:{len(wrong)}")
    return "\n\n".join(blocks)
