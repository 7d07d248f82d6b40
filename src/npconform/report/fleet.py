"""Many clusters at a glance: the newest ``results.json`` of each cluster of a fleet (one
per cluster and night, as the scheduled runs write them) in one table, cluster x control,
and what changed since the previous report of the same cluster (``npconform diff``).

A cluster is told by its identity: the UID of its ``kube-system`` namespace (stable for
the cluster's life, the same through any kubeconfig), else its API server's address.
Pure: documents in, a :class:`Fleet` and its HTML out; nothing reads files or clusters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from npconform.report.changes import severity
from npconform.report.diff import diff
from npconform.verdict.controls import CONTROLS

__all__ = ["ClusterRow", "Fleet", "fleet", "render_fleet"]


@dataclass
class ClusterRow:
    key: str  # kube-system UID, or the API server
    server: str
    context: str
    source: str  # the file the newest report came from
    run_id: str
    finished: str
    verdict: str
    reason: str
    controls: dict[str, str]  # control id -> verdict
    reports: int  # how many reports of this cluster were given
    previous: str = ""  # the previous report's run and time ("" when this is the first)
    changes: str = ""  # `npconform diff` of the previous report against the newest
    worse: bool = False
    changed: bool = False

    @property
    def name(self) -> str:
        return self.context or self.server or self.key


@dataclass
class Fleet:
    rows: list[ClusterRow] = field(default_factory=list)
    controls: list[tuple[str, str]] = field(default_factory=list)  # (id, title)

    @property
    def verdict(self) -> str:
        """The worst newest verdict of the fleet."""
        worst = max((r.verdict for r in self.rows), key=severity, default="INCOMPLETE")
        return worst or "INCOMPLETE"

    def text(self) -> str:
        ids = [c for c, _ in self.controls]
        head = ["CLUSTER", "RUN", "FINISHED", "VERDICT", *ids, "SINCE PREVIOUS"]
        rows = [head]
        for r in self.rows:
            since = (
                "first report"
                if not r.previous
                else ("worse" if r.worse else ("changed" if r.changed else "no changes"))
            )
            rows.append(
                [
                    r.name,
                    r.run_id,
                    r.finished,
                    r.verdict,
                    *(r.controls.get(c, "-") for c in ids),
                    since,
                ]
            )
        width = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(f"{v:<{width[i]}}" for i, v in enumerate(row)).rstrip() for row in rows]
        lines.append(f"fleet: {len(self.rows)} cluster(s), worst verdict {self.verdict}")
        return "\n".join(lines)


def _key(doc: Mapping[str, Any]) -> str:
    ident = doc.get("identity") or {}
    return str(ident.get("kube_system_uid") or ident.get("server") or "")


def _when(doc: Mapping[str, Any]) -> str:
    run = doc.get("run") or {}
    return str(run.get("finished") or run.get("started") or "")


def fleet(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> Fleet:
    """The fleet of ``reports`` (source, finalized results document). A report with no
    cluster identity is a cluster of its own, named by its file. The same run given twice
    counts once."""
    by_cluster: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    seen: set[tuple[str, str]] = set()
    for source, doc in reports:
        key = _key(doc) or f"(no identity) {source}"
        run_id = str((doc.get("run") or {}).get("id") or source)
        if (key, run_id) in seen:
            continue
        seen.add((key, run_id))
        by_cluster.setdefault(key, []).append((source, doc))
    out = Fleet(controls=[(c.id, c.title) for c in CONTROLS])
    for key, docs in by_cluster.items():
        docs.sort(key=lambda sd: _when(sd[1]))
        source, new = docs[-1]
        ident = new.get("identity") or {}
        run = new.get("run") or {}
        row = ClusterRow(
            key=key,
            server=str(ident.get("server") or ""),
            context=str(ident.get("context") or ""),
            source=source,
            run_id=str(run.get("id") or "?"),
            finished=_when(new),
            verdict=str(new.get("verdict") or "INCOMPLETE"),
            reason=str(new.get("verdict_reason") or ""),
            controls={str(c.get("id")): str(c.get("verdict")) for c in new.get("controls") or []},
            reports=len(docs),
        )
        if len(docs) > 1:
            _, old = docs[-2]
            d = diff(old, new)
            row.previous = f"run {(old.get('run') or {}).get('id', '?')} ({_when(old)})"
            row.changes, row.worse, row.changed = d.text(), d.worse, d.changed
        out.rows.append(row)
    out.rows.sort(key=lambda r: (-severity(r.verdict), not r.worse, r.name))
    return out


def render_fleet(f: Fleet) -> str:
    from npconform.report.html import environment

    return environment().get_template("fleet.html.j2").render(fleet=f, verdict=f.verdict)
