"""The final summary printed on the terminal: verdict, scenarios, tests, controls.

Plain text with aligned columns; ANSI colours only when asked for (``color=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npconform.report.bundle import FAIL, PASS, compare_step, finalize, plural

_ANSI = {
    PASS: "\x1b[1;32m",
    FAIL: "\x1b[1;31m",
    "INCOMPLETE": "\x1b[1;33m",
    "passed": "\x1b[32m",
    "failed": "\x1b[1;31m",
    "error": "\x1b[1;31m",
    "skipped": "\x1b[33m",
}
_RESET = "\x1b[0m"


def _paint(text: str, key: str, color: bool) -> str:
    code = _ANSI.get(key)
    return f"{code}{text}{_RESET}" if color and code else text


def _seconds(v: object) -> str:
    try:
        return f"{float(str(v)):.1f}s"
    except ValueError:
        return "-"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    paint: Sequence[str | None] | None = None,
    color: bool = False,
    right: Sequence[int] = (),
) -> list[str]:
    """Aligned columns, two spaces apart; ``paint[i]`` names the column whose text picks
    row i's colour for that column (ANSI codes are added after padding)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str], key: str | None = None, col: int = -1) -> str:
        out = []
        for i, c in enumerate(cells):
            last = i == len(cells) - 1
            padded = c.rjust(widths[i]) if i in right else (c if last else c.ljust(widths[i]))
            if i == col and key:
                padded = _paint(padded, key, color)
            out.append(padded)
        return "  ".join(out).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    for n, r in enumerate(rows):
        key = paint[n] if paint else None
        lines.append(line(r, key, 0 if key else -1))
    return lines


def summary_table(results: Mapping[str, Any], *, color: bool = False) -> str:
    """The run's summary as plain text (ANSI-coloured verdicts when ``color``)."""
    r = finalize(results)
    run = r.get("run") or {}
    env = r.get("environment") or {}
    tool = r.get("tool") or {}
    verdict = str(r.get("verdict"))
    s = r.get("summary") or {}
    out: list[str] = []
    out.append(
        f"{_paint(verdict, verdict, color)}: {r.get('verdict_reason', '')}"
        f"  [{tool.get('name', 'npconform')} {tool.get('version', '?')}, run {run.get('id', '?')}]"
    )
    cons = env.get("constraint")
    cons_txt = (
        f"{cons.get('name', '?')} ({cons.get('enforcementAction', '?')})"
        if cons
        else "no constraint"
    )
    out.append(
        f"cluster: {env.get('target', '?')}, Kubernetes {env.get('kubernetes', '?')}, "
        f"CNI {env.get('cni', '?')}, Gatekeeper {env.get('gatekeeper') or '-'}, {cons_txt}, "
        f"{len(env.get('nodes') or [])} nodes, {'offline' if env.get('offline') else 'online'}"
    )
    out.append(
        f"tests: {s.get('total', 0)} total, {s.get('passed', 0)} passed, "
        f"{s.get('failed', 0)} failed, {plural(int(s.get('error', 0)), 'error')}, "
        f"{s.get('skipped', 0)} skipped;"
        f" duration {_seconds(run.get('duration_s'))}"
    )

    scenarios = list(r.get("scenarios") or [])
    if scenarios:
        rows, paint = [], []
        for st in scenarios:
            cmp = compare_step(st)
            v = PASS if st.get("ok") else FAIL if st.get("ok") is False else "INCOMPLETE"
            n = sum(len(x) for x in cmp.values())
            rows.append(
                [
                    v,
                    f"{st.get('scenario', '?')} / {st.get('step', '?')}",
                    str(n),
                    str(len(cmp["leak"])),
                    str(len(cmp["loss"])),
                    _seconds(st.get("converge_s")),
                    str(st.get("rounds", "-")),
                ]
            )
            paint.append(v)
        out.append("")
        out += _table(
            ["VERDICT", "SCENARIO / STEP", "CELLS", "LEAKS", "LOSSES", "CONVERGE", "ROUNDS"],
            rows,
            paint,
            color,
            right=(2, 3, 4, 5, 6),
        )

    tests = list(r.get("tests") or [])
    if tests:
        rows = [
            [
                str(t.get("outcome")),
                _seconds(t.get("duration_s")),
                str(t.get("area", "")),
                str(t.get("nodeid")),
            ]
            for t in tests
        ]
        out.append("")
        out += _table(
            ["OUTCOME", "TIME", "AREA", "TEST"],
            rows,
            [row[0] for row in rows],
            color,
            right=(1,),
        )

    controls = list(r.get("controls") or [])
    out.append("")
    out += _table(
        ["VERDICT", "CONTROL", "TITLE", "EVIDENCE"],
        [
            [
                str(c.get("verdict")),
                str(c.get("id")),
                str(c.get("title")),
                str(c.get("evidence")),
            ]
            for c in controls
        ],
        [str(c.get("verdict")) for c in controls],
        color,
    )

    missing = list(r.get("not_tested") or [])
    if missing:
        out.append("")
        out.append("not tested:")
        for m in missing:
            req = "REQUIRED" if m.get("required") else "optional"
            out.append(f"  - {m.get('what')} ({req}): {m.get('reason')}")
    violations = list(r.get("audit_violations") or [])
    if violations:
        out.append(
            f"audit: {plural(len(violations), 'existing resource')} violating the constraint"
        )
    return "\n".join(out) + "\n"
