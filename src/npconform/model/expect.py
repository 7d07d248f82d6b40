"""Expected reachability written as Kubernetes' netpol e2e writes it.

Expectations are written as the e2e writes them: for given port/protocol columns, everything
allowed (or blocked) except cells matching ``"src -> dst"`` patterns, where each side is an
fnmatch pattern over peer ids (``x/a``, ``x/*``, ``*/a``, ``[yz]/*`` for pods of y and z,
``ext/*``, ``*`` for any peer); ``unless`` patterns restore the default (the e2e's later
``Expect(..., true)`` after ``ExpectAllIngress(..., false)``). As the e2e ignores loopback,
a peer always reaches itself (the engine's default ``self_traffic="allow"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Expect:
    default: bool
    exceptions: tuple[str, ...]
    unless: tuple[str, ...] = ()

    @staticmethod
    def _match(pattern: str, src: str, dst: str) -> bool:
        s, d = (side.strip() for side in pattern.split("->"))
        return fnmatchcase(src, s) and fnmatchcase(dst, d)

    def verdict(self, src: str, dst: str) -> bool:
        if src == dst:
            return True
        flipped = any(self._match(p, src, dst) for p in self.exceptions) and not any(
            self._match(p, src, dst) for p in self.unless
        )
        return self.default != flipped

    def patterns(self) -> tuple[str, ...]:
        return self.exceptions + self.unless


def allowed_except(*blocked: str, unless: Sequence[str] = ()) -> Expect:
    return Expect(True, blocked, tuple(unless))


def blocked_except(*allowed: str, unless: Sequence[str] = ()) -> Expect:
    return Expect(False, allowed, tuple(unless))


EVERYTHING = allowed_except()
NOTHING = blocked_except()


def columns(expect: Mapping[str, Expect]) -> list[tuple[tuple[int, str], Expect]]:
    """Space-separated ``<port>/<protocol>`` column keys -> one (column, expectation) each;
    a key that is not of that form is a ValueError naming it."""
    out = []
    for cols, exp in expect.items():
        for col in cols.split():
            port, _, proto = col.partition("/")
            if not port.isdigit() or proto not in ("TCP", "UDP", "SCTP"):
                raise ValueError(f"bad column {col!r} (want 8080/TCP)")
            out.append(((int(port), proto), exp))
    return out
