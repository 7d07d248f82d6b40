"""Assemble a run's results document from test outcomes, recorded evidence and the run state.

Workers append evidence (scenario matrices, admission rows, audit violations, things not
tested) as JSON lines under the run's work directory; the controller reads them all at the
end. The shape is the one report.bundle renders.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from npconform import NAME, __version__
from npconform.session import RunState

AREAS = ("admission", "traffic", "smoke")


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # passed | failed | skipped | error
    duration_s: float
    area: str
    message: str = ""


@dataclass
class Collector:
    outcomes: dict[str, TestOutcome] = field(default_factory=dict)

    def add(
        self,
        nodeid: str,
        when: str,
        outcome: str,
        duration: float,
        keywords: Iterable[str],
        message: str,
    ) -> None:
        area = next((a for a in AREAS if a in keywords), "other")
        cur = self.outcomes.get(nodeid)
        if cur is None:
            cur = self.outcomes[nodeid] = TestOutcome(nodeid, "passed", 0.0, area)
        cur.duration_s = round(cur.duration_s + duration, 3)
        if outcome == "failed":
            cur.outcome = "failed" if when == "call" else "error"
            cur.message = message
        elif outcome == "skipped" and cur.outcome == "passed":
            cur.outcome = "skipped"
            cur.message = message


def append_evidence(
    directory: Path, worker: str, test: str, items: Iterable[tuple[str, Any]]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{worker}.jsonl").open("a") as f:
        for kind, data in items:
            f.write(json.dumps({"test": test, "type": kind, "data": data}, default=str) + "\n")


def read_evidence(directory: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(directory.glob("*.jsonl")) if directory.exists() else []:
        for line in p.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(
    state: RunState | None, collector: Collector, command: str, report_dir: Path
) -> dict[str, Any]:
    evidence = read_evidence(state.evidence_dir) if state else []
    scenarios, admission, violations, not_tested = [], [], [], []
    for e in evidence:
        t, d = e["type"], e["data"]
        if t == "scenario":
            scenarios.append({"test": e["test"], **d})
        elif t == "admission":
            admission += [{"test": e["test"], **row} for row in d]
        elif t == "audit_violations":
            violations += d
        elif t == "not_tested":
            not_tested.append(d)
    tests = [o.__dict__ for o in collector.outcomes.values()]
    summary = {
        k: sum(1 for t in tests if t["outcome"] == k)
        for k in ("passed", "failed", "skipped", "error")
    }
    summary["total"] = len(tests)
    env: dict[str, Any] = {}
    run: dict[str, Any] = {
        "id": "",
        "started": _iso(time.time()),
        "finished": _iso(time.time()),
        "duration_s": 0.0,
        "options": {},
        "command": command,
    }
    if state is not None:
        caps = state.capabilities
        env = {
            "target": state.options.target,
            "kubernetes": caps.kubernetes_version,
            "cni": caps.cni,
            "gatekeeper": caps.gatekeeper_version,
            "constraint": (
                {"name": caps.constraint_name, "enforcementAction": caps.enforcement_action}
                if caps.constraint_name
                else None
            ),
            "nodes": [
                {
                    "name": n.name,
                    "ready": n.ready,
                    "control_plane": n.control_plane,
                    "internal_ip": n.internal_ip,
                }
                for n in caps.nodes
            ],
            "offline": state.offline,
            "images": {"probe": state.options.probe_image or _probe_image()},
            "suite": {"name": NAME, "version": __version__},
        }
        now = time.time()
        run = {
            "id": state.options.run_id,
            "started": _iso(state.started),
            "finished": _iso(now),
            "duration_s": round(now - state.started, 1),
            "options": state.options.to_json(),
            "command": command,
        }
    results: dict[str, Any] = {
        "tool": {"name": NAME, "version": __version__},
        "run": run,
        "environment": env,
        "verdict": "",  # computed by report.bundle.finalize
        "summary": summary,
        "controls": [],
        "tests": tests,
        "scenarios": scenarios,
        "admission": admission,
        "audit_violations": violations,
        "not_tested": not_tested,
        "timings": state.timings if state else [],
    }
    return results


def _probe_image() -> str:
    from npconform.lock import load

    return load().image("agnhost")
