"""Which expected cells are evidence: the pairing rule.

A probe that gets no answer proves a block only if the same target answers on the same
port to someone else at the same time: otherwise a dead server, a wrong port or a broken
network would pass as "blocked". So every target port (pod, port, protocol, address kind)
with a cell expected blocked needs, in the same step, a cell expected allowed. And a cell
between two hosts outside the cluster never crosses it: it is not evidence of anything
the cluster does.
"""

from __future__ import annotations

from collections.abc import Iterable

from npconform.model.matrix import Cell, Matrix

EXTERNAL_PREFIX = "ext/"

#: A target port: (target peer id, port, protocol, address kind).
Target = tuple[str, int, str, str]


def is_external(peer: str) -> bool:
    return peer.startswith(EXTERNAL_PREFIX)


def off_cluster(cells: Iterable[Cell]) -> list[Cell]:
    """Cells whose source and target are both outside the cluster."""
    return [c for c in cells if is_external(c.src) and is_external(c.dst)]


def target_of(c: Cell) -> Target:
    return (c.dst, c.port, c.protocol, c.via)


def unpaired(expected: Matrix) -> list[Target]:
    """Target ports with a cell expected blocked and no cell expected allowed."""
    allowed: set[Target] = set()
    blocked: dict[Target, None] = {}
    for c, want in expected.items():
        if is_external(c.src) and is_external(c.dst):
            continue
        if want:
            allowed.add(target_of(c))
        else:
            blocked[target_of(c)] = None
    return [t for t in blocked if t not in allowed]


def describe(targets: Iterable[Target]) -> str:
    return ", ".join(
        f"{dst}:{port}/{proto}" + (f" via {via}" if via != "pod" else "")
        for dst, port, proto, via in targets
    )


class PairingError(AssertionError):
    """A step whose expectation cannot be evidence (a scenario bug, not a cluster verdict)."""


def check(expected: Matrix) -> None:
    """Raise PairingError when ``expected`` has off-cluster cells or unpaired targets."""
    off = off_cluster(expected)
    if off:
        raise PairingError(
            f"{len(off)} cell(s) never cross the cluster (both ends outside it), e.g. {off[0]}: "
            "they are not evidence; leave them out of the expectation"
        )
    bad = unpaired(expected)
    if bad:
        raise PairingError(
            f"{len(bad)} target port(s) have a cell expected blocked but none expected allowed "
            f"in the same step: {describe(bad[:6])}{' ...' if len(bad) > 6 else ''}; a dead "
            "server would pass as blocked (add an allowed twin to the same pod and port)"
        )
