"""SCTP: NetworkPolicies may name it, but a kernel without SCTP cannot carry it. Such a
cluster is reported as not testable for SCTP, with the reason; it never passes."""

from __future__ import annotations

import pytest

from npconform.scenario.world import PodDef

pytestmark = [pytest.mark.traffic, pytest.mark.cluster, pytest.mark.check("NET-SCTP")]


def test_sctp(make_world, record_evidence) -> None:
    w = make_world("sctp")
    w.namespace("s")
    w.add_pods([PodDef("s", "probe", {"app": "probe"})])
    src = w.source("s/probe")
    out = w.engine.exec(src, "grep -c '^SCTP ' /proc/net/protocols || true")
    if out.split()[0] == "0":
        reason = "the nodes' kernel has no SCTP support (no SCTP in /proc/net/protocols)"
    else:
        reason = "SCTP is available but the suite has no SCTP probe yet"
    record_evidence(
        "not_tested",
        {
            "what": "SCTP NetworkPolicy rules",
            "reason": reason,
            "required": False,
            "area": "traffic",
        },
    )
    pytest.skip(f"SCTP not testable: {reason}")
