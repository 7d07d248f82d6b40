"""Reachability matrices: which source reaches which target on which port.

A cell is one (source, target, port, protocol) probe. Sources and targets are peer ids:
``"<namespace>/<pod>"`` for pods, ``"ext/<name>"`` for containers outside the cluster.
A verdict is ``True`` (allowed: the connection succeeded) or ``False`` (blocked).

Rendering follows the convention of Kubernetes' netpol e2e: ``.`` allowed, ``X`` blocked.
In a difference grid ``.`` means expected and observed agree, ``+`` means traffic got
through that should have been blocked (a leak), ``-`` means traffic was blocked that
should have been allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

ALLOWED = "."
BLOCKED = "X"
UNKNOWN = "?"
AGREE = "."
LEAK = "+"
LOSS = "-"


@dataclass(frozen=True, order=True)
class Cell:
    """One probe: ``src`` tries ``dst`` on ``port``/``protocol``."""

    src: str
    dst: str
    port: int
    protocol: str = "TCP"

    @property
    def column(self) -> tuple[int, str]:
        return (self.port, self.protocol)

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}:{self.port}/{self.protocol}"


@dataclass
class Matrix:
    """Verdicts per cell. Row and column order is kept as first seen."""

    cells: dict[Cell, bool] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[tuple[Cell, bool]]) -> Matrix:
        return cls(dict(items))

    def __getitem__(self, cell: Cell) -> bool:
        return self.cells[cell]

    def __setitem__(self, cell: Cell, allowed: bool) -> None:
        self.cells[cell] = allowed

    def __contains__(self, cell: object) -> bool:
        return cell in self.cells

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Iterator[Cell]:
        return iter(self.cells)

    def items(self) -> Iterable[tuple[Cell, bool]]:
        return self.cells.items()

    def get(self, cell: Cell) -> bool | None:
        return self.cells.get(cell)

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

    def to_json(self) -> list[dict[str, object]]:
        return [
            {"src": c.src, "dst": c.dst, "port": c.port, "protocol": c.protocol, "allowed": v}
            for c, v in self.cells.items()
        ]

    @classmethod
    def from_json(cls, rows: Iterable[Mapping[str, object]]) -> Matrix:
        m = cls()
        for r in rows:
            port = r["port"]
            assert isinstance(port, int)
            m[Cell(str(r["src"]), str(r["dst"]), port, str(r["protocol"]))] = bool(r["allowed"])
        return m


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


def render(matrix: Matrix, title: str = "") -> str:
    """One grid per port/protocol: rows are sources, columns targets."""
    out = []
    rows, cols = matrix.sources(), matrix.targets()
    for port, proto in matrix.columns():
        sym = {
            (c.src, c.dst): ALLOWED if v else BLOCKED
            for c, v in matrix.items()
            if c.column == (port, proto)
        }
        out.append(_grid(rows, cols, sym, f"{title} {port}/{proto}".strip()))
    return "\n\n".join(out)


def render_comparison(expected: Matrix, observed: Matrix) -> str:
    """Expected, observed and difference grids per port/protocol, with a tally line."""
    rows, cols = expected.sources(), expected.targets()
    blocks = []
    for port, proto in expected.columns():
        exp_sym: dict[tuple[str, str], str] = {}
        obs_sym: dict[tuple[str, str], str] = {}
        diff_sym: dict[tuple[str, str], str] = {}
        for c, want in expected.items():
            if c.column != (port, proto):
                continue
            got = observed.get(c)
            key = (c.src, c.dst)
            exp_sym[key] = ALLOWED if want else BLOCKED
            obs_sym[key] = UNKNOWN if got is None else (ALLOWED if got else BLOCKED)
            if got is None:
                diff_sym[key] = UNKNOWN
            elif got == want:
                diff_sym[key] = AGREE
            else:
                diff_sym[key] = LEAK if got else LOSS
        blocks.append(_grid(rows, cols, exp_sym, f"expected {port}/{proto}"))
        blocks.append(_grid(rows, cols, obs_sym, f"observed {port}/{proto}"))
        blocks.append(
            _grid(rows, cols, diff_sym, f"difference {port}/{proto} (+ leak, - loss, ? unknown)")
        )
    wrong = expected.mismatches(observed)
    blocks.append(f"reachability: correct:{len(expected) - len(wrong)}, incorrect:{len(wrong)}")
    return "\n\n".join(blocks)
