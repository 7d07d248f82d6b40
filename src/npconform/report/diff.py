"""What changed between two finalized results documents: the run verdict, each control's
verdict (worse or better, by the severity PASS < INCOMPLETE < FAIL), check statuses, the
traffic cells, the policies in force, the safeguard objects, the component versions, and
whether the two runs saw the same cluster.

Pure: :func:`diff` reads two documents (as ``results.json`` holds them) and returns a
:class:`Diff`; nothing here reads files or talks to a cluster.

Traffic steps are matched by (scenario, step); a step name that occurs more than once in
one run is told apart by its order (``"<step> #2"``). Cells are matched within a step by
:func:`npconform.verdict.rules.cell_key`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from npconform.report.changes import (
    ArtifactChange,
    CellChange,
    CellKey,
    CellState,
    CheckChange,
    Diff,
    PolicyChange,
    StepKey,
    UnmatchedCells,
    VerdictChange,
    VersionChange,
)
from npconform.verdict.rules import cell_key, compare_step


def _run_label(doc: Mapping[str, Any]) -> str:
    run = doc.get("run") or {}
    ident = doc.get("identity") or {}
    parts = [f"run {run.get('id') or '?'}"]
    if run.get("started"):
        parts.append(f"started {run['started']}")
    if ident.get("server"):
        parts.append(f"on {ident['server']}")
    return ", ".join(parts)


def _controls(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[VerdictChange]:
    a = {str(c.get("id")): c for c in old.get("controls") or []}
    b = {str(c.get("id")): c for c in new.get("controls") or []}
    out = []
    for cid in [*a, *(k for k in b if k not in a)]:
        o, n = a.get(cid) or {}, b.get(cid) or {}
        ov, nv = o.get("verdict"), n.get("verdict")
        if ov != nv:
            out.append(
                VerdictChange(
                    cid,
                    str(n.get("title") or o.get("title") or ""),
                    None if ov is None else str(ov),
                    None if nv is None else str(nv),
                    str(n.get("evidence") or ""),
                )
            )
    return out


def _checks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[CheckChange]:
    a = {str(c.get("id")): c for c in old.get("checks") or []}
    b = {str(c.get("id")): c for c in new.get("checks") or []}
    out = []
    for cid in [*a, *(k for k in b if k not in a)]:
        o, n = a.get(cid), b.get(cid)
        os_ = None if o is None else str(o.get("status"))
        ns = None if n is None else str(n.get("status"))
        if os_ != ns:
            out.append(CheckChange(cid, os_, ns, str((n or {}).get("reason") or "")))
    return out


def _steps(doc: Mapping[str, Any]) -> dict[StepKey, Mapping[str, Any]]:
    out: dict[StepKey, Mapping[str, Any]] = {}
    for s in doc.get("scenarios") or []:
        scenario, step = str(s.get("scenario", "")), str(s.get("step", ""))
        key, n = (scenario, step), 1
        while key in out:
            n += 1
            key = (scenario, f"{step} #{n}")
        out[key] = s
    return out


def _cells(step: Mapping[str, Any]) -> dict[CellKey, CellState]:
    kinds = {k: kind for kind, keys in compare_step(step).items() for k in keys}
    expected = {cell_key(c): c for c in step.get("expected") or []}
    observed = {cell_key(c): c for c in step.get("observed") or []}
    out = {}
    for k in [*expected, *(k for k in observed if k not in expected)]:
        e, o = expected.get(k), observed.get(k)
        allowed = o.get("allowed") if o is not None else None
        outcome = o.get("outcome") if o is not None else None
        out[k] = CellState(
            None if outcome is None else str(outcome),
            allowed if isinstance(allowed, bool) else None,
            None if e is None else bool(e.get("allowed")),
            kinds.get(k, "not expected"),
        )
    return out


def _traffic(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[list[CellChange], list[UnmatchedCells], list[PolicyChange]]:
    a, b = _steps(old), _steps(new)
    cells: list[CellChange] = []
    unmatched: list[UnmatchedCells] = []
    policies: list[PolicyChange] = []
    for key in [*a, *(k for k in b if k not in a)]:
        scenario, step = key
        sa, sb = a.get(key), b.get(key)
        if sb is None:
            assert sa is not None
            unmatched.append(UnmatchedCells(scenario, step, "old", tuple(_cells(sa))))
            continue
        if sa is None:
            unmatched.append(UnmatchedCells(scenario, step, "new", (), tuple(_cells(sb))))
            continue
        ca, cb = _cells(sa), _cells(sb)
        for k, state in ca.items():
            if k in cb and not state.same(cb[k]):
                cells.append(CellChange(scenario, step, k, state, cb[k]))
        old_only = tuple(k for k in ca if k not in cb)
        new_only = tuple(k for k in cb if k not in ca)
        if old_only or new_only:
            unmatched.append(UnmatchedCells(scenario, step, "both", old_only, new_only))
        pa = dict(sa.get("policy_sha256") or {})
        pb = dict(sb.get("policy_sha256") or {})
        for name in sorted({*pa, *pb}):
            if pa.get(name) != pb.get(name):
                old_d, new_d = pa.get(name), pb.get(name)
                policies.append(
                    PolicyChange(
                        scenario,
                        step,
                        str(name),
                        None if old_d is None else str(old_d),
                        None if new_d is None else str(new_d),
                    )
                )
    return cells, unmatched, policies


def _artifacts(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ArtifactChange]:
    def index(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], str | None]:
        out: dict[tuple[str, str, str], str | None] = {}
        for o in doc.get("artifacts") or []:
            key = (str(o.get("kind") or ""), str(o.get("namespace") or ""), str(o.get("name")))
            sha = o.get("sha256")
            out[key] = None if sha is None else str(sha)
        return out

    a, b = index(old), index(new)
    out = []
    for key in sorted({*a, *b}):
        if key not in a or key not in b or a[key] != b[key]:
            out.append(ArtifactChange(*key, a.get(key), b.get(key), key in a, key in b))
    return out


def _constraint(c: object) -> str | None:
    if not isinstance(c, Mapping) or not c.get("name"):
        return None
    return f"{c['name']} ({c.get('enforcementAction') or '?'})"


def _components(doc: Mapping[str, Any], tool_name: str) -> dict[str, str | None]:
    env = doc.get("environment") or {}
    tool = doc.get("tool") or {}
    images = env.get("images") or {}
    commit = tool.get("commit")
    if commit and tool.get("dirty"):
        commit = f"{commit} (with local changes)"

    def s(v: object) -> str | None:
        return None if v is None or v == "" else str(v)

    return {
        "kubernetes": s(env.get("kubernetes")),
        "cni": s(env.get("cni")),
        "cni version": s(env.get("cni_version")),
        "gatekeeper": s(env.get("gatekeeper")),
        "constraint": _constraint(env.get("constraint")),
        "deny response": s(env.get("deny_response")),
        "probe image": s(images.get("probe") if isinstance(images, Mapping) else None),
        f"{tool_name} version": s(tool.get("version")),
        f"{tool_name} commit": s(commit),
    }


def _versions(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[VersionChange]:
    name = str((new.get("tool") or {}).get("name") or (old.get("tool") or {}).get("name") or "")
    a, b = _components(old, name or "tool"), _components(new, name or "tool")
    return [VersionChange(k, a[k], b[k]) for k in a if a[k] != b[k]]


def _cluster_notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    a, b = old.get("identity") or {}, new.get("identity") or {}
    differ = []
    for key, label in (("server", "API server"), ("kube_system_uid", "kube-system UID")):
        x, y = a.get(key), b.get(key)
        if x and y and x != y:
            differ.append(f"{label} {x} -> {y}")
    if differ:
        return ["the runs are of different clusters: " + "; ".join(differ)]
    unknown = [
        name
        for name, ident in (("old", a), ("new", b))
        if not (ident.get("server") or ident.get("kube_system_uid"))
    ]
    if unknown:
        return [
            f"the {' and the '.join(unknown)} run recorded no cluster identity: "
            "whether both are of the same cluster is not known"
        ]
    return []


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    """What changed from ``old`` to ``new`` (two finalized results documents)."""
    ov, nv = old.get("verdict"), new.get("verdict")
    verdict = VerdictChange(
        "run",
        "run verdict",
        None if ov is None else str(ov),
        None if nv is None else str(nv),
        str(new.get("verdict_reason") or ""),
    )
    cells, unmatched, policies = _traffic(old, new)
    return Diff(
        old_run=_run_label(old),
        new_run=_run_label(new),
        verdict=verdict,
        controls=_controls(old, new),
        checks=_checks(old, new),
        cells=cells,
        unmatched=unmatched,
        policies=policies,
        artifacts=_artifacts(old, new),
        versions=_versions(old, new),
        notes=_cluster_notes(old, new),
    )
