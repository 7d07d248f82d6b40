"""Fixtures of the admission suite: the constraint under test, the proof that Gatekeeper is
really enforcing it, and a fresh namespace per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.cluster.workload import delete_namespaces, ensure_namespace
from npconform.gatekeeper import admission as adm
from npconform.gatekeeper import install as gkinstall
from npconform.gatekeeper import names as gk
from npconform.platform import capabilities
from npconform.platform.target import RunState

_counter = itertools.count()


@dataclass
class Constraint:
    name: str
    action: str
    kinds: set[str]
    audit_timeout: float

    def matches(self, kind: str) -> bool:
        return kind in self.kinds


@pytest.fixture(scope="session")
def constraint(run_state: RunState, clients: Clients) -> Constraint:
    """The require-networkpolicy constraint, found by its kind under either name. Read
    under the shared constraint lock: this session fixture is set up before the test's
    own lock is taken, and a worker must never take for its whole session the mode that
    another worker's mode test has switched to for a moment."""
    with run_state.constraint_lock(False):
        c = capabilities.find_constraint(clients)
    if c is None:
        pytest.fail(
            "the require-networkpolicy safeguard is absent: no K8sRequireNetworkPolicy constraint "
            f"(looked for {', '.join(gk.CONSTRAINT_NAMES)})",
            pytrace=False,
        )
    kinds = {
        k for group in c["spec"].get("match", {}).get("kinds", []) for k in group.get("kinds", [])
    }
    if not kinds or "*" in kinds:
        kinds = set(adm.API_VERSIONS)
    interval = run_state.capabilities.audit_interval
    return Constraint(
        c["metadata"]["name"], c["spec"].get("enforcementAction", "deny"), kinds, 3 * interval + 30
    )


@pytest.fixture(scope="session")
def enforcing(run_state: RunState, clients: Clients, constraint: Constraint) -> Constraint:
    """Before any admission verdict is trusted: the webhook is registered and every
    Gatekeeper webhook pod runs the constraint's current generation (checked under the
    shared constraint lock, like ``constraint``)."""
    with run_state.constraint_lock(False):
        _check_enforcing(clients, constraint)
    return constraint


def _check_enforcing(clients: Clients, constraint: Constraint) -> None:
    registered, failure_policy = capabilities.webhook(clients)
    if not registered:
        pytest.fail(
            "Gatekeeper's validating webhook is not registered "
            f"({gk.WEBHOOK_CONFIG} / {gk.WEBHOOK} missing): nothing enforces "
            "the constraint, admission results cannot be trusted",
            pytrace=False,
        )
    pods = gkinstall.webhook_pods(clients)
    ready = kube.pods_ready(clients, gk.NAMESPACE, "control-plane=controller-manager")
    if not pods or not ready:
        pytest.fail(
            f"Gatekeeper's webhook pods are not running (failurePolicy {failure_policy}): "
            + (
                "with failurePolicy Ignore every request is silently admitted"
                if failure_policy == "Ignore"
                else "requests fail or are not checked"
            )
            + "\n"
            + kube.diagnose_pods(clients, gk.NAMESPACE, "control-plane=controller-manager"),
            pytrace=False,
        )
    try:
        kube.wait_until(
            f"every Gatekeeper webhook pod to enforce the current generation of {constraint.name}",
            lambda: gkinstall.constraint_enforced(clients, constraint.name),
            timeout=60,
        )
    except kube.WaitTimeout as e:
        pytest.fail(
            f"constraint {constraint.name} is not enforced by every webhook pod: {e}", pytrace=False
        )


@pytest.fixture(scope="session")
def action(run_state: RunState, enforcing: Constraint) -> str:
    """The enforcement action in force; a cluster in another mode than expected fails."""
    want = run_state.options.expect_enforcement
    if want != "any" and enforcing.action != want:
        pytest.fail(
            f"constraint {enforcing.name} has enforcementAction '{enforcing.action}', "
            f"but '{want}' is expected (--expect-enforcement)",
            pytrace=False,
        )
    return enforcing.action


@pytest.fixture(autouse=True)
def constraint_lock(run_state: RunState, request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that switch the cluster's constraint hold this lock exclusively; every other
    admission test holds it shared, so no verdict is taken while the mode is switched."""
    exclusive = request.node.get_closest_marker("mutates_constraint") is not None
    with run_state.constraint_lock(exclusive):
        yield


@pytest.fixture
def namespace(run_state: RunState, clients: Clients, worker_id_short: str) -> Iterator[str]:
    """A fresh namespace that the constraint matches (no exemption label)."""
    name = f"{run_state.options.namespace_prefix}-{worker_id_short}-adm-{next(_counter)}"
    ensure_namespace(clients, name, {}, run_state.options.run_id)
    yield name
    delete_namespaces(clients, f"kubernetes.io/metadata.name in ({name},{name}-other)")


@pytest.fixture(scope="session")
def probe_image(run_state: RunState) -> str:
    from npconform.lock import load

    return run_state.options.probe_image or load().image("agnhost")


class Verify:
    """Mode-aware expectations: 'refused' means denied (deny), admitted with the warning
    (warn), or admitted and then listed by the audit (dryrun)."""

    def __init__(
        self,
        clients: Clients,
        constraint: Constraint,
        action: str,
        evidence: list[dict[str, Any]],
        synced: bool = True,
    ) -> None:
        self.clients = clients
        self.constraint = constraint
        self.action = action
        self.evidence = evidence
        self.synced = synced

    def _record(self, case: str, expected: str, result: adm.Admission, ok: bool) -> None:
        self.evidence.append(
            {
                "case": case,
                "kind": result.kind,
                "namespace": result.namespace,
                "expected": expected,
                "observed": result.observed,
                "ok": ok,
                "message": result.message or " ".join(result.warnings),
            }
        )

    def refused(self, result: adm.Admission, case: str = "") -> None:
        c = self.constraint
        if self.action == "deny":
            ok = result.observed == "denied" and result.names_constraint(c.name)
            self._record(case, "denied", result, ok)
            assert ok, (
                f"{case}: expected the webhook to deny it naming [{c.name}] and "
                f"'No matching networkpolicy found'; {result.describe()}"
            )
        elif self.action == "warn":
            ok = result.observed == "warned" and result.names_constraint(c.name)
            self._record(case, "warned", result, ok)
            assert ok, (
                f"{case}: expected admission with the constraint's warning; {result.describe()}"
            )
        else:
            assert result.admitted, f"{case}: dryrun must not deny; {result.describe()}"
            listed = adm.wait_audited(
                self.clients, c.name, result.namespace, result.name, result.kind, c.audit_timeout
            )
            self._record(case, "audited", result, listed)
            assert listed, (
                f"{case}: {result.kind} {result.namespace}/{result.name} was admitted (dryrun) "
                f"but the audit did not list it in {c.name}'s status.violations "
                f"within {c.audit_timeout:.0f}s"
            )

    def admitted(self, result: adm.Admission, case: str = "") -> None:
        ok = result.observed == "admitted"
        self._record(case, "admitted", result, ok)
        hint = ""
        if not ok and not self.synced:
            hint = (
                "; Gatekeeper does not sync NetworkPolicies into its inventory (no Config or "
                "SyncSet for networking.k8s.io/v1 NetworkPolicy): the constraint sees no policy"
            )
        assert ok, f"{case}: expected admission without warning; {result.describe()}{hint}"

    def witnessed(
        self, result: adm.Admission | None, case: str = "", failure: str = "", policy: str = ""
    ) -> None:
        """The witness of a "must be refused" case (``adm.prove_synced``): its dry run
        settled as admitted, so the case's ``policy`` is in every webhook pod's inventory.
        ``failure``: why it did not settle (the row then records a mismatch and this fails
        the test); ``result`` is the last dry-run answer (None: none came)."""
        ok = not failure and result is not None and result.observed == "admitted"
        what = f"policy {policy}" if policy else "policy"
        self.evidence.append(
            {
                "case": f"{case} (witness: {what} synced)",
                "kind": result.kind if result is not None else "Pod",
                "expected": "admitted",
                "observed": result.observed if result is not None else "no answer",
                "ok": ok,
                "message": failure or (f"dry run of {result.id}" if result is not None else ""),
            }
        )
        if ok:
            return
        hint = ""
        if not self.synced:
            hint = (
                "; Gatekeeper does not sync NetworkPolicies into its inventory (no Config or "
                "SyncSet for networking.k8s.io/v1 NetworkPolicy): no policy ever reaches it"
            )
        detail = failure or (result.describe() if result is not None else "no answer")
        raise AssertionError(f"{case}: witness of {what} not admitted: {detail}{hint}")


@pytest.fixture
def verify(
    clients: Clients, run_state: RunState, enforcing: Constraint, action: str, record_evidence: Any
) -> Verify:
    rows: list[dict[str, Any]] = []
    v = Verify(clients, enforcing, action, rows, run_state.capabilities.sync_networkpolicies)
    record_evidence("admission", rows)
    return v
