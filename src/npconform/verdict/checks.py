"""The suite's checks, by stable id.

A test says which check it is evidence for with ``@pytest.mark.check("<id>")``; several
tests (or parametrized instances) may share one check. A check passed only when every one
of its tests in the suite ran and passed: a check some of whose tests were deselected,
skipped, or not run is not proven. Ids never change meaning; a check that changes what
it shows gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    shows: str  # one sentence: what the check shows when it passes


CHECKS: tuple[Check, ...] = (
    # -- admission: the require-networkpolicy safeguard -----------------------------------
    Check(
        "ADM-WEBHOOK",
        "Webhook registered and current",
        "Gatekeeper's validating webhook is registered and every webhook pod enforces the "
        "constraint's current generation.",
    ),
    Check(
        "ADM-ACTION",
        "Enforcement action as expected",
        "The constraint's enforcementAction is the one the run expects.",
    ),
    Check(
        "ADM-REFUSE-POD",
        "Pod without policy refused",
        "A Pod that no NetworkPolicy selects is refused in the constraint's mode (denied, "
        "warned about, or listed by the audit).",
    ),
    Check(
        "ADM-ADMIT-POD",
        "Pod with policy admitted",
        "A Pod that a NetworkPolicy selects is admitted without warning.",
    ),
    Check(
        "ADM-SELECTORS",
        "podSelector semantics",
        "Every label-selector operator (matchLabels, In, NotIn, Exists, DoesNotExist, "
        "mixed, empty) decides admission as the Kubernetes API defines it; policies of "
        "other namespaces do not count.",
    ),
    Check(
        "ADM-CONTROLLERS",
        "Workload controllers",
        "Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs "
        "and CronJobs whose pods no policy selects are refused; selected ones run pods.",
    ),
    Check(
        "ADM-LIFECYCLE",
        "Policy and label changes",
        "A pod right after its policy is admitted; after the last policy is deleted new "
        "pods are refused; a label update escaping every policy is refused; deleting pods "
        "is never blocked.",
    ),
    Check(
        "ADM-SCOPE",
        "Scope and exemptions",
        "Platform namespaces (kube-system, the platform label) admit pods without policy; "
        "kinds the constraint does not match are not refused.",
    ),
    Check(
        "ADM-AUDIT",
        "Audit lists violations",
        "A workload that existed before the constraint is listed in the constraint's "
        "status.violations by Gatekeeper's audit.",
    ),
    Check(
        "ADM-COVERAGE",
        "Every namespace covered or platform",
        "Every namespace of the cluster is covered by the constraint (a dry-run Pod no "
        "NetworkPolicy there selects gets the constraint's answer) or is a platform "
        "namespace by the declared rule; none is unprotected.",
    ),
    Check(
        "ADM-MODES",
        "deny, warn and dryrun",
        "Switched through deny, warn and dryrun, the constraint behaves as documented in "
        "each mode, and is restored afterwards.",
    ),
    # -- traffic: the CNI enforces NetworkPolicy semantics ---------------------------------
    Check(
        "NET-SEMANTICS",
        "NetworkPolicy semantics (netpol e2e categories)",
        "Every category of Kubernetes' netpol e2e (default deny, pod/namespace selectors, "
        "ports, named ports, protocols, egress, stacking) is enforced on live traffic.",
    ),
    Check(
        "NET-IPBLOCK",
        "ipBlock with real addresses",
        "ipBlock rules with the run's pod addresses and hosts outside the cluster, with "
        "except, are enforced on live traffic.",
    ),
    Check(
        "NET-DYNAMICS",
        "Policy and label changes on live traffic",
        "Policy updates and deletes, pod and namespace relabelling and a pod recreated with "
        "a new address are enforced by labels, not addresses.",
    ),
    Check(
        "NET-GENERATED",
        "Generated policy sets",
        "Seeded random NetworkPolicy sets are enforced exactly as the engine computes.",
    ),
    Check(
        "NET-DNS",
        "DNS only where allowed",
        "DNS answers pods whose policies allow it and is unreachable from pods whose "
        "policies do not.",
    ),
    Check(
        "NET-SCTP",
        "SCTP",
        "SCTP rules are enforced (where the nodes' kernel carries SCTP).",
    ),
    # -- traffic: segregation in the platform's own terms ----------------------------------
    Check(
        "SEG-TENANTS",
        "Tenants segregated",
        "Two tenants' apps under platform-style policies never reach each other, nor a "
        "host outside them, while every flow the apps need works.",
    ),
    Check(
        "SEG-COMPONENTS",
        "Components segregated",
        "An app's frontend, backend, backoffice, database and queue reach each other only "
        "on their required flows and ports.",
    ),
    # -- smoke and deployed-cluster tools (tests/e2e) ---------------------------------------
    Check("SMOKE-NODES", "Nodes ready", "Every node of the cluster is Ready."),
    Check(
        "SMOKE-PLATFORM",
        "CNI and Gatekeeper ready",
        "The CNI's and Gatekeeper's pods are Ready.",
    ),
    Check(
        "SMOKE-TRAFFIC",
        "Traffic, default deny, restore",
        "Pods reach each other; a default deny blocks them; deleting it restores traffic.",
    ),
    Check(
        "COVERAGE-TOOL",
        "Coverage of namespaces, on real objects",
        "`npconform coverage` names each mechanism that exempts a namespace, fails on one "
        "the webhook never sees, and reads the Welkin profile with no option.",
    ),
    Check(
        "TENANTS-TOOL",
        "Tenant model, on real namespaces",
        "`npconform tenants` places each namespace of a cluster in the platform or a tenant "
        "as the tenants file declares (platform rule, explicit lists, HNC root, label).",
    ),
    Check(
        "DEPLOYED-VERIFY",
        "Deployed-cluster verification",
        "`npconform deployed` computes a multi-tenant workload's isolation (the open policy "
        "and the cross-tenant hole, nothing else), `--plan` creates nothing, and `--verify` "
        "agrees with it cell by cell on live traffic from twin pods and leaves nothing "
        "behind, also on Ctrl-C.",
    ),
    Check(
        "INCLUSTER-RUN",
        "Scheduled run inside the cluster",
        "`npconform install-cronjob` installs the suite image as a CronJob; a run it starts "
        "writes its verdict ConfigMap and bundle (fetched intact by `npconform fetch-report`), "
        "a second run beside an active one is refused, and an injected fault makes the Job "
        "fail with the failing control named in the verdict ConfigMap.",
    ),
    Check(
        "SEG-DEPLOYED",
        "Tenant isolation of the deployed workloads",
        "Computed from every pod and NetworkPolicy of the cluster (the run's own namespaces "
        "excepted): no tenant reaches another tenant's or the platform's pods beyond the "
        "flows the tenants file declares; admitted-but-open policies and unselected pods are "
        "listed. Widens the A.8.22 claim when it runs.",
    ),
)

BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}
