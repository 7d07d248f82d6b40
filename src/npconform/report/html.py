"""``report.html``: a run's evidence as one self-contained, printable HTML page.

The markup, the words and the symbols are in ``templates/`` (Jinja2, autoescaped, strict
about undefined names); this module only turns the finalized results document into plain
view data: every key a template reads is present, grids are laid out, counts are counted.
No JavaScript and no external resource: a Content-Security-Policy in the page forbids
both, and the page renders offline.

Reading order: the verdict and the run's identity, the ISO/IEC 27001:2022 controls, the
checks, the components and safeguard objects, admission cases, one reachability grid per
traffic step, then the records (convergence, audit, not tested, tests, selection, conduct,
timings). A grid cell tells how its probe compares with the policies (``compare_step``'s
kinds: allowed, blocked, leak, loss, refused, unobserved) by colour *and* by symbol, with a
sentence for screen readers, and names its outcome class (connected, timeout, refused,
error) as text; twin cells carry a "twin" tag and a dashed border.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from npconform.model.matrix import OUTCOMES
from npconform.report.document import fingerprint, results_digest
from npconform.verdict.controls import CONDUCT_CONTROLS
from npconform.verdict.rules import FAIL, INCOMPLETE, PASS, cell_key, compare_step, finalize

Key = tuple[str, str, int, str, str]  # src, dst, port, protocol, via

# -- filters ----------------------------------------------------------------------------


def wbr(value: object) -> Markup:
    """Escaped text that may break after ``/`` and ``::`` (pytest node ids, paths)."""
    text = escape("" if value is None else str(value))
    return text.replace("::", Markup("::<wbr>")).replace("/", Markup("/<wbr>"))


def utc(ts: object) -> str:
    """``2026-11-27T13:00:00Z`` as ``2026-11-27 13:00:00 UTC``."""
    if not ts:
        return "—"
    try:
        dt = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return str(ts)
    offset = dt.utcoffset()
    zone = "UTC" if offset is not None and not offset else dt.strftime("%z")
    return dt.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def seconds(value: object) -> str:
    try:
        s = float(str(value))
    except ValueError:
        return "—" if value in (None, "") else str(value)
    if s >= 90:
        m, sec = divmod(round(s), 60)
        return f"{m} min {sec:02d} s"
    return f"{s:.1f} s"


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("npconform", "report/templates"),
        autoescape=select_autoescape(("html", "j2"), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=lambda v: "" if v is None else v,  # a missing value prints as nothing
    )
    env.filters.update(wbr=wbr, utc=utc, seconds=seconds, pretty=pretty)
    return env


# -- view data --------------------------------------------------------------------------


def pick(m: Any, *keys: str) -> dict[str, Any]:
    """``keys`` of the mapping ``m`` (``None`` where missing, or when ``m`` is no mapping)."""
    return {k: m.get(k) if isinstance(m, Mapping) else None for k in keys}


def rows(items: Any, *keys: str) -> list[dict[str, Any]]:
    return [pick(m, *keys) for m in items or [] if isinstance(m, Mapping)]


def where(k: Key) -> str:
    src, dst, port, proto, via = k
    return f"{src} → {dst} {port}/{proto}" + (f" via {via}" if via != "pod" else "")


def flap_key(k: Key) -> str:
    """A cell as ``str(Cell)`` writes it: the form of a step's ``flapping``."""
    src, dst, port, proto, via = k
    return f"{src} -> {dst}:{port}/{proto}" + (f" (via {via})" if via != "pod" else "")


def split_ref(ref: str) -> dict[str, str]:
    ns, sep, name = ref.rpartition("/")
    return {"ns": ns + sep, "name": name, "ref": ref}


def step_grids(s: Mapping[str, Any], kind_of: Mapping[Key, str]) -> list[dict[str, Any]]:
    """One grid per (port, protocol, via): rows are sources, columns targets (those that
    are sources too first, in the rows' order), cells ``None`` where nothing was probed."""
    observed = {cell_key(c): c for c in s.get("observed") or []}
    flapping = {str(f) for f in s.get("flapping") or []}
    grids: dict[tuple[int, str, str], dict[str, Any]] = {}
    for c in s.get("expected") or []:
        k = cell_key(c)
        g = grids.setdefault(k[2:], {"rows": {}, "cols": {}, "cells": {}})
        g["rows"][k[0]] = g["rows"].get(k[0], False) or bool(c.get("twin"))
        g["cols"][k[1]] = True
        obs = observed.get(k) or {}
        g["cells"][k[:2]] = {
            "kind": kind_of[k],
            "want": "allowed" if c.get("allowed") else "blocked",
            "outcome": str(obs.get("outcome") or "no result"),
            "twin": bool(c.get("twin")),
            "flap": flap_key(k) in flapping,
            "title": where(k) + (f" ({obs['detail']})" if obs.get("detail") else ""),
        }
    out = []
    for (port, proto, via), g in grids.items():
        order = [x for x in g["rows"] if x in g["cols"]]
        order += [x for x in g["cols"] if x not in g["rows"]]
        body = [
            {**split_ref(src), "twin": twin, "cells": [g["cells"].get((src, d)) for d in order]}
            for src, twin in g["rows"].items()
        ]
        out.append(
            {
                "title": f"{port}/{proto}" + (f" via {via}" if via != "pod" else ""),
                "cols": [split_ref(d) for d in order],
                "rows": body,
                "dense": len(order) > 10,
            }
        )
    return out


def step_view(index: int, s: Mapping[str, Any], tests: Mapping[str, Any]) -> dict[str, Any]:
    """A traffic step; ``tests`` maps node ids to their test's ``check`` and ``test_error``."""
    cmp = compare_step(s)
    kind_of = {k: kind for kind, keys in cmp.items() for k in keys}
    observed = {cell_key(c): c for c in s.get("observed") or []}
    mismatches = [
        {"kind": kind, "where": where(k), **pick(observed.get(k), "outcome", "detail")}
        for kind in ("leak", "loss", "refused", "unobserved")
        for k in cmp[kind]
    ]
    failed = s.get("ok") is False or any(cmp[k] for k in ("leak", "loss", "refused"))
    sha = s.get("policy_sha256") or {}
    refs = [
        "/".join(str(x) for x in pick(p.get("metadata"), "namespace", "name").values())
        for p in s.get("policies") or []
    ]
    counts = s.get("outcomes") or {}
    test = str(s.get("test") or "")
    return {
        **pick(s, "scenario", "step", "provenance", "converge_s", "rounds"),
        "id": f"step-{index}",
        "verdict": FAIL if failed else INCOMPLETE if cmp["unobserved"] else PASS,
        "failed": failed,
        "test": test,
        **pick(tests.get(test), "check", "test_error"),
        "blocking": list(s.get("blocking") or ["timeout"]),
        "round_s": list(s.get("round_s") or []),
        "flapping": [str(f) for f in s.get("flapping") or []],
        "cells": len(s.get("expected") or []),
        "twins": sum(1 for c in s.get("expected") or [] if c.get("twin")),
        "outcomes": {o: int(counts.get(o) or 0) for o in OUTCOMES},
        "kinds": {kind: len(keys) for kind, keys in cmp.items()},
        "grids": step_grids(s, kind_of),
        "mismatches": mismatches,
        "policies": [{"ref": ref, "sha256": sha.get(ref)} for ref in refs],
        "policies_json": pretty(list(s.get("policies") or [])),
        "namespaces": sorted((s.get("namespaces") or {}).items()),
        "repro": list(s.get("repro") or []),
        "causes": list(s.get("causes") or []),
    }


_ORDER = {"failed": 0, "error": 0, "skipped": 2, "passed": 3}


def change_view(c: Mapping[str, Any]) -> dict[str, Any]:
    """A cluster-scoped change (``conduct.cluster_changes``): its object, what changed,
    whether it was restored; any other keys shown as they are."""
    known = ("test", "object", "kind", "name", "change", "what", "restored")
    extra = {k: v for k, v in c.items() if k not in known}
    return {
        "test": c.get("test"),
        "object": c.get("object") or "/".join(str(c[k]) for k in ("kind", "name") if c.get(k)),
        "change": c.get("change") or c.get("what"),
        "restored": c.get("restored"),
        "extra": pretty(extra) if extra else "",
    }


def isolation_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant x tenant matrix (cells expandable to their class pairs) and findings."""
    if not doc:
        return {"recorded": False}
    tenants = list((doc.get("matrix") or {}).get("tenants") or [])
    cells = {(c["source"], c["target"]): c for c in (doc.get("matrix") or {}).get("cells") or []}
    targets = tenants + (["platform"] if any(t == "platform" for _, t in cells) else [])
    rows = []
    for s in tenants:
        row = []
        for t in targets:
            c = cells.get((s, t))
            row.append(
                {
                    "self": s == t,
                    "bad": bool(c and c["unintended"]),
                    "text": f"{c['unintended']} / {c['intended']}" if c else "",
                    "pairs": (c or {}).get("pairs") or [],
                    "more": (c["cells"] - len(c["pairs"])) if c else 0,
                }
            )
        rows.append({"tenant": s, "cells": row})
    inv = doc.get("inventory") or {}
    return {
        "recorded": True,
        "test": doc.get("test", ""),
        "verdict": doc.get("verdict", ""),
        "scope": doc.get("scope", ""),
        "model": doc.get("tenantModel", ""),
        "line": (
            f"{inv.get('namespaces', 0)} namespaces, {inv.get('pods', 0)} running pods in "
            f"{inv.get('classes', 0)} classes, {inv.get('policies', 0)} NetworkPolicies, "
            f"{inv.get('tenants', 0)} tenants; computed in {doc.get('seconds', 0)} s"
        ),
        "targets": targets,
        "rows": rows,
        "findings": list(doc.get("findings") or []),
        "unreadable": list(doc.get("unreadable") or []),
    }


def coverage_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The coverage table: one row per namespace, with the terminal's wording."""
    from npconform.report.coverage import confirmed_cell, live_cell, status_cell, summary_line

    return {
        "recorded": bool(doc),
        "summary": doc.get("summary") or "",
        "line": summary_line(doc) if doc else "",
        "rule": doc.get("platform_rule") or "",
        "test": doc.get("test") or "",
        "rows": [
            {
                "namespace": row.get("namespace"),
                "status": status_cell(row),
                "bad": row.get("status") in ("unprotected", "undetermined")
                or row.get("agrees") is False,
                "live": live_cell(row),
                "by": list(row.get("by") or []),
                "platform": row.get("platform") or "",
                "notes": list(row.get("notes") or []),
                "message": row.get("live_message") or "",
            }
            for row in doc.get("rows") or []
        ],
        "switch_off": None
        if doc.get("switch_off") is None
        else {
            "missing": list(doc["switch_off"].get("missing") or []),
            "findings": [
                {
                    **pick(f, "subject", "can", "verb", "scope", "binding", "platform", "runner"),
                    "only": ", ".join(f.get("only") or []),
                    "confirmed": confirmed_cell(f),
                    "bad": bool(f.get("breach")),
                }
                for f in sorted(
                    doc["switch_off"].get("findings") or [],
                    key=lambda f: (bool(f.get("platform")), str(f.get("subject"))),
                )
            ],
        },
    }


def view(r: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the templates read, each key present."""
    env = r.get("environment") or {}
    run = r.get("run") or {}
    who = r.get("identity") or {}
    sel = r.get("selection") or {}
    conduct = r.get("conduct") or {}
    checks = {str(c.get("id")): c for c in r.get("checks") or []}
    by_id = {str(t.get("nodeid")): t for t in r.get("tests") or []}
    timings = rows(r.get("timings"), "step", "action", "seconds", "detail")
    top = max([float(t["seconds"] or 0) for t in timings] + [0.0]) or 1.0
    for t in timings:
        t["share"] = round(100 * float(t["seconds"] or 0) / top, 1)
    tests = sorted(
        rows(r.get("tests"), "nodeid", "outcome", "check", "area", "duration_s", "message",
             "test_error"),
        key=lambda t: (_ORDER.get(str(t["outcome"]), 1), str(t["nodeid"])),
    )  # fmt: skip
    cons = env.get("constraint")
    return {
        "verdict": str(r.get("verdict")),
        "reason": r.get("verdict_reason") or "",
        "could_not_measure": sum(1 for t in tests if t["test_error"]),
        "summary": {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
        | dict(r.get("summary") or {}),
        "run": pick(run, "id", "started", "finished", "duration_s", "exit_status",
                    "interrupted", "command"),
        "options": pretty(run.get("options") or {}),
        "tool": pick(r.get("tool"), "name", "version", "commit", "dirty"),
        "who": pick(who, "server", "context", "kube_system_uid", "kube_system_uid_error"),
        "user": pick(who.get("user"), "username", "uid", "groups", "source"),
        "env": pick(env, "target", "kubernetes", "cni", "cni_version", "gatekeeper",
                    "offline", "deny_response"),
        "constraint": pick(cons, "name", "enforcementAction") if cons else None,
        "nodes": rows(env.get("nodes"), "name", "ready", "control_plane", "internal_ip"),
        "images": sorted((env.get("images") or {}).items()),
        "fingerprint": fingerprint(env),
        "controls": [
            {
                **pick(c, "id", "title", "verdict", "evidence", "scope"),
                "iso2013": ", ".join(map(str, c.get("iso2013") or [])),
                "required": [
                    {"id": cid, **pick(checks.get(str(cid)), "title", "status", "reason")}
                    for cid in c.get("required") or []
                ],
            }
            for c in r.get("controls") or []
        ],
        "checks": [
            {
                **pick(c, "id", "title", "status", "reason"),
                "required_by": ", ".join(c.get("required_by") or []),
                "tests": rows(c.get("tests"), "nodeid", "outcome"),
            }
            for c in checks.values()
        ],
        "artifacts": [
            {
                **pick(a, "kind", "sha256", "error"),
                "ref": "/".join(str(x) for x in (a.get("namespace"), a.get("name")) if x),
                "content": pretty(a["content"]) if "content" in a else "",
            }
            for a in r.get("artifacts") or []
        ],
        "artifacts_changed": rows(r.get("artifacts_changed"), "kind", "namespace", "name",
                                  "start", "end"),
        "coverage": coverage_view(r.get("coverage") or {}),
        "isolation": isolation_view(r.get("isolation") or {}),
        "admission": rows(r.get("admission"), "case", "kind", "namespace", "expected",
                          "observed", "ok", "message", "test"),
        "steps": [step_view(i, s, by_id) for i, s in enumerate(r.get("scenarios") or [])],
        "audit": rows(r.get("audit_violations"), "kind", "namespace", "name",
                      "enforcementAction", "message"),
        "not_tested": rows(r.get("not_tested"), "what", "reason", "required", "test"),
        "tests": tests,
        "selection": {
            "recorded": bool(sel),
            "args": shlex.join(map(str, sel.get("args") or [])),
            "collected": len(sel.get("collected") or []),
            "deselected": list(sel.get("deselected") or []),
            "selected": sel.get("selected"),
            "not_run": list(sel.get("not_run") or []),
            "narrowed": list(sel.get("narrowed") or []),
        },
        "conduct_controls": [{"id": i, "title": t} for i, t in CONDUCT_CONTROLS],
        "changes": [change_view(c) for c in conduct.get("cluster_changes") or []],
        "cleanup": pick(
            conduct.get("cleanup"), "selector", "done", "removed", "left", "terminating", "reason"
        )
        | {"recorded": bool(conduct.get("cleanup"))},
        "timings": timings,
        "timings_total": sum(float(t["seconds"] or 0) for t in timings),
        "digest": results_digest(r),
    }  # fmt: skip


def render_html(results: Mapping[str, Any]) -> str:
    """The report of a finalized results document (finalized here when it carries no
    ``verdict`` yet) as one self-contained HTML page. The footer names the sha256 of the
    ``results.json`` the bundle writes for the same document."""
    r = results if "verdict" in results else finalize(results)
    return environment().get_template("report.html.j2").render(view(r))
