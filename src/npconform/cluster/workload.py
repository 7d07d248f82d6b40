"""The suite's own objects on the cluster: labelled namespaces, probe pods, Services.

Every object carries the run label so that it can be found and removed on success,
failure, Ctrl-C, or later with ``npconform cleanup``. Pods meet the restricted Pod
Security Standard, have requests and limits, and use a pinned image tag.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.cluster import kube
from npconform.cluster.client import Clients

RUN_LABEL = f"{NAME}.io/run"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
DEFAULT_PORTS: tuple[int, ...] = (8080, 8081)
PROBE_CONTAINER = "probe"


@dataclass(frozen=True)
class PodPlan:
    """A probe pod: it serves TCP and UDP on each of ``ports`` (agnhost serve-hostname)."""

    namespace: str  # real namespace name
    name: str
    labels: Mapping[str, str]
    ports: tuple[int, ...] = DEFAULT_PORTS
    port_names: Mapping[int, str] = field(default_factory=dict)  # port -> name prefix
    node: str | None = None

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


def serve_command(port: int) -> str:
    return f"/agnhost serve-hostname --tcp --udp --http=false --port={port}"


def port_name(port: int, proto: str, prefix: str | None = None) -> str:
    return f"{prefix or 'serve'}-{port}-{proto.lower()}"[:15]


def restricted_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pause_container(
    name: str, image: str, requests: tuple[str, str], limits: tuple[str, str]
) -> dict[str, Any]:
    """A container of ``image`` that only waits (agnhost ``pause``): cpu and memory
    requests and limits as given, the restricted security context."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["pause"],
        "resources": {
            "requests": {"cpu": requests[0], "memory": requests[1]},
            "limits": {"cpu": limits[0], "memory": limits[1]},
        },
        "securityContext": restricted_security(),
    }


def serve_all_command(ports: Sequence[int], serve: Callable[[int], str] = serve_command) -> str:
    """One shell serving every port of ``ports``, one server each, with its output discarded
    (serve-hostname logs every request before answering it, and a slow log pipe must never
    delay an answer). When any server ends, the shell ends with status 1: the container
    restarts (its restart count says so) instead of serving one port less in silence."""
    if not ports:
        raise ValueError("a probe pod serves at least one port")
    each = " ".join(f"({serve(p)} >/dev/null 2>&1; kill $$) &" for p in ports)
    return f"trap 'exit 1' TERM; {each} wait"


def pod_manifest(plan: PodPlan, image: str, run_id: str) -> dict[str, Any]:
    """One container: it serves every port and is where the pod's probes run, so servers
    and probes share one CPU and memory allowance (the sum of what a container per server
    and one for the probes had). Separate containers would give the kernel's CPU shares a
    say between answering and probing, but every container is another start on a busy
    node; with the probe program a batch is one light process, and the confirmation pass
    asks an allowed cell that turned silent again with patient waits."""
    ports = []
    for port in plan.ports:
        prefix = plan.port_names.get(port)
        for proto in ("TCP", "UDP"):
            ports.append(
                {"name": port_name(port, proto, prefix), "containerPort": port, "protocol": proto}
            )
    containers = [
        {
            "name": PROBE_CONTAINER,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            # Kubernetes expands $(VAR) in a command and reads "$$" as "$"
            "command": ["sh", "-c", serve_all_command(plan.ports).replace("$", "$$")],
            "ports": ports,
            "resources": {
                "requests": {"cpu": "50m", "memory": "48Mi"},
                "limits": {"cpu": "2", "memory": "256Mi"},
            },
            "securityContext": restricted_security(),
        }
    ]
    spec: dict[str, Any] = {
        "containers": containers,
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }
    if plan.node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": plan.node}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "labels": {**plan.labels, RUN_LABEL: run_id, MANAGED_LABEL: NAME},
        },
        "spec": spec,
    }


def service_manifest(plan: PodPlan, run_id: str) -> dict[str, Any]:
    ports = []
    for port in plan.ports:
        for proto in ("TCP", "UDP"):
            ports.append(
                {
                    "name": f"{proto.lower()}-{port}",
                    "port": port,
                    "targetPort": port,
                    "protocol": proto,
                }
            )
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "labels": {RUN_LABEL: run_id, MANAGED_LABEL: NAME},
        },
        "spec": {"selector": {f"{NAME}.io/pod": plan.name}, "ports": ports},
    }


def ensure_namespace(
    clients: Clients,
    name: str,
    labels: Mapping[str, str],
    run_id: str,
    terminating_wait: float = 120,
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**labels, RUN_LABEL: run_id, MANAGED_LABEL: NAME}},
    }
    core = clients.core()
    deadline = time.monotonic() + terminating_wait
    while True:
        try:
            core.create_namespace(body)
            return
        except ApiException as e:
            if e.status != 409:
                raise
        try:
            current = core.read_namespace(name)
        except ApiException as e:
            if e.status == 404:
                continue  # it finished terminating in between
            raise
        if current.metadata.deletion_timestamp is None:
            core.patch_namespace(name, {"metadata": {"labels": dict(labels)}})
            return
        # A namespace of the same name from an earlier scenario is still terminating:
        # creating content in it is refused, so wait (bounded) until it is gone.
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"namespace {name} is still terminating after {terminating_wait:.0f}s"
            )
        time.sleep(0.5)


def set_namespace_labels(clients: Clients, name: str, labels: Mapping[str, str | None]) -> None:
    clients.core().patch_namespace(name, {"metadata": {"labels": dict(labels)}})


NO_POLICY_MESSAGE = "No matching networkpolicy found"


def is_no_policy_denial(e: ApiException) -> bool:
    return e.status in (400, 403) and NO_POLICY_MESSAGE in str(e.body or "")


def webhook_unanswered(e: ApiException) -> bool:
    """Whether the API server failed to call the admission webhook (no answer in time, or
    none at all), as opposed to the webhook answering."""
    return e.status == 500 and "failed calling webhook" in str(e.body or "")


def create_admitted(create: Any, what: str, sync_wait: float = 30) -> Any:
    """Create an object of a test's set-up whose selecting NetworkPolicy was just applied:
    Gatekeeper denies it until the policy reaches its inventory, so a denial is retried
    (bounded) until the webhook, observed through the create itself, admits it. A webhook
    that did not answer in time (a busy node) is asked again too: with a webhook that fails
    closed, such a create was refused and nothing was stored."""
    deadline = time.monotonic() + sync_wait
    while True:
        try:
            return create()
        except ApiException as e:
            if not (is_no_policy_denial(e) or webhook_unanswered(e)):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def create_pods(
    clients: Clients, plans: Sequence[PodPlan], image: str, run_id: str, with_services: bool = True
) -> None:
    core = clients.core()
    for p in plans:
        body = pod_manifest(p, image, run_id)
        body["metadata"]["labels"][f"{NAME}.io/pod"] = p.name
        create_admitted(lambda p=p, body=body: core.create_namespaced_pod(p.namespace, body), p.id)
        if with_services:
            try:
                core.create_namespaced_service(p.namespace, service_manifest(p, run_id))
            except ApiException as e:
                if e.status != 409:
                    raise


@dataclass
class PodState:
    ip: str
    node: str
    host_ip: str


def wait_pods(
    clients: Clients, plans: Sequence[PodPlan], timeout: float = 180
) -> dict[str, PodState]:
    """Wait until every pod is Ready; return their IPs and nodes."""
    core = clients.core()
    namespaces = sorted({p.namespace for p in plans})
    want = {p.id for p in plans}

    def probe() -> dict[str, PodState] | None:
        got: dict[str, PodState] = {}
        for ns in namespaces:
            for pod in core.list_namespaced_pod(ns, label_selector=RUN_LABEL).items:
                pid = f"{ns}/{pod.metadata.name}"
                if pid in want and kube._pod_ready(pod) and pod.status.pod_ip:
                    got[pid] = PodState(pod.status.pod_ip, pod.spec.node_name, pod.status.host_ip)
        return got if set(got) == want else None

    return kube.wait_until(
        f"{len(plans)} probe pods to be Ready",
        probe,
        timeout,
        diagnose=lambda: "\n".join(kube.diagnose_pods(clients, ns, RUN_LABEL) for ns in namespaces),
        interval=0.5,
    )


def service_ips(clients: Clients, plans: Sequence[PodPlan]) -> dict[str, str]:
    core = clients.core()
    return {p.id: core.read_namespaced_service(p.name, p.namespace).spec.cluster_ip for p in plans}


def delete_pod(clients: Clients, namespace: str, name: str, wait: float = 60) -> None:
    core = clients.core()
    try:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except ApiException as e:
        if e.status != 404:
            raise

    def gone() -> bool:
        try:
            core.read_namespaced_pod(name, namespace)
        except ApiException as e:
            if e.status == 404:
                return True
            raise
        return False

    kube.wait_until(f"pod {namespace}/{name} to be deleted", gone, wait, interval=0.3)


def apply_policies(clients: Clients, policies: Iterable[Mapping[str, Any]], run_id: str) -> None:
    net = clients.net()
    for pol in policies:
        body = {**pol, "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}
        meta = dict(body["metadata"])
        meta["labels"] = {**meta.get("labels", {}), RUN_LABEL: run_id, MANAGED_LABEL: NAME}
        body["metadata"] = meta
        ns = meta["namespace"]
        try:
            net.create_namespaced_network_policy(ns, body)
        except ApiException as e:
            if e.status != 409:
                raise
            net.replace_namespaced_network_policy(meta["name"], ns, body)


def delete_policy(clients: Clients, namespace: str, name: str) -> None:
    try:
        clients.net().delete_namespaced_network_policy(name, namespace)
    except ApiException as e:
        if e.status != 404:
            raise


def _delete_namespaces_now(clients: Clients, names: Sequence[str]) -> None:
    core = clients.core()
    for n in names:
        try:
            core.delete_namespace(n, grace_period_seconds=0)
        except ApiException as e:
            if e.status != 404:
                raise


def delete_namespace_names(clients: Clients, names: Sequence[str], wait: float = 0) -> None:
    """Delete the named namespaces (absent ones are fine); optionally wait until gone."""
    _delete_namespaces_now(clients, names)
    deadline = time.monotonic() + wait
    left = list(names)
    while left and time.monotonic() < deadline:
        left = [n for n in left if namespace_exists(clients, n)]
        if left:
            time.sleep(1)


def namespace_exists(clients: Clients, name: str) -> bool:
    try:
        clients.core().read_namespace(name)
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


def delete_namespaces(clients: Clients, selector: str, wait: float = 0) -> list[str]:
    """Delete every namespace matching ``selector``; optionally wait until they are gone."""
    core = clients.core()
    names = [n.metadata.name for n in core.list_namespace(label_selector=selector).items]
    _delete_namespaces_now(clients, names)
    if wait and names:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            left = core.list_namespace(label_selector=selector).items
            if not left:
                break
            time.sleep(1)
    return names


def grant_namespace_patch(
    clients: Clients, namespace: str, service_account: str, role: str, binding: str
) -> None:
    """A ServiceAccount of ``namespace`` and a Role, bound to it, that lets it get and patch
    that namespace itself: a tenant identity that could label its namespace out of the
    safeguard's match (the coverage tests and the fault injection create one on purpose)."""
    from kubernetes import client

    clients.core().create_namespaced_service_account(
        namespace, {"metadata": {"name": service_account}}
    )
    rbac = client.RbacAuthorizationV1Api(clients.api())
    rule = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]}
    rbac.create_namespaced_role(namespace, {"metadata": {"name": role}, "rules": [rule]})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [
                {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
            ],
        },
    )
