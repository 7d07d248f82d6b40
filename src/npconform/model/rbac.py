"""Who can switch the safeguard off, read from RBAC: the subjects whose Roles and
ClusterRoles (aggregated ones included: the API server writes an aggregated role's rules
into it) let them take a namespace out of the match or change what enforces it. Pure: the
objects come in as the API returns them (camelCase); the API server's own answer (a
SubjectAccessReview) is asked elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

WRITE = ("patch", "update")
#: the ClusterRoles `npconform verifier-kubeconfig` binds the identity running the check to
VERIFIER_ROLES = ("npconform-verifier", "npconform-verifier-modes")
#: groups every (or every authenticated) caller belongs to, tenants' service accounts included
EVERYONE = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts")


@dataclass(frozen=True)
class Power:
    what: str
    verbs: tuple[str, ...]
    group: str
    resource: str
    namespaced: bool  # the resource lives in a namespace (a RoleBinding can grant it)
    namespace: str = ""  # where it lives, for a namespaced resource


POWERS: tuple[Power, ...] = (
    Power("label or annotate namespaces", WRITE, "", "namespaces", False),
    Power(
        "change or delete the require-networkpolicy constraints",
        (*WRITE, "delete"),
        "constraints.gatekeeper.sh",
        "k8srequirenetworkpolicy",
        False,
    ),
    Power(
        "change or delete the constraint template",
        (*WRITE, "delete"),
        "templates.gatekeeper.sh",
        "constrainttemplates",
        False,
    ),
    Power(
        "change Gatekeeper's Config",
        ("create", *WRITE, "delete"),
        "config.gatekeeper.sh",
        "configs",
        True,
        "gatekeeper-system",
    ),
    Power(
        "change SyncSets",
        ("create", *WRITE, "delete"),
        "syncset.gatekeeper.sh",
        "syncsets",
        False,
    ),
    Power(
        "change the validating webhook configuration",
        (*WRITE, "delete"),
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        False,
    ),
)


@dataclass
class Finding:
    subject: str  # Kind/name or ServiceAccount/namespace/name
    kind: str  # User, Group, ServiceAccount
    name: str
    namespace: str  # of a ServiceAccount
    can: str  # Power.what
    verb: str
    scope: str  # "cluster" or "namespace N"
    binding: str  # e.g. "RoleBinding team-a/edit-ns -> ClusterRole ns-labeller"
    platform: bool
    only: tuple[str, ...] = ()  # the rule's resourceNames: only these objects
    confirmed: bool | None = None  # the API server's answer to a SubjectAccessReview
    runner: bool = False  # the identity running the check, through the verifier's own role
    tenant: bool = False  # a tenant's service account, or a group that includes them
    via_verifier: bool = False  # granted through one of the verifier's ClusterRoles

    @property
    def breach(self) -> bool:
        """A tenant can switch the safeguard off (unless the API server said otherwise);
        the verifier's own grant is reported, not counted."""
        return self.tenant and not self.runner and self.confirmed is not False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "only": list(self.only), "breach": self.breach}


def _allows(rule: Mapping[str, Any], verb: str, group: str, resource: str) -> bool:
    if rule.get("nonResourceURLs"):
        return False
    verbs = set(rule.get("verbs") or [])
    groups = set(rule.get("apiGroups") or [])
    resources = set(rule.get("resources") or [])
    return (
        bool(verbs & {verb, "*"})
        and bool(groups & {group, "*"})
        and bool(resources & {resource, "*"})
    )


def subject_id(s: Mapping[str, Any]) -> str:
    if s.get("kind") == "ServiceAccount":
        return f"ServiceAccount {s.get('namespace')}/{s.get('name')}"
    return f"{s.get('kind')} {s.get('name')}"


def username(s: Mapping[str, Any]) -> str:
    """The user name a subject authenticates as ("" for a group)."""
    if s.get("kind") == "ServiceAccount":
        return f"system:serviceaccount:{s.get('namespace')}:{s.get('name')}"
    return str(s.get("name")) if s.get("kind") == "User" else ""


def includes_tenants(s: Mapping[str, Any], platform_namespaces: set[str]) -> bool:
    """The subject is a service account of a namespace outside the platform, or a group
    such service accounts belong to."""
    kind, name = s.get("kind"), str(s.get("name"))
    if kind == "ServiceAccount":
        return str(s.get("namespace")) not in platform_namespaces
    if kind != "Group":
        return False
    if name in EVERYONE:
        return True
    ns = name.removeprefix("system:serviceaccounts:")
    return ns != name and ns not in platform_namespaces


def findings(
    roles: Sequence[Mapping[str, Any]],
    cluster_roles: Sequence[Mapping[str, Any]],
    role_bindings: Sequence[Mapping[str, Any]],
    cluster_role_bindings: Sequence[Mapping[str, Any]],
    is_platform: Callable[[Mapping[str, Any]], bool],
    runner: str = "",
) -> list[Finding]:
    """Every (subject, power) a binding grants, with the binding, first grant only.
    ``runner`` is the user name of the identity running the check: its grants through
    the verifier's own ClusterRoles are marked as such (a grant through any other binding
    is a finding like everyone's). A subject outside the platform that is, or includes,
    a service account is a tenant's."""

    role_rules = {
        ((r.get("metadata") or {}).get("namespace"), (r.get("metadata") or {}).get("name")): (
            r.get("rules") or []
        )
        for r in roles
    }
    cluster_rules = {
        (r.get("metadata") or {}).get("name"): r.get("rules") or [] for r in cluster_roles
    }
    out: dict[tuple[str, str, bool], Finding] = {}
    grants = [(b, "") for b in cluster_role_bindings] + [
        (b, str((b.get("metadata") or {}).get("namespace"))) for b in role_bindings
    ]
    for b, ns in grants:
        ref = b.get("roleRef") or {}
        rules = (
            cluster_rules.get(ref.get("name"))
            if ref.get("kind") == "ClusterRole"
            else role_rules.get((ns, ref.get("name")))
        ) or []
        bkind = "RoleBinding" if ns else "ClusterRoleBinding"
        bname = f"{ns}/{b['metadata']['name']}" if ns else b["metadata"]["name"]
        via = f"{bkind} {bname} -> {ref.get('kind')} {ref.get('name')}"
        verifier = ref.get("kind") == "ClusterRole" and ref.get("name") in VERIFIER_ROLES
        for p in POWERS:
            # a RoleBinding grants what lives in its namespace, and that namespace itself
            if ns and not (p.namespaced and p.namespace == ns) and p.resource != "namespaces":
                continue
            granted = [(v, r) for v in p.verbs for r in rules if _allows(r, v, p.group, p.resource)]
            if not granted:
                continue
            # a grant on every object first; one restricted to resourceNames otherwise
            verb, rule = min(granted, key=lambda g: bool(g[1].get("resourceNames")))
            only = tuple(rule.get("resourceNames") or ())
            for s in b.get("subjects") or []:
                if ns and s.get("kind") == "ServiceAccount" and not s.get("namespace"):
                    s = {**s, "namespace": ns}  # the API server's default in a RoleBinding
                mine = verifier and bool(runner) and username(s) == runner
                key = (subject_id(s), p.what, mine)
                if key in out:
                    continue
                out[key] = Finding(
                    subject_id(s),
                    str(s.get("kind")),
                    str(s.get("name")),
                    str(s.get("namespace") or ""),
                    p.what,
                    verb,
                    f"namespace {ns}" if ns else "cluster",
                    via,
                    is_platform(s),
                    only,
                    runner=mine,
                    tenant=not is_platform(s) and includes_tenants(s, set()),
                    via_verifier=verifier,
                )
    return sorted(out.values(), key=lambda f: (f.platform, f.subject, f.can))


def check_subject(subject: str) -> None:
    """A declared platform subject: ``User:NAME``, ``Group:NAME`` or
    ``ServiceAccount:NS/NAME``; raises ValueError otherwise."""
    kind, sep, name = subject.partition(":")
    ok = sep and name and kind in ("User", "Group", "ServiceAccount")
    if kind == "ServiceAccount" and ok:
        ns, slash, sa = name.partition("/")
        ok = bool(ns and slash and sa)
    if not ok:
        raise ValueError(
            f"--platform-subject {subject!r}: expected User:NAME, Group:NAME or "
            "ServiceAccount:NS/NAME"
        )


def platform_subjects(
    platform_namespaces: set[str], declared: Sequence[str] = ()
) -> Callable[[Mapping[str, Any]], bool]:
    """The platform's own subjects: Kubernetes' (``system:`` users and groups), the
    cluster administrators' groups (``system:masters``, kubeadm's
    ``kubeadm:cluster-admins``), service accounts of platform namespaces, and the
    ``User:NAME``, ``Group:NAME`` and ``ServiceAccount:NS/NAME`` subjects declared.
    A tenant's service account is never one."""

    def check(s: Mapping[str, Any]) -> bool:
        kind, name = str(s.get("kind")), str(s.get("name"))
        key = (
            f"{kind}:{s.get('namespace')}/{name}" if kind == "ServiceAccount" else f"{kind}:{name}"
        )
        if key in declared:
            return True
        if kind == "ServiceAccount":
            return str(s.get("namespace")) in platform_namespaces
        if kind == "Group" and includes_tenants(s, platform_namespaces):
            return False
        return name.startswith("system:") or name == "kubeadm:cluster-admins"

    return check


def review_request(f: Finding, power: Power) -> dict[str, Any]:
    """The SubjectAccessReview that asks the API server whether the finding holds."""
    attrs: dict[str, Any] = {"verb": f.verb, "group": power.group, "resource": power.resource}
    if f.scope.startswith("namespace "):
        ns = f.scope.removeprefix("namespace ")
        attrs["namespace"] = ns
        if power.resource == "namespaces":
            attrs["name"] = ns
    elif power.namespaced:
        attrs["namespace"] = power.namespace
    if f.only:
        attrs["name"] = f.only[0]
    spec: dict[str, Any] = {"resourceAttributes": attrs}
    if f.kind == "ServiceAccount":
        spec["user"] = username({"kind": f.kind, "name": f.name, "namespace": f.namespace})
        spec["groups"] = ["system:serviceaccounts", f"system:serviceaccounts:{f.namespace}"]
    elif f.kind == "Group":
        spec["user"] = "npconform:group-member"
        spec["groups"] = [f.name]
    else:
        spec["user"] = f.name
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


BY_WHAT = {p.what: p for p in POWERS}
