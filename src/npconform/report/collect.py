"""Assemble a run's results document from test outcomes, recorded evidence and the run
state.

Workers append evidence (traffic steps, admission rows, audit violations, things not
tested) and what they collected as JSON lines under the run's work directory; the
controller reads them all at the end. Nothing here talks to the cluster: the run state
arrives as the plain data the session wrote (``RunState.to_json``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from npconform import NAME, __version__

SCHEMA = "https://npconform.io/schemas/results/v2.json"
AREAS = ("admission", "traffic", "smoke")


def base_nodeid(nodeid: str) -> str:
    """A node id without the ``@<group>`` suffix xdist's loadgroup adds."""
    base, sep, group = nodeid.rpartition("@")
    if sep and base and "::" not in group and "]" not in group and "/" not in group:
        return base
    return nodeid


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # passed | failed | skipped | error
    duration_s: float
    area: str
    check: str = ""
    message: str = ""
    test_error: str = ""  # why the test could not measure (never a verdict)


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
        properties: Iterable[tuple[str, object]] = (),
    ) -> None:
        props = dict(properties)
        nodeid = base_nodeid(nodeid)
        area = next((a for a in AREAS if a in keywords), "other")
        cur = self.outcomes.get(nodeid)
        if cur is None:
            cur = self.outcomes[nodeid] = TestOutcome(
                nodeid, "passed", 0.0, area, str(props.get("check") or "")
            )
        cur.duration_s = round(cur.duration_s + duration, 3)
        if outcome == "failed" and cur.outcome not in ("failed", "error"):
            # the first phase that failed decides: a later phase's error (a teardown that
            # could not measure) never turns a failure into "could not measure"
            cur.outcome = "failed" if when == "call" else "error"
            cur.message = message
            if props.get("test_error"):
                cur.test_error = str(props["test_error"])
            if props.get("test_error_message"):  # the reason first, then the traceback
                cur.message = f"E   {props['test_error_message']}\n{cur.message}"
        elif outcome == "skipped" and cur.outcome == "passed":
            cur.outcome = "skipped"
            cur.message = message

    def to_json(self) -> list[dict[str, Any]]:
        out = []
        for o in self.outcomes.values():
            d = asdict(o)
            if not d["test_error"]:
                del d["test_error"]
            out.append(d)
        return out


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


def write_collection(directory: Path, worker: str, record: Mapping[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"collection-{worker}.json").write_text(json.dumps(record))


def read_collection(directory: Path) -> dict[str, Any]:
    """The union of what every process collected (under xdist each worker collects the
    whole selection)."""
    collected: dict[str, dict[str, Any]] = {}
    deselected: set[str] = set()
    narrowed: set[str] = set()
    args: list[str] = []
    for p in sorted(directory.glob("collection-*.json")) if directory.exists() else []:
        d = json.loads(p.read_text())
        for item in d.get("collected", []):
            nodeid = base_nodeid(item["nodeid"])
            collected[nodeid] = {**item, "nodeid": nodeid}
        deselected |= {base_nodeid(n) for n in d.get("deselected", [])}
        narrowed |= set(d.get("narrowed", []))
        args = args or list(d.get("args", []))
    return {
        "args": args,
        "collected": list(collected.values()),
        "deselected": sorted(deselected),
        "narrowed": sorted(narrowed),
    }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tool_commit() -> dict[str, Any]:
    """The commit of the source tree the tool runs from, and whether it has local changes
    (``None`` when it is not a git checkout)."""
    src = Path(__file__).resolve().parents[3]

    def git(*args: str) -> str | None:
        try:
            p = subprocess.run(
                ["git", "-C", str(src), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return p.stdout.strip() if p.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def build(
    state: Mapping[str, Any] | None,
    collector: Collector,
    command: str,
    *,
    exit_status: int | None = None,
    interrupted: bool = False,
    cleanup: Mapping[str, Any] | None = None,
    artifacts_end: list[dict[str, Any]] | None = None,
    probe_image: str = "",
) -> dict[str, Any]:
    workdir = Path(str(state["workdir"])) if state else None
    evidence = read_evidence(workdir / "evidence") if workdir else []
    selection = read_collection(workdir / "evidence") if workdir else {}
    scenarios, admission, violations, not_tested, conduct = [], [], [], [], []
    coverage: dict[str, Any] = {}
    isolation: dict[str, Any] = {}
    for e in evidence:
        t, d, test = e["type"], e["data"], base_nodeid(str(e["test"]))
        if t == "scenario":
            scenarios.append({"test": test, **d})
        elif t == "admission":
            admission += [{"test": test, **row} for row in d]
        elif t == "coverage":
            coverage = {"test": test, **d}
        elif t == "isolation":
            isolation = {"test": test, **d}
        elif t == "audit_violations":
            violations += d
        elif t == "not_tested":
            not_tested.append({"test": test, **d})
        elif t == "cluster_change":
            conduct.append({"test": test, **d})
    tests = collector.to_json()
    ran = {t["nodeid"] for t in tests}
    if selection:
        chosen = [
            i["nodeid"]
            for i in selection["collected"]
            if i["nodeid"] not in selection["deselected"]
        ]
        selection["selected"] = len(chosen)
        selection["not_run"] = [n for n in chosen if n not in ran]
    now = time.time()
    opts = dict(state.get("options") or {}) if state else {}
    caps = dict(state.get("capabilities") or {}) if state else {}
    artifacts = list(state.get("artifacts") or []) if state else []
    changed = _changed_artifacts(artifacts, artifacts_end)
    env: dict[str, Any] = {}
    if state:
        env = {
            "target": opts.get("target"),
            "kubernetes": caps.get("kubernetes_version"),
            "cni": caps.get("cni"),
            "cni_version": state.get("cni_version"),
            "gatekeeper": caps.get("gatekeeper_version"),
            "constraint": (
                {"name": caps["constraint_name"], "enforcementAction": caps["enforcement_action"]}
                if caps.get("constraint_name")
                else None
            ),
            "nodes": [
                {k: n.get(k) for k in ("name", "ready", "control_plane", "internal_ip")}
                for n in caps.get("nodes") or []
            ],
            "offline": bool(state.get("offline")),
            "images": {"probe": opts.get("probe_image") or probe_image},
            "deny_response": opts.get("deny_response", "drop"),
        }
    started = float(state["started"]) if state else now
    return {
        "$schema": SCHEMA,
        "tool": {"name": NAME, "version": __version__, **tool_commit()},
        "run": {
            "id": opts.get("run_id", ""),
            "started": iso(started),
            "finished": iso(now),
            "duration_s": round(now - started, 1),
            "options": opts,
            "command": command,
            "exit_status": exit_status,
            "interrupted": interrupted,
        },
        "identity": dict(state.get("identity") or {}) if state else {},
        "environment": env,
        "artifacts": artifacts,
        "artifacts_changed": changed,
        "selection": selection,
        "tests": tests,
        "scenarios": scenarios,
        "admission": admission,
        "audit_violations": violations,
        "coverage": coverage,
        "isolation": isolation,
        "not_tested": not_tested,
        "conduct": {"cluster_changes": conduct, "cleanup": dict(cleanup or {})},
        "timings": list(state.get("timings") or []) if state else [],
    }


def _changed_artifacts(
    start: list[dict[str, Any]], end: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Safeguard objects whose content differs between the start and the end of the run."""
    if end is None:
        return []

    def key(o: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        return (o.get("kind"), o.get("namespace"), o.get("name"))

    before = {key(o): o.get("sha256") for o in start}
    after = {key(o): o.get("sha256") for o in end}
    out = []
    for k in sorted({*before, *after}, key=str):
        if before.get(k) != after.get(k):
            out.append({"kind": k[0], "name": k[2], "start": before.get(k), "end": after.get(k)})
    return out
