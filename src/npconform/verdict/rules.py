"""The verdict, derived from the results document by pure functions, so that a reader (or
an auditor) can recompute it from ``results.json`` alone.

**Checks.** Each test names its check (``tests[].check``). The run records what was
collected before any deselection (``selection.collected``), what ``-k``/``-m``/
``--deselect`` took out (``selection.deselected``) and which checks a node-id argument
narrowed to some of their parameters (``selection.narrowed``). A check is

* ``failed``: one of its tests failed, or a piece of its evidence (a traffic step, an
  admission case) contradicts the expectation;
* ``error``: else, one of its tests could not measure (a probe that could not run, a
  scenario that cannot be evidence): an error of the test, never a verdict;
* ``not selected`` (none of its tests was collected), ``deselected``, ``narrowed``,
  ``skipped`` or ``not run`` (selected, but the run ended before it);
* ``passed``: every one of its tests ran and passed.

**Controls.** A control is ``FAIL`` when one of its required checks failed, ``PASS`` when
every one of them passed, else ``INCOMPLETE`` naming each missing check and why.

**Run.** ``FAIL`` when any test failed (required by a control or not) or any control
fails; else ``INCOMPLETE`` when any control is incomplete, a test erred, the run was
interrupted or pytest's exit status is not 0; else ``PASS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from npconform import run_prefix
from npconform.verdict.checks import BY_ID as CHECK_BY_ID
from npconform.verdict.checks import CHECKS
from npconform.verdict.controls import CONTROLS, Control

PASS = "PASS"
FAIL = "FAIL"
INCOMPLETE = "INCOMPLETE"
#: The exit status of every command that reports a verdict.
VERDICT_EXIT = {PASS: 0, FAIL: 1, INCOMPLETE: 3}
VERDICTS = (PASS, INCOMPLETE, FAIL)  # in increasing severity

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
DESELECTED = "deselected"
NARROWED = "narrowed"
NOT_RUN = "not run"
NOT_SELECTED = "not selected"
CHECK_STATUSES = (PASSED, FAILED, ERROR, SKIPPED, DESELECTED, NARROWED, NOT_RUN, NOT_SELECTED)

_WHY = {
    NOT_SELECTED: "none of its tests was part of this run",
    DESELECTED: "some of its tests were deselected",
    NARROWED: "selected by node id: only some of its parameters were collected",
    NOT_RUN: "selected but not run (the run ended before it)",
}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 leak"``, ``"2 leaks"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def worst(verdicts: Iterable[str]) -> str:
    out = PASS
    for v in verdicts:
        v = v if v in VERDICTS else INCOMPLETE
        if VERDICTS.index(v) > VERDICTS.index(out):
            out = v
    return out


# -- evidence ---------------------------------------------------------------------------


def cell_key(c: Mapping[str, Any]) -> tuple[str, str, int, str, str]:
    return (
        str(c.get("src")),
        str(c.get("dst")),
        int(c.get("port") or 0),
        str(c.get("protocol")),
        str(c.get("via") or "pod"),
    )


def compare_step(step: Mapping[str, Any]) -> dict[str, list[tuple[str, str, int, str, str]]]:
    """Cells of a traffic step by kind: ``allowed``/``blocked`` (as expected), ``leak``
    (connected, expected blocked), ``loss`` (blocked, expected allowed), ``refused`` (a
    refusal that does not count as blocked), ``unobserved``."""
    observed = {cell_key(c): c for c in step.get("observed") or []}
    out: dict[str, list[tuple[str, str, int, str, str]]] = {
        k: [] for k in ("allowed", "blocked", "leak", "loss", "refused", "unobserved")
    }
    for c in step.get("expected") or []:
        k = cell_key(c)
        want = bool(c.get("allowed"))
        row = observed.get(k)
        got = None if row is None else row.get("allowed")
        if row is None or row.get("outcome") == "error":
            out["unobserved"].append(k)
        elif got is None:
            out["loss" if want else "refused"].append(k)
        elif got == want:
            out["allowed" if got else "blocked"].append(k)
        else:
            out["leak" if got else "loss"].append(k)
    return out


def _bad_evidence(results: Mapping[str, Any]) -> dict[str, list[str]]:
    """Test nodeid -> descriptions of its evidence that contradicts the expectation."""
    out: dict[str, list[str]] = {}
    for s in results.get("scenarios") or []:
        cmp = compare_step(s)
        # a cell that could not be probed (outcome "error") is no evidence either way
        if s.get("flapping") or cmp["leak"] or cmp["loss"] or cmp["refused"]:
            out.setdefault(str(s.get("test", "")), []).append(
                f"traffic step {s.get('scenario', '?')!s} / {s.get('step', '?')!s}"
            )
    for a in results.get("admission") or []:
        if a.get("ok") is False:
            out.setdefault(str(a.get("test", "")), []).append(
                f"admission case {a.get('case', '?')!s}"
            )
    return out


# -- checks ---------------------------------------------------------------------------


def _tests(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("tests") or [])


def _is_error(t: Mapping[str, Any]) -> bool:
    return t.get("outcome") in ("failed", "error") and bool(t.get("test_error"))


def _is_failure(t: Mapping[str, Any]) -> bool:
    return t.get("outcome") in ("failed", "error") and not t.get("test_error")


def compute_checks(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every registered check (and any unregistered id a test names) with its status."""
    sel = results.get("selection") or {}
    collected: dict[str, list[str]] = {}
    for item in sel.get("collected") or []:
        collected.setdefault(str(item.get("check") or ""), []).append(str(item.get("nodeid")))
    deselected = set(map(str, sel.get("deselected") or []))
    narrowed = set(map(str, sel.get("narrowed") or []))
    by_check: dict[str, list[dict[str, Any]]] = {}
    for t in _tests(results):
        by_check.setdefault(str(t.get("check") or ""), []).append(t)
    bad = _bad_evidence(results)
    required_by: dict[str, list[str]] = {}
    for ctl in CONTROLS:
        for cid in ctl.required:
            required_by.setdefault(cid, []).append(ctl.id)
    ids = [c.id for c in CHECKS] + sorted(
        k for k in {*collected, *by_check} if k and k not in CHECK_BY_ID
    )
    out = []
    for cid in ids:
        tests = by_check.get(cid, [])
        items = collected.get(cid, [])
        ran = {str(t.get("nodeid")) for t in tests}
        wrong = [d for t in tests for d in bad.get(str(t.get("nodeid")), [])]
        failed = [t for t in tests if _is_failure(t)]
        erred = [t for t in tests if _is_error(t)]
        skipped = [t for t in tests if t.get("outcome") == "skipped"]
        gone = [n for n in items if n in deselected]
        not_run = [n for n in items if n not in deselected and n not in ran]
        reason = ""
        if failed or wrong:
            status = FAILED
            reason = "; ".join(
                [f"{plural(len(failed), 'test')} failed: {_names(failed)}"] * bool(failed)
                + [f"contradicted by {', '.join(wrong[:3])}"] * bool(wrong)
            )
        elif erred:
            status = ERROR
            reason = f"could not measure: {_first_line(erred[0].get('message'))}"
        elif not items and not tests:
            status, reason = NOT_SELECTED, _WHY[NOT_SELECTED]
        elif skipped:
            status = SKIPPED
            reason = "skipped: " + _first_line(skipped[0].get("message"))
        elif gone:
            status = DESELECTED
            reason = f"{len(gone)} of its {len(items)} tests deselected (-k, -m or --deselect)"
        elif cid in narrowed:
            status, reason = NARROWED, _WHY[NARROWED]
        elif not_run:
            status = NOT_RUN
            reason = f"{len(not_run)} of its {len(items)} tests not run (the run ended early)"
        else:
            status = PASSED
        check = CHECK_BY_ID.get(cid)
        out.append(
            {
                "id": cid or "(none)",
                "title": check.title if check else "unregistered check",
                "shows": check.shows if check else "",
                "status": status,
                "reason": reason,
                "required_by": required_by.get(cid, []),
                "tests": [{"nodeid": t.get("nodeid"), "outcome": t.get("outcome")} for t in tests],
            }
        )
    return out


def _names(tests: Sequence[Mapping[str, Any]]) -> str:
    names = [str(t.get("nodeid", "")).split("::")[-1] for t in tests[:3]]
    return ", ".join(names) + (" ..." if len(tests) > 3 else "")


def _first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text or "").splitlines() if ln.strip()]
    picked = next((ln for ln in lines if ln.startswith("E ")), lines[-1] if lines else "")
    return picked.removeprefix("E ").strip()[:300]


# -- controls ---------------------------------------------------------------------------


def _claim(ctl: Control, results: Mapping[str, Any], tests: set[str]) -> str:
    env = results.get("environment") or {}
    steps = [s for s in results.get("scenarios") or [] if str(s.get("test")) in tests]
    own = run_prefix(str((results.get("run") or {}).get("id"))) + "-"
    namespaces = sorted(
        {ns for s in steps for ns in (s.get("namespaces") or {}).values() if ns.startswith(own)}
    )
    adm = [a for a in results.get("admission") or [] if str(a.get("test")) in tests]
    adm_all = {str(a.get("namespace")) for a in adm if a.get("namespace")}
    adm_ns = sorted(ns for ns in adm_all if ns.startswith(own))
    adm_platform = sorted(adm_all - set(adm_ns))
    constraint = env.get("constraint") or {}
    cni = env.get("cni") or "unknown CNI"
    if env.get("cni_version"):
        cni = f"{cni} {env['cni_version']}"
    values = {
        "cni": cni,
        "cells": sum(len(s.get("observed") or []) for s in steps),
        "steps": len(steps),
        "namespaces": _ns_list(namespaces or adm_ns),
        "gatekeeper": env.get("gatekeeper") or "?",
        "constraint": constraint.get("name") or "?",
        "action": constraint.get("enforcementAction") or "?",
        "refused": {
            "warn": "admitted with its warning",
            "dryrun": "admitted, to be listed by its audit,",
        }.get(str(constraint.get("enforcementAction")), "refused"),
        "platform_cases": f" (also {_ns_list(adm_platform)})" if adm_platform else "",
        "cases": len(adm),
        "coverage": _coverage_claim(results),
        "isolation": _isolation_claim(results),
    }
    return ctl.claim.format(**values)


def _isolation_claim(results: Mapping[str, Any]) -> str:
    doc = results.get("isolation") or {}
    inv = doc.get("inventory") or {}
    if not inv:
        return "not examined"
    n = doc.get("counts") or {}
    return (
        f"{inv.get('pods', 0)} running pods in {inv.get('classes', 0)} classes, "
        f"{inv.get('namespaces', 0)} namespaces ({doc.get('scope', '?')}), "
        f"{inv.get('tenants', 0)} tenants "
        f"({_ns_list(list((doc.get('matrix') or {}).get('tenants') or []))}; "
        f"{doc.get('tenantModel', '?')}): no tenant reaches "
        f"another tenant or the platform beyond the declared flows "
        f"({n.get('WARN', 0)} warnings listed in the report)"
    )


def _coverage_claim(results: Mapping[str, Any]) -> str:
    doc = results.get("coverage") or {}
    rows = [r for r in doc.get("rows") or [] if r.get("status") != "not examined"]
    if not rows:
        return "none was examined"
    covered = [r["namespace"] for r in rows if r.get("status") == "covered"]
    exempt = [r["namespace"] for r in rows if r.get("status") == "exempt"]
    proven = sum(1 for r in rows if r.get("agrees") is True)
    text = (
        f"{plural(len(covered), 'namespace')} ({_ns_list(covered)}) "
        f"{'is' if len(covered) == 1 else 'are'} covered and {len(exempt)} "
        f"({_ns_list(exempt)}) exempt as platform namespaces ({doc.get('platform_rule')}), "
        f"none unprotected; {proven} of these {len(rows)} answered a dry-run Pod as computed"
    )
    sw = doc.get("switch_off")
    if sw is None:
        return text + "; who can switch the safeguard off was not examined"
    found = sw.get("findings") or []
    outside = sorted({str(f["subject"]) for f in found if not f.get("platform")})
    runner = sorted({str(f["subject"]) for f in found if f.get("runner")})
    return text + (
        f"; of {plural(len(found), 'RBAC grant')} that can switch the safeguard off, none "
        "that the API server confirms is to a tenant's service account or a group that "
        "includes them"
        + (f" other than the verifier's own role ({_ns_list(runner)})" if runner else "")
        + (
            f" ({len(outside)} subject(s) outside the platform: {_ns_list(outside)})"
            if outside
            else ""
        )
    )


def _ns_list(names: Sequence[str]) -> str:
    if not names:
        return "(none recorded)"
    if len(names) <= 6:
        return ", ".join(names)
    return ", ".join(names[:5]) + f" and {len(names) - 5} more"


def compute_controls(
    results: Mapping[str, Any], checks: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    checks = list(checks if checks is not None else compute_checks(results))
    status = {str(c["id"]): c for c in checks}
    out = []
    for ctl in CONTROLS:
        rows = [status[cid] for cid in ctl.required]
        wide = status.get(ctl.widened_by) if ctl.widened_by else None
        failed = [r for r in rows if r["status"] == FAILED]
        missing = [r for r in rows if r["status"] != PASSED and r["status"] != FAILED]
        if wide is not None and wide["status"] == FAILED:
            failed.append(wide)
        elif wide is not None and wide["status"] == ERROR:
            missing.append(wide)
        widened = wide is not None and wide["status"] == PASSED
        if failed:
            verdict = FAIL
            evidence = "Not proven: " + "; ".join(f"{r['id']} {r['reason']}" for r in failed)
        elif missing:
            verdict = INCOMPLETE
            evidence = "Not proven: " + "; ".join(
                f"{r['id']} {r['status']} ({r['reason']})" for r in missing
            )
        else:
            verdict = PASS
            tests = {str(t["nodeid"]) for r in rows for t in r["tests"]}
            evidence = _claim(ctl, results, tests)
            if widened:
                evidence += ctl.widened_claim.format(isolation=_isolation_claim(results))
        out.append(
            {
                "id": ctl.id,
                "iso2013": list(ctl.iso2013),
                "title": ctl.title,
                "verdict": verdict,
                "required": list(ctl.required),
                "passed": [r["id"] for r in rows if r["status"] == PASSED],
                "missing": [
                    {"id": r["id"], "status": r["status"], "reason": r["reason"]}
                    for r in [*failed, *missing]
                ],
                "evidence": evidence,
                "scope": ctl.widened_scope if widened else ctl.scope,
            }
        )
    return out


# -- the run ------------------------------------------------------------------------------


def _counts(tests: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    c = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for t in tests:
        o = str(t.get("outcome"))
        if o in c:
            c[o] += 1
    return c


def compute_verdict(
    results: Mapping[str, Any], controls: Sequence[Mapping[str, Any]] | None = None
) -> tuple[str, str]:
    """(verdict, one line saying why)."""
    controls = list(controls if controls is not None else compute_controls(results))
    tests = _tests(results)
    run = results.get("run") or {}
    failures = [t for t in tests if _is_failure(t)]
    errors = [t for t in tests if _is_error(t)]
    bad = _bad_evidence(results)
    leaks = losses = refused = 0
    for s in results.get("scenarios") or []:
        cmp = compare_step(s)
        leaks += len(cmp["leak"])
        losses += len(cmp["loss"])
        refused += len(cmp["refused"])
    failing = [c["id"] for c in controls if c["verdict"] == FAIL]
    open_ = [c for c in controls if c["verdict"] == INCOMPLETE]
    exit_status = run.get("exit_status")
    interrupted = bool(run.get("interrupted"))
    parts: list[str] = []
    if failures or failing or bad:
        verdict = FAIL
        if failures:
            parts.append(f"{plural(len(failures), 'test')} failed")
        if leaks:
            parts.append(f"{plural(leaks, 'leak')}: traffic got through that policy blocks")
        if losses:
            parts.append(f"{plural(losses, 'loss', 'losses')}: traffic blocked that policy allows")
        if refused:
            parts.append(f"{plural(refused, 'refusal')} where a block (timeout) was expected")
        if failing:
            parts.append("not proven: " + ", ".join(failing))
    elif open_ or errors or interrupted or exit_status not in (0, None):
        verdict = INCOMPLETE
        if interrupted:
            parts.append("the run was interrupted")
        if errors:
            parts.append(f"{plural(len(errors), 'test')} could not measure")
        for c in open_:
            missing = ", ".join(f"{m['id']} ({m['status']})" for m in c["missing"])
            parts.append(f"{c['id']} incomplete: {missing}")
        if exit_status not in (0, None) and not (errors or interrupted):
            parts.append(f"pytest exited with status {exit_status}")
    else:
        verdict = PASS
        counts = _counts(tests)
        parts.append(
            f"{counts['passed']} of {len(tests)} tests passed"
            + (f" ({counts['skipped']} skipped, not required)" if counts["skipped"] else "")
        )
        parts.append(
            "every required check of " + ", ".join(c["id"] for c in controls) + " ran and passed"
        )
    return verdict, "; ".join(parts)


def finalize(results: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``results`` with ``summary``, ``checks``, ``controls``, ``verdict`` and
    ``verdict_reason`` computed from the rest. Idempotent."""
    out = dict(results)
    tests = _tests(out)
    out["summary"] = {**_counts(tests), "total": len(tests)}
    out["checks"] = compute_checks(out)
    out["controls"] = compute_controls(out, out["checks"])
    out["verdict"], out["verdict_reason"] = compute_verdict(out, out["controls"])
    return out
