"""SCTP: NetworkPolicies may name it, but a kernel without SCTP cannot carry it. Such a
cluster is reported as not testable for SCTP, with the reason; it never passes.

The kernel is asked from a pod of the e2e model (``e2e_model``): every pod of a node
shares its kernel, so in a whole run the check starts no pod of its own. Run alone (``-k
sctp``), it builds the e2e model for it, and a failure to build it is an error of the
check (INCOMPLETE), not "not testable"."""

from __future__ import annotations

import pytest

from npconform.scenario.world import World

from .e2e_model import group_name

pytestmark = [
    pytest.mark.traffic,
    pytest.mark.cluster,
    pytest.mark.check("NET-SCTP"),
    pytest.mark.xdist_group(group_name(0)),
]


def test_sctp(fresh: World, record_evidence) -> None:
    src = fresh.source("x/a")
    out = fresh.engine.exec(src, "grep -c '^SCTP ' /proc/net/protocols || true")
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
