"""One step of a traffic scenario, as evidence: what was expected (and where that
expectation came from), what every probe observed, and what was in force."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from npconform.model.matrix import Cell, reads_as, render_comparison
from npconform.model.netpol import dump_policies
from npconform.probe.converge import Outcome

#: Where an expected matrix came from.
HAND_AND_ENGINE = "hand-written+engine"  # written by hand and computed, and the two agree
ENGINE = "engine"  # computed by the engine from the policies (generated cases)
PROVENANCES = (HAND_AND_ENGINE, ENGINE)


def policy_digest(policy: Mapping[str, Any]) -> str:
    """sha256 of a policy's canonical JSON (name, namespace, spec): what the verdict
    depends on, independent of server-side fields."""
    meta = policy.get("metadata") or {}
    doc = {"name": meta.get("name"), "namespace": meta.get("namespace"), "spec": policy.get("spec")}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass
class StepResult:
    scenario: str
    step: str
    outcome: Outcome
    policies: list[dict[str, Any]]
    repro: list[str]
    provenance: str = HAND_AND_ENGINE
    twins: list[Cell] = field(default_factory=list)
    namespaces: dict[str, str] = field(default_factory=dict)  # logical -> real
    causes: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)  # as sent to the API

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        twins = set(self.twins)
        expected = o.expected.to_json()
        for row, c in zip(expected, o.expected, strict=True):
            if c in twins:
                row["twin"] = True
        observed = o.observed.to_json(o.blocking)
        for row, c in zip(observed, o.observed, strict=True):
            if o.details.get(c):
                row["detail"] = o.details[c]
        return {
            "scenario": self.scenario,
            "step": self.step,
            "ok": o.ok,
            "provenance": self.provenance,
            "blocking": sorted(o.blocking),
            "converge_s": o.converge_seconds,
            "rounds": o.rounds,
            "round_s": o.probe_seconds,
            "probe": o.probe,
            "flapping": [str(c) for c in o.flapping],
            "expected": expected,
            "observed": observed,
            "outcomes": o.observed.counts(),
            "policies": self.policies,
            # of the policies as applied (real namespaces): comparable with the cluster's
            "policy_sha256": {
                f"{p['metadata']['namespace']}/{p['metadata']['name']}": policy_digest(p)
                for p in (self.applied or self.policies)
            },
            "namespaces": self.namespaces,
            "repro": self.repro,
            "causes": self.causes,
        }

    def reads(self, cell: Cell) -> bool | None:
        """What the probe of ``cell`` showed: True (allowed), False (blocked), None."""
        got = self.outcome.observed.get(cell)
        return None if got is None else reads_as(got, self.outcome.blocking)

    def explain(self) -> str:
        o = self.outcome
        parts = [f"scenario {self.scenario!r}, step {self.step!r}"]
        parts.append(render_comparison(o.expected, o.observed, o.blocking))
        refused = [c for c in o.mismatches if o.observed.get(c) == "refused"]
        if refused:
            expected_blocked = [c for c in refused if o.expected.get(c) is False]
            parts.append(
                f"{len(refused)} cell(s) were refused (a reset or an ICMP unreachable), e.g. "
                f"{refused[0]}: {o.details.get(refused[0], '')}. "
                + (
                    "Expected allowed and refused: nothing listens there, or a CNI rejects it."
                    if len(expected_blocked) < len(refused)
                    else ""
                )
                + (
                    " Expected blocked and refused: only a timeout counts as blocked; a CNI "
                    "that rejects denied traffic (kube-router does) needs --deny-response reject."
                    if expected_blocked
                    else ""
                )
            )
        if o.flapping:
            parts.append(
                "flapping cells (changed in the confirmation pass): "
                + ", ".join(map(str, o.flapping[:10]))
            )
        parts.append(f"converged in {o.converge_seconds}s over {o.rounds} round(s)")
        if self.policies:
            parts.append("policies in force:\n" + dump_policies(self.policies))
        else:
            parts.append("policies in force: none")
        if self.repro:
            parts.append("repeat one failing probe with:\n  " + "\n  ".join(self.repro[:3]))
        if self.causes:
            parts.append("possible causes:\n  - " + "\n  - ".join(self.causes))
        return "\n\n".join(parts)
