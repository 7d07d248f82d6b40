"""The ISO/IEC 27001:2022 Annex A controls the suite provides evidence for, and the checks
each one requires.

The 2013 numbers (A.13.1.1-3; certificates against 2013 lapsed on 2025-10-31) are kept as
a cross-reference. A control is PASS only when every one of its required checks ran and
passed; its claim then says what was shown and on which objects. Two further controls are
about how the test itself is run (A.8.34, A.5.36): the bundle records that conduct (who ran
it, what it changed, that it cleaned up) but they carry no verdict of the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Control:
    id: str  # ISO/IEC 27001:2022 Annex A
    iso2013: tuple[str, ...]
    title: str
    required: tuple[str, ...]  # check ids
    claim: str  # what a PASS shows; {placeholders} filled from the run (see rules.claim)
    scope: str  # what it does not show
    # A check that widens the claim when it ran: failed -> FAIL, error -> INCOMPLETE,
    # passed -> the claim gains ``widened_claim`` and the scope becomes ``widened_scope``;
    # not run (or skipped) -> claim and scope unchanged.
    widened_by: str = ""
    widened_claim: str = ""
    widened_scope: str = ""


CONTROLS: tuple[Control, ...] = (
    Control(
        "A.8.20",
        ("A.13.1.1",),
        "Networks security",
        ("NET-SEMANTICS", "NET-IPBLOCK", "NET-DYNAMICS", "NET-GENERATED", "NET-DNS"),
        "The CNI ({cni}) enforces Kubernetes NetworkPolicy semantics on live traffic: "
        "{cells} probed cells in {steps} steps, each blocked one paired with an allowed one "
        "to the same pod and port, matched what the policies allow, in the suite's own "
        "namespaces {namespaces}.",
        "Shown for the suite's own pods and policies; the cluster's own workloads and "
        "policies were not examined.",
    ),
    Control(
        "A.8.21",
        ("A.13.1.2",),
        "Security of network services",
        (
            "ADM-WEBHOOK",
            "ADM-ACTION",
            "ADM-REFUSE-POD",
            "ADM-ADMIT-POD",
            "ADM-SELECTORS",
            "ADM-CONTROLLERS",
            "ADM-LIFECYCLE",
            "ADM-SCOPE",
            "ADM-AUDIT",
            "ADM-MODES",
            "ADM-COVERAGE",
        ),
        "The admission safeguard is in service as configured: Gatekeeper {gatekeeper}'s "
        "webhook is registered and current on every replica, and constraint {constraint} "
        "({action}) {refused} every matched workload kind that no NetworkPolicy selected and "
        "admitted those one did ({cases} admission cases, in the suite's own namespaces "
        "{namespaces}), exempted platform namespaces{platform_cases}, listed violations in its "
        "audit, and "
        "behaved as documented in deny, warn and dryrun. Of the cluster's other "
        "namespaces, {coverage}.",
        "Admission cases were shown on namespaces the suite created; the cluster's own "
        "namespaces were examined for coverage by one dry-run Pod each (the run's own "
        "namespaces excepted), not by workloads of their own; who can switch the safeguard "
        "off was read from RBAC and each grant put to the API server, for six powers "
        "(patching namespaces; changing or deleting the constraints, their template, "
        "Gatekeeper's Config, SyncSets or the webhook configuration), not for escalation "
        "through other rights (bind, escalate, impersonate, creating pods in platform "
        "namespaces).",
    ),
    Control(
        "A.8.22",
        ("A.13.1.3",),
        "Segregation of networks",
        ("SEG-TENANTS", "SEG-COMPONENTS"),
        "Tenants and application components under platform-style policies are segregated "
        "on live traffic: {cells} probed cells, in namespaces {namespaces}, allowed exactly "
        "the declared flows and nothing else.",
        "Shown for the suite's tenant and component scenarios; the cluster's own tenants "
        "were not examined.",
        widened_by="SEG-DEPLOYED",
        widened_claim=" The workloads deployed on the cluster, computed from their pods and "
        "NetworkPolicies (not probed), are segregated too: {isolation}.",
        widened_scope="Shown for the suite's tenant and component scenarios on live traffic; "
        "the cluster's own tenants were computed from their pods and NetworkPolicies as the "
        "tenants model declares, on the ports their pods declare and those the ingress rules "
        "selecting them name (another port a rule with no ports opens is not examined), not "
        "probed live by the suite (`npconform deployed --verify` does that), with Kubernetes "
        "NetworkPolicy semantics only (policies of the CNI's own API are not read).",
    ),
)

#: How the test itself is run: recorded, never a verdict about the cluster.
CONDUCT_CONTROLS: tuple[tuple[str, str], ...] = (
    ("A.8.34", "Protection of information systems during audit testing"),
    ("A.5.36", "Compliance with policies, rules and standards for information security"),
)

BY_ID: dict[str, Control] = {c.id: c for c in CONTROLS}
