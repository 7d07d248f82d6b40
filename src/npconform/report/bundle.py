"""The evidence bundle: ``results.json`` and ``report.html`` in the report directory.

``junit.xml`` sits next to them but is written by pytest itself.

The verdicts are derived from the results document by pure functions, so that a reader
(or an auditor) can recompute them from ``results.json`` alone. The rules:

Tests are mapped to ISO/IEC 27001 (Annex A.13.1) controls by their ``area``:

* ``admission`` -> A.13.1.1 and A.13.1.2 (the platform enforces, at admission, that every
  workload is covered by network controls);
* ``traffic``   -> A.13.1.1 and A.13.1.3 (segregation proven by real traffic);
* ``smoke``     -> A.13.1.2 (the network security services are installed and working);
* ``other``     -> no control (reported, and a failure still fails the run).

A control's verdict is

* ``FAIL`` if any of its tests failed or errored, or a piece of its evidence (a scenario
  step or an admission case, attributed through its test's area) is not ``ok`` - a step
  whose grid shows a leak or a loss counts as not ok, whatever its ``ok`` says;
* else ``INCOMPLETE`` if none of its tests passed, or a *required* ``not_tested`` entry
  concerns it (an entry concerns the controls it lists in ``controls``, else those of its
  ``area``, else - when it names neither - every control);
* else ``PASS``.

Skipped tests neither pass nor fail a control: a skip means an optional capability is
missing, and is listed in the report. The overall verdict is ``FAIL`` if any test failed
or errored (whatever its area), any evidence is not ``ok`` or any control fails; else
``INCOMPLETE`` if no test passed, any required check was not tested or any control is
incomplete; else ``PASS``. When the document already carries verdicts, the bundle keeps
the stricter of the carried and the computed one (``FAIL`` > ``INCOMPLETE`` > ``PASS``),
so a producer can add conditions but never talk a failure away.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PASS = "PASS"
FAIL = "FAIL"
INCOMPLETE = "INCOMPLETE"
VERDICTS = (PASS, INCOMPLETE, FAIL)  # in increasing severity

FAILED_OUTCOMES = frozenset({"failed", "error"})

#: ISO/IEC 27001:2013 Annex A controls the suite provides evidence for, with the claim a
#: PASS supports (one sentence each).
CONTROLS: tuple[dict[str, str], ...] = (
    {
        "id": "A.13.1.1",
        "title": "Network controls",
        "claim": (
            "Every workload is covered by network controls: the admission constraint refuses "
            "workloads no NetworkPolicy selects, and the CNI enforces the policies on live "
            "traffic."
        ),
    },
    {
        "id": "A.13.1.2",
        "title": "Security of network services",
        "claim": (
            "The platform's network security services (Gatekeeper's require-networkpolicy "
            "constraint and the CNI's policy enforcement) are installed, healthy and "
            "enforcing as configured."
        ),
    },
    {
        "id": "A.13.1.3",
        "title": "Segregation in networks",
        "claim": (
            "Namespaces and tenants are segregated: real probes show that traffic the "
            "policies forbid is blocked and traffic they allow gets through."
        ),
    },
)

#: Which controls a test's area provides evidence for.
AREA_CONTROLS: dict[str, tuple[str, ...]] = {
    "admission": ("A.13.1.1", "A.13.1.2"),
    "traffic": ("A.13.1.1", "A.13.1.3"),
    "smoke": ("A.13.1.2",),
    "other": (),
}

_CONTROL_IDS = tuple(c["id"] for c in CONTROLS)


def worst(verdicts: Iterable[str]) -> str:
    """The most severe of ``verdicts`` (``PASS`` if there are none); unknown ones count as
    ``INCOMPLETE``."""
    out = PASS
    for v in verdicts:
        v = v if v in VERDICTS else INCOMPLETE
        if VERDICTS.index(v) > VERDICTS.index(out):
            out = v
    return out


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 leak"``, ``"2 leaks"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _tests(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("tests") or [])


def _area_of(test: Mapping[str, Any]) -> str:
    area = str(test.get("area") or "other")
    return area if area in AREA_CONTROLS else "other"


def _controls_of_not_tested(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("controls")
    if listed:
        return tuple(str(c) for c in listed)
    area = entry.get("area")
    if area:
        return AREA_CONTROLS.get(str(area), ())
    return _CONTROL_IDS


def _evidence_failures(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(area, test nodeid, description) of every scenario step or admission case not ok."""
    areas = {str(t.get("nodeid")): _area_of(t) for t in _tests(results)}
    out: list[tuple[str, str, str]] = []
    for s in results.get("scenarios") or []:
        cmp = compare_step(s)
        if s.get("ok") is False or cmp["leak"] or cmp["loss"]:
            test = str(s.get("test", ""))
            desc = f"scenario {s.get('scenario', '?')!s} / {s.get('step', '?')!s}"
            out.append((areas.get(test, "traffic"), test, desc))
    for a in results.get("admission") or []:
        if a.get("ok") is False:
            test = str(a.get("test", ""))
            desc = f"admission case {a.get('case', '?')!s}"
            out.append((areas.get(test, "admission"), test, desc))
    return out


def _counts(tests: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    c = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for t in tests:
        o = str(t.get("outcome"))
        if o in c:
            c[o] += 1
    return c


def compute_controls(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The three A.13.1 controls with their tests, verdict and a one-sentence evidence
    statement, computed from ``tests``, ``scenarios``, ``admission`` and ``not_tested``
    (see the module docstring for the rules)."""
    tests = _tests(results)
    evidence_bad = _evidence_failures(results)
    out: list[dict[str, Any]] = []
    for ctl in CONTROLS:
        cid = ctl["id"]
        mine = [t for t in tests if cid in AREA_CONTROLS[_area_of(t)]]
        counts = _counts(mine)
        failed = [str(t.get("nodeid")) for t in mine if t.get("outcome") in FAILED_OUTCOMES]
        bad = [d for area, _, d in evidence_bad if cid in AREA_CONTROLS.get(area, ())]
        missing = [
            str(e.get("what"))
            for e in results.get("not_tested") or []
            if e.get("required") and cid in _controls_of_not_tested(e)
        ]
        if failed or bad:
            verdict = FAIL
            parts = []
            if failed:
                parts.append(f"{len(failed)} of {len(mine)} tests failed or errored")
            if bad:
                parts.append(
                    f"{plural(len(bad), 'piece')} of evidence contradicted the expectation"
                )
            evidence = "Not proven: " + "; ".join(parts) + "."
        elif counts["passed"] == 0 or missing:
            verdict = INCOMPLETE
            parts = []
            if counts["passed"] == 0:
                parts.append("no test providing evidence for it passed")
            if missing:
                parts.append("required checks not tested: " + ", ".join(missing))
            evidence = "Not proven: " + "; ".join(parts) + "."
        else:
            verdict = PASS
            evidence = ctl["claim"]
        out.append(
            {
                "id": cid,
                "title": ctl["title"],
                "verdict": verdict,
                "tests": [str(t.get("nodeid")) for t in mine],
                "evidence": evidence,
                "claim": ctl["claim"],
                "counts": counts,
            }
        )
    return out


def compute_verdict(results: Mapping[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``INCOMPLETE`` for the whole run (rules: module docstring)."""
    tests = _tests(results)
    summary = results.get("summary") or {}
    counts = _counts(tests)
    failed = counts["failed"] + counts["error"]
    if not tests:  # only a summary: trust its counts
        failed = int(summary.get("failed") or 0) + int(summary.get("error") or 0)
        counts["passed"] = int(summary.get("passed") or 0)
    controls = compute_controls(results)
    if failed or _evidence_failures(results) or any(c["verdict"] == FAIL for c in controls):
        return FAIL
    required_missing = any(e.get("required") for e in results.get("not_tested") or [])
    if counts["passed"] == 0 or required_missing or any(c["verdict"] != PASS for c in controls):
        return INCOMPLETE
    return PASS


def cell_key(c: Mapping[str, Any]) -> tuple[str, str, int, str]:
    return (str(c.get("src")), str(c.get("dst")), int(c.get("port") or 0), str(c.get("protocol")))


def compare_step(step: Mapping[str, Any]) -> dict[str, list[tuple[str, str, int, str]]]:
    """Cells of a scenario step by kind: ``allowed``/``blocked`` (as expected), ``leak``
    (allowed, expected blocked), ``loss`` (blocked, expected allowed), ``unobserved``."""
    observed = {cell_key(c): bool(c.get("allowed")) for c in step.get("observed") or []}
    out: dict[str, list[tuple[str, str, int, str]]] = {
        "allowed": [],
        "blocked": [],
        "leak": [],
        "loss": [],
        "unobserved": [],
    }
    for c in step.get("expected") or []:
        k = cell_key(c)
        want = bool(c.get("allowed"))
        got = observed.get(k)
        if got is None:
            out["unobserved"].append(k)
        elif got == want:
            out["allowed" if got else "blocked"].append(k)
        else:
            out["leak" if got else "loss"].append(k)
    return out


def verdict_reason(results: Mapping[str, Any]) -> str:
    """One line saying why the run got its verdict."""
    verdict = effective_verdict(results)
    tests = _tests(results)
    counts = _counts(tests)
    total = len(tests) or int((results.get("summary") or {}).get("total") or 0)
    leaks = losses = unobserved = 0
    for s in results.get("scenarios") or []:
        cmp = compare_step(s)
        leaks += len(cmp["leak"])
        losses += len(cmp["loss"])
        unobserved += len(cmp["unobserved"])
    bad_admission = sum(1 for a in results.get("admission") or [] if a.get("ok") is False)
    required = [str(e.get("what")) for e in results.get("not_tested") or [] if e.get("required")]
    controls = effective_controls(results)
    parts: list[str] = []
    if verdict == FAIL:
        nfail = counts["failed"] + counts["error"]
        if nfail:
            parts.append(f"{nfail} of {total} tests failed or errored")
        if leaks:
            parts.append(f"{plural(leaks, 'leak')}: traffic got through that policy blocks")
        if losses:
            parts.append(f"{plural(losses, 'loss', 'losses')}: traffic blocked that policy allows")
        if bad_admission:
            parts.append(f"{plural(bad_admission, 'admission case')} not as expected")
        failing = [c["id"] for c in controls if c["verdict"] == FAIL]
        if failing:
            parts.append("not proven: " + ", ".join(failing))
    elif verdict == INCOMPLETE:
        if required:
            parts.append("required checks not tested: " + ", ".join(required))
        if counts["passed"] == 0:
            parts.append("no test passed")
        open_ = [c["id"] for c in controls if c["verdict"] != PASS]
        if open_:
            parts.append("no conclusive evidence for " + ", ".join(open_))
        if unobserved:
            parts.append(f"{plural(unobserved, 'probe')} unobserved")
    else:
        parts.append(
            f"{counts['passed']} of {total} tests passed"
            + (f" ({counts['skipped']} skipped, optional)" if counts["skipped"] else "")
        )
        parts.append(
            "every probed cell matched policy"
            if not unobserved
            else f"{plural(unobserved, 'probe')} unobserved, every other cell matched policy"
        )
        parts.append("all three controls proven")
    if not parts:
        parts.append(f"the run itself reported {verdict}")
    return "; ".join(parts)


def effective_controls(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """:func:`compute_controls`, made stricter by any verdicts ``results`` already carries."""
    carried = {str(c.get("id")): c for c in results.get("controls") or []}
    controls = compute_controls(results)
    for c in controls:
        old = carried.get(c["id"])
        if old is None:
            continue
        old_verdict = worst([str(old.get("verdict"))])
        if VERDICTS.index(old_verdict) > VERDICTS.index(c["verdict"]):
            c["verdict"] = old_verdict
            c["evidence"] = str(old.get("evidence") or "Not proven (verdict set by the run).")
    return controls


def effective_verdict(results: Mapping[str, Any]) -> str:
    """:func:`compute_verdict`, made stricter by the verdicts ``results`` already carries."""
    return worst(
        [compute_verdict(results), str(results.get("verdict") or PASS)]
        + [c["verdict"] for c in effective_controls(results)]
    )


def finalize(results: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``results`` with ``summary``, ``controls`` and ``verdict`` reconciled with
    the computed ones (the stricter verdict wins) and ``verdict_reason`` filled in.
    Idempotent: ``finalize(finalize(r)) == finalize(r)``."""
    out = copy.deepcopy(dict(results))
    tests = _tests(out)
    if tests:
        out["summary"] = {**_counts(tests), "total": len(tests)}
    out["verdict"] = effective_verdict(out)
    out["controls"] = effective_controls(out)
    out["verdict_reason"] = verdict_reason(out)
    return out


def dumps_results(results: Mapping[str, Any]) -> str:
    """``results.json`` text: indented, keys sorted, UTF-8, newline-terminated."""
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def results_digest(results: Mapping[str, Any]) -> str:
    """sha256 of the ``results.json`` bytes for ``results`` (as written by the bundle)."""
    return hashlib.sha256(dumps_results(results).encode("utf-8")).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bundle(results: Mapping[str, Any], report_dir: Path) -> dict[str, Path]:
    """Write ``results.json`` and ``report.html`` (from the finalized results) into
    ``report_dir``, each atomically; return their paths by name."""
    from npconform.report.html import render_html

    report_dir.mkdir(parents=True, exist_ok=True)
    final = finalize(results)
    paths = {"results.json": report_dir / "results.json", "report.html": report_dir / "report.html"}
    _write_atomic(paths["results.json"], dumps_results(final))
    _write_atomic(paths["report.html"], render_html(final))
    return paths


def fingerprint(env: Mapping[str, Any]) -> str:
    """A short, stable digest of the cluster under test (versions, constraint, nodes)."""
    keys = ("target", "kubernetes", "cni", "gatekeeper", "constraint", "nodes", "images")
    doc = {k: env.get(k) for k in keys}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:12]
