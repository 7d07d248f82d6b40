"""The admission coverage of a cluster's namespaces as terminal text, from its JSON
document (``Coverage.to_json``: the CLI's ``--json`` and the "coverage" evidence)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from npconform.model.rbac import POWERS


def status_cell(row: Mapping[str, Any]) -> str:
    st = str(row.get("status", ""))
    return f"{st} ({row['action']})" if row.get("action") else st


def live_cell(row: Mapping[str, Any]) -> str:
    live = str(row.get("live") or "")
    if not live:
        return "-"
    agrees = row.get("agrees")
    if agrees is True:
        return f"{live}, as computed"
    if agrees is False:
        return f"{live}: DISAGREES (computed {row.get('expected')})"
    return live


def why(row: Mapping[str, Any]) -> str:
    by = "; ".join(row.get("by") or [])
    if row.get("platform"):
        by += f" [platform: {row['platform']}]"
    return by


def summary_line(doc: Mapping[str, Any]) -> str:
    counts = doc.get("counts") or {}
    rows = doc.get("rows") or []
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    agree = sum(1 for r in rows if r.get("agrees") is True)
    disagree = sum(1 for r in rows if r.get("agrees") is False)
    live = f"live: {agree} agree, {disagree} disagree" if doc.get("live") else "not proven live"
    sw = doc.get("switch_off")
    if sw is not None:
        live += f"; {sw.get('breaches', 0)} grant(s) let a tenant's service accounts switch it off"
    return (
        f"coverage {doc.get('verdict')}: {len(rows)} namespaces: {', '.join(parts) or 'none'}; "
        + live
    )


def text(doc: Mapping[str, Any]) -> str:
    rows = list(doc.get("rows") or [])
    head = ("NAMESPACE", "STATUS", "LIVE DRY RUN", "COVERED / EXEMPTED BY")
    table = [head] + [(r["namespace"], status_cell(r), live_cell(r), why(r)) for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(3)]
    lines = []
    if doc.get("summary"):
        lines.append(str(doc["summary"]))
    lines.append(f"platform namespaces: {doc.get('platform_rule')}")
    for i, t in enumerate(table):
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(t[:3], widths, strict=True)) + "  " + t[3]
        )
        if i:
            r = rows[i - 1]
            for note in r.get("notes") or []:
                lines.append(" " * (widths[0] + 2) + f"- {note}")
            if r.get("live_message") and r.get("agrees") is not True:
                lines.append(" " * (widths[0] + 2) + f"- API server: {r['live_message']}")
    lines += switch_off_lines(doc.get("switch_off"))
    lines.append(summary_line(doc))
    return "\n".join(lines)


def confirmed_cell(f: Mapping[str, Any]) -> str:
    return {True: "confirmed", False: "NOT confirmed by the API server", None: "not asked"}[
        f.get("confirmed")
    ]


def switch_off_lines(sw: Mapping[str, Any] | None) -> list[str]:
    if sw is None:
        return ["who can switch it off: not examined"]
    lines = [""]
    for m in sw.get("missing") or []:
        lines.append(f"who can switch it off: not determined: missing permission {m}")
    found = list(sw.get("findings") or [])
    outside = [f for f in found if not f.get("platform")]
    lines.append(
        f"who can switch it off: {len(found)} grant(s), {len(outside)} to subjects outside "
        "the platform (one that is, or includes, a tenant's service account fails the run, "
        "unless the API server does not confirm it; the verifier's own role is reported, "
        "not counted)"
    )
    for f in outside:
        only = f" (only {', '.join(f['only'])})" if f.get("only") else ""
        who = (
            "THE IDENTITY RUNNING THIS CHECK (unbind it afterwards)"
            if f.get("runner")
            else "OUTSIDE THE PLATFORM"
        )
        lines.append(
            f"  {who}: {f['subject']} can {f['can']}{only} ({f['verb']}, "
            f"{f['scope']}) via {f['binding']} [{confirmed_cell(f)}]"
        )
    by_subject: dict[str, list[Mapping[str, Any]]] = {}
    for f in found:
        if f.get("platform"):
            by_subject.setdefault(str(f["subject"]), []).append(f)
    for subject, fs in by_subject.items():
        via = sorted({str(f["binding"]) for f in fs})
        confirmed = sum(1 for f in fs if f.get("confirmed"))
        lines.append(
            f"  platform: {subject}: {len(fs)} of {len(POWERS)} powers, {confirmed} confirmed, "
            f"via {'; '.join(via)}"
        )
    return lines
