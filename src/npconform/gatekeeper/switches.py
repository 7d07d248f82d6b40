"""Who can switch the safeguard off on a cluster: RBAC read in pages, every grant of a
power over it found (:mod:`npconform.model.rbac`), and each one put to the API server as
a SubjectAccessReview, so the API server, not this reading of RBAC, has the last word."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.gatekeeper.coverage import Progress, pages
from npconform.model.coverage import EXEMPT, TERMINATING, Coverage
from npconform.model.rbac import (
    BY_WHAT,
    findings,
    platform_subjects,
    review_request,
)

READS = {
    "roles": "list roles.rbac.authorization.k8s.io",
    "clusterroles": "list clusterroles.rbac.authorization.k8s.io",
    "rolebindings": "list rolebindings.rbac.authorization.k8s.io",
    "clusterrolebindings": "list clusterrolebindings.rbac.authorization.k8s.io",
}


def examine(
    clients: Clients,
    cov: Coverage,
    declared: Sequence[str] = (),
    progress: Progress | None = None,
    confirm: bool = True,
    runner: str = "",
) -> None:
    """Fill ``cov.switches`` (and ``cov.switches_missing``); ``runner`` is the user name
    the check runs as."""
    rbac = client.RbacAuthorizationV1Api(clients.api())
    lists = {
        "roles": rbac.list_role_for_all_namespaces,
        "clusterroles": rbac.list_cluster_role,
        "rolebindings": rbac.list_role_binding_for_all_namespaces,
        "clusterrolebindings": rbac.list_cluster_role_binding,
    }
    got: dict[str, list[dict[str, Any]]] = {}
    for key, fetch in lists.items():
        try:
            got[key] = list(pages(fetch, key, progress))
        except ApiException as e:
            if e.status not in (401, 403):
                raise
            cov.switches_missing.append(READS[key])
    if cov.switches_missing:
        cov.switches = []
        return
    # A Role or RoleBinding grants only in its namespace: in one being deleted, nothing
    # can be created any more (a test run's namespaces, or the previous run's, go so).
    gone = {r.namespace for r in cov.rows if r.status == TERMINATING}
    for key in ("roles", "rolebindings"):
        got[key] = [o for o in got[key] if (o.get("metadata") or {}).get("namespace") not in gone]
    platform_ns = {r.namespace for r in cov.rows if r.status == EXEMPT}
    found = findings(
        got["roles"],
        got["clusterroles"],
        got["rolebindings"],
        got["clusterrolebindings"],
        platform_subjects(platform_ns, declared),
        runner,
    )
    if confirm:
        authz = client.AuthorizationV1Api(clients.api())
        for f in found:
            try:
                answer = authz.create_subject_access_review(review_request(f, BY_WHAT[f.can]))
                f.confirmed = bool(answer.status.allowed)
            except ApiException as e:
                if e.status not in (401, 403):
                    raise
                cov.switches_missing.append("create subjectaccessreviews.authorization.k8s.io")
                break
    if not runner and any(f.breach and f.via_verifier for f in found):
        cov.switches_missing.append(
            "create selfsubjectreviews.authentication.k8s.io (who runs the check: the "
            "verifier's own grants cannot be told apart)"
        )
    cov.switches = found
