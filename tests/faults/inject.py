"""Broken platforms, on purpose: each fault breaks one safeguard on a running cluster and
knows how to repair it, which part of the suite must catch it, and the words the
failure must contain. The fault-injection tests (tests/faults) drive them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform.cluster import kube
from npconform.cluster.client import Clients, to_dict
from npconform.cluster.workload import grant_namespace_patch, namespace_exists
from npconform.gatekeeper import names as gk
from npconform.gatekeeper.admission import get_constraint, set_enforcement
from npconform.gatekeeper.install import (
    constraint_enforced,
    namespace_selector,
    patch_webhook,
    set_config_match,
    set_failure_policy,
    template_ready,
    validation_webhook,
)
from npconform.model.tenants import cluster_dns_egress
from npconform.resources import own_manifest

CALICO = ("crd.projectcalico.org", "v1")
CONSTRAINT = "require-networkpolicy"


@dataclass
class Fault:
    name: str
    what: str
    inject: Callable[[Clients], None]
    repair: Callable[[Clients], None]
    selection: list[str]  # pytest arguments: the part of the suite that must catch it
    expect: list[str]  # every string must appear in the failure output
    extra_args: list[str] = field(default_factory=list)
    verdict: str = "FAIL"  # what the broken run's results.json must say
    broken_args: list[str] = field(default_factory=list)  # for the broken run only


# ---- traffic -------------------------------------------------------------------------


def _gnp(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "npconform-faults"}},
        "spec": spec,
    }


def _create_gnp(body: dict[str, Any]) -> Callable[[Clients], None]:
    def inject(c: Clients) -> None:
        c.custom().create_cluster_custom_object(*CALICO, "globalnetworkpolicies", body)

    return inject


def _delete_gnp(name: str) -> Callable[[Clients], None]:
    def repair(c: Clients) -> None:
        try:
            c.custom().delete_cluster_custom_object(*CALICO, "globalnetworkpolicies", name)
        except ApiException as e:
            if e.status != 404:
                raise

    return repair


ALLOW_ALL = _gnp(
    "npconform-fault-allow-all",
    {
        "order": 0,
        "selector": "all()",
        "types": ["Ingress", "Egress"],
        "ingress": [{"action": "Allow"}],
        "egress": [{"action": "Allow"}],
    },
)
# The suite's own namespaces (they all carry the run label): every packet to or from their
# pods is dropped, as by a CNI that enforces nothing but "deny".
DROP_ALL = _gnp(
    "npconform-fault-drop-all",
    {
        "order": 0,
        "namespaceSelector": "has(npconform.io/run)",
        "selector": "all()",
        "types": ["Ingress", "Egress"],
        "ingress": [{"action": "Deny"}],
        "egress": [{"action": "Deny"}],
    },
)

TENANT_EGRESS = _gnp(
    "npconform-fault-tenant-a-egress",
    {
        "order": 0,
        "namespaceSelector": "tenant == 'tenant-a'",
        "selector": "all()",
        "types": ["Egress"],
        "egress": [{"action": "Allow"}],
    },
)


# ---- probe images: the probe's own tools, the targets' servers ---------------------------

#: agnhost whose serve-hostname does not listen on this port (it pauses instead).
SILENT_PORT = 8081
_WRAPPER = f"""#!/bin/sh
case " $* " in
  *" serve-hostname "*"--port={SILENT_PORT}"*) exec /agnhost.real pause ;;
esac
exec /agnhost.real "$@"
"""


def fault_image(name: str, lines: list[str], files: dict[str, str] | None = None) -> str:
    """An image derived from the pinned agnhost, built locally and pushed to the local
    registry mirror under the upstream name ``<agnhost repository>-<name>:fault``."""
    import tempfile
    from pathlib import Path

    from npconform.airgap import docker, registry
    from npconform.lock import load

    base = load().image("agnhost")
    repo = base.rsplit(":", 1)[0]
    ref = f"{repo}-{name}:fault"
    with tempfile.TemporaryDirectory() as d:
        ctx = Path(d)
        for fname, text in (files or {}).items():
            (ctx / fname).write_text(text)
        (ctx / "Dockerfile").write_text("\n".join([f"FROM {base}", *lines]) + "\n")
        log = ctx / "build.log"
        try:
            docker.build(ctx, [ref], f"fault-{name}", log)
            registry.push(ref, log)
        except Exception as e:
            raise RuntimeError(f"{e}\n{log.read_text()[-2000:] if log.exists() else ''}") from None
    return ref


def _no_tools_image() -> str:
    return fault_image(
        "notools",
        [
            "USER 0",
            'RUN for t in nc dig npcprobe; do p=$(command -v $t) && rm -f "$(readlink -f "$p")"'
            ' "$p"; done',
            "USER 65534",
        ],
    )


def _silent_port_image() -> str:
    return fault_image(
        f"silent{SILENT_PORT}",
        [
            "USER 0",
            "RUN mv /agnhost /agnhost.real",
            "COPY agnhost /agnhost",
            "RUN chmod 755 /agnhost",
            "USER 65534",
        ],
        {"agnhost": _WRAPPER},
    )


def _nothing(c: Clients) -> None:
    return None


# ---- admission -----------------------------------------------------------------------


def _saved(c: Clients, group: str, version: str, plural: str, name: str) -> dict[str, Any]:
    obj = c.custom().get_cluster_custom_object(group, version, plural, name)
    obj = copy.deepcopy(obj)
    for k in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        obj["metadata"].pop(k, None)
    obj.pop("status", None)
    return dict(obj)


class _Stash:
    """Objects a fault removed, kept so that the repair puts back exactly them."""

    items: dict[str, Any] = {}


def _delete_constraint(c: Clients) -> None:
    _Stash.items["constraint"] = _saved(
        c, gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, CONSTRAINT
    )
    c.custom().delete_cluster_custom_object(
        gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, CONSTRAINT
    )
    kube.wait_until("the constraint to be gone", lambda: get_constraint(c, CONSTRAINT) is None, 60)


def _restore_constraint(c: Clients) -> None:
    if get_constraint(c, CONSTRAINT) is None:
        kube.apply(c, [_Stash.items["constraint"]])
    _wait_enforced(c)


def _wait_enforced(c: Clients) -> None:
    kube.wait_until(
        "the constraint to be enforced again", lambda: constraint_enforced(c, CONSTRAINT), 120
    )


def _mode(action: str) -> Callable[[Clients], None]:
    def inject(c: Clients) -> None:
        set_enforcement(c, CONSTRAINT, action)
        _wait_enforced(c)

    return inject


def _scale_webhook(c: Clients, replicas: int) -> None:
    client.AppsV1Api(c.api()).patch_namespaced_deployment_scale(
        gk.CONTROLLER, gk.NAMESPACE, {"spec": {"replicas": replicas}}
    )


def _webhook_down(c: Clients) -> None:
    set_failure_policy(c, "Ignore")
    _scale_webhook(c, 0)
    kube.wait_until(
        "Gatekeeper's webhook pods to be gone",
        lambda: (
            not c.core()
            .list_namespaced_pod(gk.NAMESPACE, label_selector="control-plane=controller-manager")
            .items
        ),
        120,
    )


def _webhook_up(c: Clients) -> None:
    _scale_webhook(c, 3)
    kube.wait_pods_ready(
        c, gk.NAMESPACE, "control-plane=controller-manager", timeout=240, minimum=3
    )
    set_failure_policy(c, "Fail")
    _wait_enforced(c)


def _drop_sync(c: Clients) -> None:
    _Stash.items["config"] = c.custom().get_namespaced_custom_object(
        gk.CONFIG_GROUP, gk.CONFIG_VERSION, gk.NAMESPACE, gk.CONFIG_PLURAL, gk.CONFIG_NAME
    )
    c.custom().delete_namespaced_custom_object(
        gk.CONFIG_GROUP, gk.CONFIG_VERSION, gk.NAMESPACE, gk.CONFIG_PLURAL, gk.CONFIG_NAME
    )


def _restore_sync(c: Clients) -> None:
    kube.apply(c, own_manifest("gatekeeper/sync-config.yaml"))


def _template_ignoring_expressions() -> list[dict[str, Any]]:
    """The project's template plus one more (OR-ed) definition of ``expression_ok`` that
    holds for every term: matchExpressions stop mattering."""
    docs = own_manifest("gatekeeper/template.yaml")
    target = docs[0]["spec"]["targets"][0]
    target["rego"] += "\nexpression_ok(e, labels) {\n  true\n}\n"
    return docs


def _break_template(c: Clients) -> None:
    kube.apply(c, _template_ignoring_expressions())
    kube.wait_until("the broken template on every pod", lambda: template_ready(c), 120)
    _wait_enforced(c)


def _fix_template(c: Clients) -> None:
    kube.apply(c, own_manifest("gatekeeper/template.yaml"))
    kube.wait_until("the template on every pod", lambda: template_ready(c), 120)
    _wait_enforced(c)


def _set_excluded(c: Clients, namespaces: list[str]) -> None:
    c.custom().patch_cluster_custom_object(
        gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, CONSTRAINT,
        {"spec": {"match": {"excludedNamespaces": namespaces}}},
    )  # fmt: skip
    _wait_enforced(c)


def _no_exemptions(c: Clients) -> None:
    _Stash.items["excluded"] = _saved(
        c, gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, CONSTRAINT
    )["spec"]["match"].get("excludedNamespaces", [])
    _set_excluded(c, [])


def _restore_exemptions(c: Clients) -> None:
    _set_excluded(c, _Stash.items["excluded"])


def _scale_audit(replicas: int) -> Callable[[Clients], None]:
    def do(c: Clients) -> None:
        client.AppsV1Api(c.api()).patch_namespaced_deployment_scale(
            gk.AUDIT, gk.NAMESPACE, {"spec": {"replicas": replicas}}
        )
        sel = "control-plane=audit-controller"
        if replicas:
            kube.wait_pods_ready(c, gk.NAMESPACE, sel, timeout=240)
        else:
            kube.wait_until(
                "the audit pod to be gone",
                lambda: not c.core().list_namespaced_pod(gk.NAMESPACE, label_selector=sel).items,
                120,
            )

    return do


ADMISSION = "suites/admission/test_enforcement.py"


def _replace_rules(c: Clients, i: int, rules: list[dict[str, Any]]) -> None:
    client.AdmissionregistrationV1Api(c.api()).patch_validating_webhook_configuration(
        gk.WEBHOOK_CONFIG, [{"op": "replace", "path": f"/webhooks/{i}/rules", "value": rules}]
    )
    _wait_enforced(c)


def _narrow_webhook(field: str, value: list[str]) -> Callable[[Clients], None]:
    """Narrow every rule of Gatekeeper's validating webhook (``apiGroups`` or
    ``operations``): the API server then never asks Gatekeeper about the rest."""

    def inject(c: Clients) -> None:
        api = client.AdmissionregistrationV1Api(c.api())
        hooks = api.read_validating_webhook_configuration(gk.WEBHOOK_CONFIG).webhooks or []
        i = next((i for i, w in enumerate(hooks) if w.name == gk.WEBHOOK), None)
        if i is None:
            raise RuntimeError(f"{gk.WEBHOOK_CONFIG} has no webhook {gk.WEBHOOK}")
        rules = to_dict(hooks[i].rules or [])
        _Stash.items["webhook-rules"] = (i, rules)
        _replace_rules(c, i, [{**r, field: value} for r in rules])

    return inject


def _restore_webhook(c: Clients) -> None:
    _replace_rules(c, *_Stash.items.pop("webhook-rules"))


# ---- coverage of the cluster's namespaces -------------------------------------------------

COVERAGE = "suites/admission/test_coverage.py"
UNSEEN_NS = "npconform-fault-unseen"
UNSEEN_LABEL = "npconform-fault/skip-admission"
CONFIG_NS = "npconform-fault-config-excluded"


def _fault_namespace(c: Clients, name: str, labels: dict[str, str]) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    c.core().create_namespace(body)


def _drop_namespace(c: Clients, name: str) -> None:
    try:
        c.core().delete_namespace(name)
    except ApiException as e:
        if e.status != 404:
            raise


def _hide_from_webhook(c: Clients) -> None:
    """A tenant namespace with a label the webhook's namespaceSelector now excludes."""
    _fault_namespace(c, UNSEEN_NS, {UNSEEN_LABEL: "yes"})
    sel = namespace_selector(c)
    _Stash.items["namespace-selector"] = copy.deepcopy(sel)
    extra = {"key": UNSEEN_LABEL, "operator": "DoesNotExist"}
    namespace_selector(c, {**sel, "matchExpressions": [*sel.get("matchExpressions", []), extra]})


def _show_to_webhook(c: Clients) -> None:
    namespace_selector(c, _Stash.items.pop("namespace-selector"))
    _drop_namespace(c, UNSEEN_NS)


CEL_NS = "npconform-fault-cel"


def _skip_by_match_condition(c: Clients) -> None:
    """A CEL matchCondition on the validation webhook that skips one tenant namespace:
    the objects read say it is covered, only the API server's answer shows it is not."""
    _fault_namespace(c, CEL_NS, {})
    cond = {"name": "npconform-fault-skip", "expression": f"request.namespace != '{CEL_NS}'"}
    patch_webhook(c, "add", "matchConditions", [cond])


def _drop_match_condition(c: Clients) -> None:
    found = validation_webhook(c)
    if found and found[1].get("matchConditions"):
        patch_webhook(c, "remove", "matchConditions", found=found)
    _drop_namespace(c, CEL_NS)


def _config_excludes(c: Clients) -> None:
    _fault_namespace(c, CONFIG_NS, {})
    set_config_match(c, [{"excludedNamespaces": [CONFIG_NS], "processes": ["webhook"]}])


def _config_includes(c: Clients) -> None:
    set_config_match(c, None)
    _drop_namespace(c, CONFIG_NS)


LABELLER_NS = "npconform-fault-labeller"


def _tenant_labeller(c: Clients) -> None:
    """A tenant namespace whose service account may patch the namespace itself."""
    _fault_namespace(c, LABELLER_NS, {})
    grant_namespace_patch(c, LABELLER_NS, "ci", "ns-labeller", "ci-labels-namespace")


def _drop_labeller(c: Clients) -> None:
    """Gone, not only terminating: its RoleBinding lasts until the namespace is."""
    _drop_namespace(c, LABELLER_NS)
    kube.wait_until(
        f"namespace {LABELLER_NS} to be gone",
        lambda: not namespace_exists(c, LABELLER_NS),
        timeout=120,
    )


GROUP_NS = "npconform-fault-group"
GROUP_GRANT = "npconform-fault-group-labels-namespaces"


def _tenant_group_labeller(c: Clients) -> None:
    """Every service account of a tenant namespace, as the group the API server puts
    them in, may patch any namespace."""
    _fault_namespace(c, GROUP_NS, {})
    rbac = client.RbacAuthorizationV1Api(c.api())
    rule = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}
    rbac.create_cluster_role({"metadata": {"name": GROUP_GRANT}, "rules": [rule]})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": GROUP_GRANT},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": GROUP_GRANT,
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": f"system:serviceaccounts:{GROUP_NS}",
                }
            ],
        }
    )


def _drop_group_labeller(c: Clients) -> None:
    rbac = client.RbacAuthorizationV1Api(c.api())
    for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
        try:
            delete(GROUP_GRANT)
        except ApiException as e:
            if e.status != 404:
                raise
    _drop_namespace(c, GROUP_NS)


HOLE_NS = ("npconform-fault-hole-x", "npconform-fault-hole-y")


def _tenant_hole(c: Clients) -> None:
    """Two tenant namespaces of the cluster's own (not the run's), each segregated by a
    policy that selects every pod of it (ingress and egress within the namespace, DNS);
    x's app may also send to y, and y's policy also admits every pod of x: an unintended
    cross-tenant flow that admission cannot see."""
    import time

    from npconform.lock import load

    x, y = HOLE_NS
    name_label = "kubernetes.io/metadata.name"
    for ns in HOLE_NS:
        _fault_namespace(c, ns, {})
        own: dict[str, Any] = {"from": [{"podSelector": {}}]}
        ingress = [own] + (
            [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": x}}}]}]
            if ns == y
            else []
        )
        dns = cluster_dns_egress()
        spec = {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [{"to": [{"podSelector": {}}]}, dns]
            + (
                [{"to": [{"namespaceSelector": {"matchLabels": {name_label: y}}}]}]
                if ns == x
                else []
            ),
        }
        c.net().create_namespaced_network_policy(
            ns,
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "tenant"},
                "spec": spec,
            },
        )
        c.core().create_namespaced_pod(
            ns,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app", "labels": {"app": "app"}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "app",
                            "image": load().image("agnhost"),
                            "args": ["serve-hostname", "--tcp", "--http=false", "--port=8080"],
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "runAsNonRoot": True,
                                "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                        }
                    ],
                },
            },
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        phases = [c.core().read_namespaced_pod("app", ns).status.phase for ns in HOLE_NS]
        if phases == ["Running", "Running"]:
            return
        time.sleep(1)
    raise RuntimeError(f"the fault's pods did not start: {phases}")


def _close_tenant_hole(c: Clients) -> None:
    import time

    for ns in HOLE_NS:
        _drop_namespace(c, ns)
    deadline = time.monotonic() + 180
    while any(namespace_exists(c, ns) for ns in HOLE_NS) and time.monotonic() < deadline:
        time.sleep(2)


FAULTS = [
    Fault(
        "CNI dropping everything",
        "a Calico GlobalNetworkPolicy of order 0 denying all ingress and egress of the "
        "suite's namespaces",
        _create_gnp(DROP_ALL),
        _delete_gnp(DROP_ALL["metadata"]["name"]),
        ["suites/traffic/test_tenants.py", "suites/traffic/test_components.py"],
        ["GlobalNetworkPolicy npconform-fault-drop-all", "loss"],
    ),
    Fault(
        "probe container without its tools",
        "probe pods from an agnhost image without nc, dig and the probe program (--probe-image)",
        _nothing,
        _nothing,
        ["suites/traffic/test_components.py"],
        ["probe tool(s) missing", "nc, dig", "could not measure"],
        verdict="INCOMPLETE",
        broken_args=["--probe-image", "@notools"],
    ),
    Fault(
        "target server not listening",
        f"probe pods whose servers do not listen on port {SILENT_PORT} (--probe-image)",
        _nothing,
        _nothing,
        ["suites/traffic/test_tenants.py"],
        ["refused", f":{SILENT_PORT}/TCP", "loss"],
        broken_args=["--probe-image", f"@silent{SILENT_PORT}"],
    ),
    Fault(
        "cluster-wide allow-all above Kubernetes policies",
        "a Calico GlobalNetworkPolicy of order 0 allowing all ingress and egress",
        _create_gnp(ALLOW_ALL),
        _delete_gnp(ALLOW_ALL["metadata"]["name"]),
        ["suites/traffic/test_tenants.py", "suites/traffic/test_components.py"],
        ["GlobalNetworkPolicy npconform-fault-allow-all", "allows all ingress", "leak"],
    ),
    Fault(
        "egress not enforced for one tenant",
        "a Calico GlobalNetworkPolicy of order 0 allowing all egress of tenant-a's pods",
        _create_gnp(TENANT_EGRESS),
        _delete_gnp(TENANT_EGRESS["metadata"]["name"]),
        ["suites/traffic/test_tenants.py"],
        [
            "GlobalNetworkPolicy npconform-fault-tenant-a-egress",
            "allows all egress",
            "outside/sink",
        ],
    ),
    Fault(
        "require-networkpolicy constraint absent",
        "the K8sRequireNetworkPolicy constraint deleted",
        _delete_constraint,
        _restore_constraint,
        [ADMISSION],
        ["the require-networkpolicy safeguard is absent"],
    ),
    Fault(
        "constraint in warn while deny is expected",
        "enforcementAction: warn",
        _mode("warn"),
        _mode("deny"),
        [ADMISSION],
        ["has enforcementAction 'warn', but 'deny' is expected"],
    ),
    Fault(
        "constraint in dryrun while deny is expected",
        "enforcementAction: dryrun",
        _mode("dryrun"),
        _mode("deny"),
        [ADMISSION],
        ["has enforcementAction 'dryrun', but 'deny' is expected"],
    ),
    Fault(
        "Gatekeeper's webhook down with failurePolicy Ignore",
        "gatekeeper-controller-manager scaled to 0, validation.gatekeeper.sh failurePolicy Ignore",
        _webhook_down,
        _webhook_up,
        [ADMISSION],
        ["webhook pods are not running (failurePolicy Ignore)", "silently admitted"],
    ),
    Fault(
        "Gatekeeper not syncing NetworkPolicies",
        "the Gatekeeper Config that syncs networking.k8s.io/v1 NetworkPolicy deleted",
        _drop_sync,
        _restore_sync,
        [ADMISSION],
        ["does not sync NetworkPolicies", "selected by a NetworkPolicy"],
    ),
    Fault(
        "Gatekeeper's webhook not asked about workloads",
        "the validating webhook's rules narrowed to the core API group: Deployments, "
        "StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs never reach Gatekeeper",
        _narrow_webhook("apiGroups", [""]),
        _restore_webhook,
        ["suites/admission/test_controllers.py"],
        ["Deployment without policy: expected the webhook to deny it", "admitted"],
    ),
    Fault(
        "Gatekeeper's webhook not asked about updates",
        "the validating webhook's rules narrowed to CREATE: a label update escaping every "
        "policy never reaches Gatekeeper",
        _narrow_webhook("operations", ["CREATE"]),
        _restore_webhook,
        ["suites/admission/test_lifecycle.py"],
        ["label update that escapes every policy: expected the webhook to deny it"],
    ),
    Fault(
        "constraint reaching platform namespaces",
        "the constraint's excludedNamespaces emptied: kube-system is matched",
        _no_exemptions,
        _restore_exemptions,
        ["suites/admission/test_scope.py"],
        [
            "pod without policy in kube-system (dry run): expected admission without warning",
            "denied",
        ],
    ),
    Fault(
        "Gatekeeper audit not running",
        "gatekeeper-audit scaled to 0: nothing fills the constraint's status.violations",
        _scale_audit(0),
        _scale_audit(1),
        ["suites/admission/test_audit.py"],
        ["audit did not list it"],
    ),
    Fault(
        "tenant namespace outside the webhook",
        f"namespace {UNSEEN_NS} labelled {UNSEEN_LABEL}=yes, and the validating webhook's "
        "namespaceSelector excluding that label",
        _hide_from_webhook,
        _show_to_webhook,
        [COVERAGE],
        [UNSEEN_NS, "unprotected", f"!{UNSEEN_LABEL}", "coverage FAIL"],
    ),
    Fault(
        "tenant namespace excluded by Gatekeeper's Config",
        f"namespace {CONFIG_NS} in the Config's spec.match excludedNamespaces for the webhook",
        _config_excludes,
        _config_includes,
        [COVERAGE],
        [CONFIG_NS, "unprotected", f"spec.match[0].excludedNamespaces {CONFIG_NS}"],
    ),
    Fault(
        "webhook matchCondition skipping a tenant namespace",
        f"a CEL matchCondition on the validation webhook skipping namespace {CEL_NS}: the "
        "objects say covered, the API server admits",
        _skip_by_match_condition,
        _drop_match_condition,
        [COVERAGE],
        [CEL_NS, "DISAGREES (computed denied)", "matchConditions npconform-fault-skip"],
    ),
    Fault(
        "tenant service account that can label its namespace",
        f"a Role on namespaces (patch) bound to ServiceAccount {LABELLER_NS}/ci in its own "
        "namespace: it could label it owner=operator",
        _tenant_labeller,
        _drop_labeller,
        [COVERAGE],
        [
            f"OUTSIDE THE PLATFORM: ServiceAccount {LABELLER_NS}/ci",
            "confirmed",
            f"RoleBinding {LABELLER_NS}/ci-labels-namespace -> Role ns-labeller",
        ],
    ),
    Fault(
        "tenant service accounts, as a group, that can label namespaces",
        f"a ClusterRole on namespaces (patch) bound to Group system:serviceaccounts:{GROUP_NS}",
        _tenant_group_labeller,
        _drop_group_labeller,
        [COVERAGE],
        [
            f"OUTSIDE THE PLATFORM: Group system:serviceaccounts:{GROUP_NS}",
            f"ClusterRoleBinding {GROUP_GRANT} -> ClusterRole {GROUP_GRANT} [confirmed]",
        ],
    ),
    Fault(
        "constraint template ignoring matchExpressions",
        "the template's Rego treats every matchExpressions term as satisfied",
        _break_template,
        _fix_template,
        ["suites/admission/test_selectors.py", "-k", "In or NotIn or Exists"],
        ["In-value-not-listed: expected the webhook to deny it"],
    ),
    Fault(
        "cross-tenant hole in the deployed workloads",
        f"two tenant namespaces of the cluster's own ({HOLE_NS[0]}, {HOLE_NS[1]}), every pod "
        f"selected by a policy; {HOLE_NS[1]}'s also admits every pod of {HOLE_NS[0]}",
        _tenant_hole,
        _close_tenant_hole,
        ["suites/isolation/test_deployed.py"],
        [
            f"FAIL cross-tenant: {HOLE_NS[1]}/app (tenant {HOLE_NS[1]})",
            f"from tenant(s) {HOLE_NS[0]}",
            f"opened by: {HOLE_NS[1]}/tenant ingress[1]",
        ],
    ),
]

#: Images a fault's ``--probe-image @name`` stands for, built when the fault is injected.
FAULT_IMAGES: dict[str, Callable[[], str]] = {
    "notools": _no_tools_image,
    f"silent{SILENT_PORT}": _silent_port_image,
}
