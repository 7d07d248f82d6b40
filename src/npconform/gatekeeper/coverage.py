"""Admission coverage on a cluster: read what decides it (bounded, paged reads), compute
each namespace's row (:mod:`npconform.model.coverage`), and prove it live with a
server-side dry run of a Pod no NetworkPolicy of the namespace selects.

A dry run (``dryRun=All``) goes through every admission step, Gatekeeper's webhook
included (it declares no side effects), and persists nothing: an interrupted or failed
coverage run leaves nothing behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.cluster import kube
from npconform.cluster.client import Clients, to_dict
from npconform.cluster.workload import MANAGED_LABEL, NO_POLICY_MESSAGE
from npconform.gatekeeper import admission as adm
from npconform.gatekeeper import install as gkinstall
from npconform.gatekeeper import names as gk
from npconform.model.coverage import (
    Coverage,
    PlatformRule,
    Row,
    Snapshot,
    changed_inputs,
    compute,
)

PAGE = 500
Progress = Callable[[str, int], None]


class CoverageUndetermined(AssertionError):
    """Coverage could not be determined for some namespaces (a read or a dry run the
    verifier may not make, or an answer that is none of the safeguard's): no verdict."""


def pages(
    fetch: Callable[..., Any], what: str, progress: Progress | None
) -> Iterator[dict[str, Any]]:
    """Every item of a list call, ``PAGE`` at a time; a continue token that expired (410)
    restarts the list once."""
    for attempt in (1, 2):
        token, seen, out = None, 0, []
        try:
            while True:
                kw: dict[str, Any] = {"limit": PAGE}
                if token:
                    kw["_continue"] = token
                page = fetch(**kw)
                doc = page if isinstance(page, dict) else to_dict(page)
                items = kube.dig(doc, "items", default=[])
                out += items
                seen += len(items)
                token = kube.dig(doc, "metadata", "continue")
                if progress and (token or seen > PAGE):
                    progress(what, seen)
                if not token:
                    break
        except ApiException as e:
            if e.status == 410 and attempt == 1:
                continue
            raise
        yield from out
        return


def _forbidden(e: ApiException) -> bool:
    return e.status in (401, 403)


def _exempt_flags(args: list[str]) -> dict[str, list[str]]:
    flags: dict[str, list[str]] = {"namespace": [], "prefix": [], "suffix": []}
    names = {
        "--exempt-namespace": "namespace",
        "--exempt-namespace-prefix": "prefix",
        "--exempt-namespace-suffix": "suffix",
    }
    for i, a in enumerate(args):
        key, eq, value = a.partition("=")
        if key in names:
            if not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
            if value:
                flags[names[key]].append(value)
    return flags


def read_snapshot(clients: Clients, progress: Progress | None = None) -> Snapshot:
    """What coverage is computed from. A read the verifier may not make is recorded in
    ``missing``; a missing object (404) is recorded as absent."""
    snap = Snapshot()
    core, net, custom = clients.core(), clients.net(), clients.custom()

    def attempt(key: str, read: Callable[[], None]) -> None:
        try:
            read()
        except ApiException as e:
            if _forbidden(e):
                snap.missing.append(key)
            elif e.status != 404:
                raise

    def namespaces() -> None:
        for n in pages(core.list_namespace, "namespaces", progress):
            meta = n.get("metadata") or {}
            snap.namespaces.append(
                {
                    "name": meta["name"],
                    "labels": dict(meta.get("labels") or {}),
                    "terminating": bool(meta.get("deletionTimestamp"))
                    or kube.dig(n, "status", "phase") == "Terminating",
                }
            )

    def webhook() -> None:
        found = gkinstall.validation_webhook(clients)
        snap.webhook = found[1] if found else None

    def config() -> None:
        snap.config = custom.get_namespaced_custom_object(
            gk.CONFIG_GROUP, gk.CONFIG_VERSION, gk.NAMESPACE, gk.CONFIG_PLURAL, gk.CONFIG_NAME
        )

    def constraints() -> None:
        snap.constraints = list(
            pages(
                lambda **kw: custom.list_cluster_custom_object(
                    gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, **kw
                ),
                "constraints",
                progress,
            )
        )

    def flags() -> None:
        dep = clients.apps().read_namespaced_deployment(gk.CONTROLLER, gk.NAMESPACE)
        args = [a for c in dep.spec.template.spec.containers for a in c.args or []]
        snap.exempt_flags = _exempt_flags(args)

    def policies() -> None:
        for p in pages(net.list_network_policy_for_all_namespaces, "NetworkPolicies", progress):
            meta = p.get("metadata") or {}
            snap.policies.setdefault(meta["namespace"], []).append(
                {"name": meta["name"], "podSelector": kube.dig(p, "spec", "podSelector") or {}}
            )

    def pods() -> None:
        for p in pages(core.list_pod_for_all_namespaces, "pods", progress):
            meta = p.get("metadata") or {}
            if kube.dig(p, "status", "phase") in ("Succeeded", "Failed"):
                continue
            snap.pods.setdefault(meta["namespace"], []).append(
                {"name": meta["name"], "labels": dict(meta.get("labels") or {})}
            )

    for key, read in (
        ("namespaces", namespaces),
        ("webhook", webhook),
        ("config", config),
        ("constraints", constraints),
        ("exempt_flags", flags),
        ("policies", policies),
        ("pods", pods),
    ):
        attempt(key, read)
    return snap


def probe_body(row: Row, image: str, run_id: str) -> dict[str, Any]:
    assert row.probe_labels is not None
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{NAME}-coverage-{run_id}",
            "namespace": row.namespace,
            "labels": dict(row.probe_labels),
        },
        "spec": adm.pod_template({}, image)["spec"],
    }


def preferred_labels(run_id: str) -> dict[str, str]:
    """The labels the probe Pod carries where no policy's selector gets in the way."""
    return {MANAGED_LABEL: NAME, f"{NAME}.io/coverage": run_id}


def _answer(row: Row, result: adm.Admission, constraints: list[str]) -> None:
    if not result.admitted:
        if any(result.names_constraint(n) for n in constraints):
            row.live = "denied"
        else:
            row.live = "refused by another admission step"
        row.live_message = result.message[:300]
    elif any(NO_POLICY_MESSAGE in w for w in result.warnings):
        row.live = "warned"
        row.live_message = "; ".join(result.warnings)[:300]
    else:
        row.live = "admitted"


def probe_one(clients: Clients, row: Row, image: str, run_id: str, constraints: list[str]) -> None:
    """Dry-run the row's probe Pod and record the API server's answer in the row."""
    try:
        _answer(row, adm.create(clients, probe_body(row, image, run_id), dry_run=True), constraints)
    except ApiException as e:
        body = str(e.body or e.reason)
        if e.status == 404 or "being terminated" in body:
            row.live, row.expected = "namespace deleted meanwhile", ""
        elif e.status == 403 and "cannot create resource" in body:
            row.live = "not determined: missing permission create pods (dry run)"
        elif e.status in (400, 403, 422):
            row.live = "refused by another admission step"
        else:
            row.live = f"error: HTTP {e.status} {e.reason}"
        row.live_message = adm.denial_message(e)[:300]


def probe_live(
    clients: Clients,
    cov: Coverage,
    constraints: list[str],
    image: str,
    run_id: str,
    budget: float = 120.0,
    workers: int = 4,
) -> None:
    """Dry-run every planned probe Pod, a few at a time, within ``budget`` seconds; a row
    left when the time is spent says so (and is not determined)."""
    rows = [r for r in cov.rows if r.probe_labels is not None]
    deadline = time.monotonic() + budget

    def one(row: Row) -> None:
        if time.monotonic() > deadline:
            row.live = f"not probed: the {budget:.0f} s budget for dry runs was spent"
            return
        probe_one(clients, row, image, run_id, constraints)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, rows))
    cov.live = True


#: How often a disagreeing namespace is re-examined when what decides it keeps changing.
SETTLE_ROUNDS = 3


def settle(
    cov: Coverage,
    snap: Snapshot,
    read: Callable[[], Snapshot],
    recompute: Callable[[Snapshot], Coverage],
    probe: Callable[[Coverage, Snapshot], None],
    rounds: int = SETTLE_ROUNDS,
) -> None:
    """Re-examine the rows whose dry run disagrees with what was computed, when what
    decides them changed after the snapshot they were computed from (a NetworkPolicy, the
    namespace's labels, the constraint, the webhook or the Config, created or changed by
    someone else while the survey ran). Such a row is computed again from a new snapshot
    and dry-run again; a disagreement whose inputs did not change stands. A row whose
    inputs changed at each of ``rounds`` re-examinations is left not determined."""
    at = {r.namespace: i for i, r in enumerate(cov.rows)}  # rows are replaced in place
    pending, since = {r.namespace for r in cov.disagreeing}, snap
    for attempt in range(rounds + 1):
        if not pending:
            return
        try:
            fresh = read()
        except ApiException:
            return  # not read again: the disagreements stand
        changed = {ns: what for ns in pending if (what := changed_inputs(since, fresh, ns))}
        if not changed:
            return
        if attempt == rounds:
            for ns, what in changed.items():
                cov.rows[at[ns]].live = (
                    f"not determined: its {', '.join(what)} changed during each of "
                    f"{rounds} re-examination(s)"
                )
            return
        redo = recompute(fresh)
        redo.rows = [r for r in redo.rows if r.namespace in changed]
        probe(redo, fresh)
        listed = "namespaces" not in fresh.missing
        names = {str(n.get("name")) for n in fresh.namespaces}
        for ns in changed.keys() - {r.namespace for r in redo.rows}:
            row = cov.rows[at[ns]]
            if listed and ns not in names:
                row.live, row.expected = "namespace deleted meanwhile", ""
            else:  # the namespaces could not be listed again: the row keeps its expectation
                row.live = "not determined: the namespaces could not be read again"
        for row in redo.rows:
            row.notes.append(
                f"re-examined: its {', '.join(changed[row.namespace])} changed after the "
                "snapshot it was first computed from"
            )
            cov.rows[at[row.namespace]] = row
        pending = {r.namespace for r in redo.rows if r.agrees is False}
        since = fresh


def constraint_names(snap: Snapshot) -> list[str]:
    return [str(kube.dig(c, "metadata", "name")) for c in snap.constraints or []]


def survey(
    clients: Clients,
    image: str,
    run_id: str,
    rule: PlatformRule | None = None,
    skip: Mapping[str, str] | None = None,
    live: bool = True,
    progress: Progress | None = None,
    budget: float = 120.0,
) -> tuple[Snapshot, Coverage]:
    """Read, compute and (``live``) prove every namespace's coverage."""

    def recompute(s: Snapshot) -> Coverage:
        return compute(s, rule, skip=skip, prefer=preferred_labels(run_id))

    def probe(c: Coverage, s: Snapshot) -> None:
        probe_live(clients, c, constraint_names(s), image, run_id, budget=budget)

    snap = read_snapshot(clients, progress)
    cov = recompute(snap)
    if live:
        probe(cov, snap)
        settle(cov, snap, lambda: read_snapshot(clients), recompute, probe)
    return snap, cov
