"""The final summary printed on the terminal: the verdict and why, the ISO/IEC 27001:2022
controls (with their 2013 cross-reference), the checks not passed, the traffic steps with
their outcome classes, and the failed tests.

Plain text with aligned columns; ANSI colours only when asked for (``color=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npconform.model.matrix import OUTCOMES
from npconform.verdict.rules import (
    ERROR,
    FAIL,
    FAILED,
    INCOMPLETE,
    PASS,
    PASSED,
    compare_step,
    finalize,
    plural,
)

_ANSI = {
    PASS: "\x1b[1;32m",
    FAIL: "\x1b[1;31m",
    INCOMPLETE: "\x1b[1;33m",
    "passed": "\x1b[32m",
    "failed": "\x1b[1;31m",
    "error": "\x1b[1;31m",
    "skipped": "\x1b[33m",
}
_OPEN = "\x1b[33m"  # deselected, narrowed, not run, not selected
_RESET = "\x1b[0m"


def _paint(text: str, key: str, color: bool) -> str:
    code = _ANSI.get(key, _OPEN)
    return f"{code}{text}{_RESET}" if color else text


def _seconds(v: object) -> str:
    try:
        return f"{float(str(v)):.1f}s"
    except ValueError:
        return "-"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    color: bool = False,
    right: Sequence[int] = (),
) -> list[str]:
    """Aligned columns, two spaces apart; the first column's text picks its colour (ANSI
    codes are added after padding)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str], paint: bool) -> str:
        out = []
        for i, c in enumerate(cells):
            last = i == len(cells) - 1
            padded = c.rjust(widths[i]) if i in right else (c if last else c.ljust(widths[i]))
            out.append(_paint(padded, c, color) if paint and i == 0 else padded)
        return "  ".join(out).rstrip()

    return [line(header, False), line(["-" * w for w in widths], False)] + [
        line(r, True) for r in rows
    ]


def _step_verdict(step: Mapping[str, Any], cmp: Mapping[str, list[Any]]) -> str:
    if step.get("ok") is False or cmp["leak"] or cmp["loss"] or cmp["refused"]:
        return FAIL
    return INCOMPLETE if cmp["unobserved"] else PASS


def summary_table(results: Mapping[str, Any], *, color: bool = False) -> str:
    """The run's summary as plain text (ANSI-coloured verdicts when ``color``); ``results``
    is finalized first unless it carries a verdict."""
    r = results if "verdict" in results else finalize(results)
    run = r.get("run") or {}
    env = r.get("environment") or {}
    tool = r.get("tool") or {}
    who = r.get("identity") or {}
    verdict = str(r.get("verdict"))
    s = r.get("summary") or {}
    out = [
        f"{_paint(verdict, verdict, color)}: {r.get('verdict_reason', '')}"
        f"  [{tool.get('name') or 'npconform'} {tool.get('version') or '?'}"
        f", run {run.get('id') or '?'}]"
    ]
    cons = env.get("constraint")
    cons_txt = (
        f"{cons.get('name', '?')} ({cons.get('enforcementAction', '?')})"
        if cons
        else "no constraint"
    )
    cni = " ".join(str(x) for x in (env.get("cni"), env.get("cni_version")) if x) or "?"
    out.append(
        f"cluster: {who.get('server') or env.get('target') or '?'}, "
        f"Kubernetes {env.get('kubernetes') or '?'}, CNI {cni}, "
        f"Gatekeeper {env.get('gatekeeper') or '-'}, {cons_txt}, "
        f"blocked = {'timeout or refused' if env.get('deny_response') == 'reject' else 'timeout'}"
    )
    out.append(
        f"tests: {s.get('total', 0)} total, {s.get('passed', 0)} passed, "
        f"{s.get('failed', 0)} failed, {plural(int(s.get('error', 0)), 'error')}, "
        f"{s.get('skipped', 0)} skipped; duration {_seconds(run.get('duration_s'))}"
        + ("; INTERRUPTED" if run.get("interrupted") else "")
    )

    controls = list(r.get("controls") or [])
    out.append("")
    out += _table(
        ["VERDICT", "CONTROL", "ISO 2013", "TITLE", "NOT PROVEN"],
        [
            [
                str(c.get("verdict")),
                str(c.get("id")),
                ", ".join(map(str, c.get("iso2013") or [])),
                str(c.get("title")),
                ", ".join(f"{m.get('id')} ({m.get('status')})" for m in c.get("missing") or [])
                or "-",
            ]
            for c in controls
        ],
        color,
    )

    checks = list(r.get("checks") or [])
    shown = [
        c
        for c in checks
        if c.get("status") != PASSED and (c.get("required_by") or c.get("status") != "not selected")
    ]
    if shown:
        out.append("")
        out += _table(
            ["STATUS", "CHECK", "REASON"],
            [[str(c.get("status")), str(c.get("id")), str(c.get("reason"))] for c in shown],
            color,
        )
    idle = [str(c.get("id")) for c in checks if c not in shown and c.get("status") != PASSED]
    if idle:
        out.append(f"not selected (required by no control): {', '.join(idle)}")

    scenarios = list(r.get("scenarios") or [])
    if scenarios:
        rows = []
        for st in scenarios:
            cmp = compare_step(st)
            counts = st.get("outcomes") or {}
            rows.append(
                [
                    _step_verdict(st, cmp),
                    f"{st.get('scenario', '?')} / {st.get('step', '?')}",
                    str(len(st.get("expected") or [])),
                    *(str(counts.get(o, 0)) for o in OUTCOMES),
                    *(str(len(cmp[k])) for k in ("leak", "loss", "refused")),
                    _seconds(st.get("converge_s")),
                ]
            )
        out.append("")
        out += _table(
            ["VERDICT", "SCENARIO / STEP", "CELLS", *(o.upper() for o in OUTCOMES), "LEAKS",
             "LOSSES", "REFUSALS", "CONVERGE"],
            rows,
            color,
            right=tuple(range(2, 11)),
        )  # fmt: skip
        out.append(
            "connected..error: the outcome classes the probes observed; leaks, losses, "
            "refusals: cells that contradict the policies (a refusal where a block was "
            "expected, when only a timeout counts as blocked)"
        )

    failed = [t for t in r.get("tests") or [] if t.get("outcome") in (FAILED, ERROR)]
    if failed:
        out.append("")
        out += _table(
            ["OUTCOME", "CHECK", "TEST"],
            [
                [
                    str(t.get("outcome")),
                    str(t.get("check") or "-"),
                    str(t.get("nodeid"))
                    + (f"  (could not measure: {t['test_error']})" if t.get("test_error") else ""),
                ]
                for t in failed
            ],
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
    if r.get("artifacts_changed"):
        names = ", ".join(f"{a.get('kind')}/{a.get('name')}" for a in r["artifacts_changed"])
        out.append(f"WARNING: safeguard objects changed during the run: {names}")
    return "\n".join(out) + "\n"
