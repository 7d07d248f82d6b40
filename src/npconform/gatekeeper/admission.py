"""Observing admission: create workloads and record whether Gatekeeper denied them, warned
about them, or let them through (and whether its audit later lists them)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.cluster import kube
from npconform.cluster.client import Clients, api_message
from npconform.cluster.workload import (
    MANAGED_LABEL,
    NO_POLICY_MESSAGE,
    RUN_LABEL,
    pause_container,
    webhook_unanswered,
)
from npconform.gatekeeper import install as gkinstall
from npconform.gatekeeper import names as gk

_WARNING = re.compile(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"')

# kind -> (API class, create method suffix)
_APIS: dict[str, tuple[Callable[[client.ApiClient], Any], str]] = {
    "Pod": (client.CoreV1Api, "pod"),
    "ReplicationController": (client.CoreV1Api, "replication_controller"),
    "Deployment": (client.AppsV1Api, "deployment"),
    "StatefulSet": (client.AppsV1Api, "stateful_set"),
    "DaemonSet": (client.AppsV1Api, "daemon_set"),
    "ReplicaSet": (client.AppsV1Api, "replica_set"),
    "Job": (client.BatchV1Api, "job"),
    "CronJob": (client.BatchV1Api, "cron_job"),
}
API_VERSIONS = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


@dataclass
class Admission:
    """What the API server said to one create or update."""

    kind: str
    namespace: str
    name: str
    admitted: bool
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    status: int = 0

    @property
    def observed(self) -> str:
        if not self.admitted:
            return "denied"
        if any(NO_POLICY_MESSAGE in w for w in self.warnings):
            return "warned"
        return "admitted"

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def names_constraint(self, constraint: str) -> bool:
        text = self.message if not self.admitted else " ".join(self.warnings)
        return constraint in text and NO_POLICY_MESSAGE in text

    def describe(self) -> str:
        what = {
            "denied": f"denied: {self.message}",
            "warned": f"admitted with warning: {self.warnings}",
            "admitted": "admitted" + (f" (warnings: {self.warnings})" if self.warnings else ""),
        }
        return f"{self.kind} {self.namespace}/{self.name} {what[self.observed]}"


def parse_warnings(headers: Mapping[str, str] | None) -> list[str]:
    if not headers:
        return []
    raw = [v for k, v in headers.items() if k.lower() == "warning"]
    out = []
    for v in raw:
        found = _WARNING.findall(v)
        out += [f.replace('\\"', '"') for f in found] if found else [v]
    return out


def status_headers(resp: Any) -> tuple[int, Mapping[str, str] | None]:
    """(status, headers) of a ``*_with_http_info`` answer (a tuple or an ApiResponse)."""
    if isinstance(resp, tuple):
        return int(resp[1]), resp[2]
    return int(resp.status_code), resp.headers


#: The webhook's refusal, as the API server words it.
denial_message = api_message


#: The scheduling gate that holds the pods of admission tests: admission is decided when
#: the object is stored, and a pod that never starts costs its node no container, no
#: network set-up and no teardown (on a two-core cluster, about two CPU seconds each).
ADMISSION_ONLY_GATE = f"{NAME}.io/admission-only"


def pod_template(labels: Mapping[str, str], image: str, start: bool = False) -> dict[str, Any]:
    """A pod (template) of one pausing container; unless ``start``, it carries
    :data:`ADMISSION_ONLY_GATE` and is never scheduled."""
    spec: dict[str, Any] = {
        "containers": [pause_container("main", image, ("5m", "16Mi"), ("100m", "32Mi"))],
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }
    if not start:
        spec["schedulingGates"] = [{"name": ADMISSION_ONLY_GATE}]
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def workload_manifest(
    kind: str,
    namespace: str,
    name: str,
    labels: Mapping[str, str],
    image: str,
    run_id: str,
    *,
    start: bool = False,
) -> dict[str, Any]:
    """A minimal object of ``kind`` whose pods carry ``labels``; they are started only
    with ``start`` (a test that claims they run), else held by
    :data:`ADMISSION_ONLY_GATE`."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {RUN_LABEL: run_id, MANAGED_LABEL: NAME},
    }
    tmpl = pod_template(labels, image, start)
    if kind == "Pod":
        meta["labels"] = {**labels, **meta["labels"]}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl["spec"]}
    selector = {"matchLabels": dict(labels)} if labels else None
    spec: dict[str, Any]
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        spec = {"selector": selector, "template": tmpl}
        if kind != "DaemonSet":
            spec["replicas"] = 1
        if kind == "StatefulSet":
            spec["serviceName"] = name
    elif kind == "ReplicationController":
        spec = {"replicas": 1, "selector": dict(labels), "template": tmpl}
    elif kind == "Job":
        tmpl["spec"]["restartPolicy"] = "Never"
        tmpl["spec"]["containers"][0]["args"] = ["pause"]
        spec = {"template": tmpl, "backoffLimit": 0, "activeDeadlineSeconds": 300}
    elif kind == "CronJob":
        tmpl["spec"]["restartPolicy"] = "Never"
        spec = {
            "schedule": "0 0 1 1 *",
            "suspend": True,
            "jobTemplate": {"spec": {"template": tmpl, "backoffLimit": 0}},
        }
    else:
        raise ValueError(f"unsupported kind {kind}")
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": meta, "spec": spec}


def create(clients: Clients, body: Mapping[str, Any], dry_run: bool = False) -> Admission:
    kind = body["kind"]
    api_cls, suffix = _APIS[kind]
    api = api_cls(clients.api())
    ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
    method = getattr(api, f"create_namespaced_{suffix}_with_http_info")
    kwargs: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
    try:
        resp = method(ns, body, **kwargs)
    except ApiException as e:
        if e.status in (400, 403, 422) and "admission webhook" in str(e.body):
            return Admission(
                kind, ns, name, False, parse_warnings(e.headers), denial_message(e), e.status
            )
        raise
    status, headers = status_headers(resp)
    return Admission(kind, ns, name, True, parse_warnings(headers), "", status)


@dataclass
class Settled:
    """How a run of dry-run creates ended: whether the wanted answer held ``needed`` times
    in a row, and the last answer (None if the webhook was never asked)."""

    settled: bool
    needed: int
    last: Admission | None


def _settle(clients: Clients, body: Mapping[str, Any], admitted: bool, timeout: float) -> Settled:
    """Observe, through dry-run creates (which the webhook sees like real ones), until the
    webhook has answered ``admitted`` (cleanly) or not, several times in a row. Each
    Gatekeeper webhook pod keeps its own copy of the synced NetworkPolicies and the Service
    spreads requests over them, so one answer speaks for one pod only: the run of equal
    answers must be long enough (four per webhook pod) that every pod has most likely
    been asked. Bounded: past ``timeout`` the caller's real create is the verdict."""
    try:
        pods = len(gkinstall.webhook_pods(clients))
    except ApiException:
        pods = 3  # Gatekeeper's default replica count, when its pods cannot be listed
    needed = 4 * max(1, pods)
    deadline = time.monotonic() + timeout
    run = 0
    last: Admission | None = None
    while time.monotonic() < deadline and run < needed:
        try:
            last = create(clients, body, dry_run=True)
        except ApiException as e:
            if not webhook_unanswered(e):
                raise
            # The API server got no answer from the webhook in time (a busy node): while
            # settling that is no answer, not a verdict; the run starts again, and the
            # caller's real create is still the verdict.
            run = 0
            time.sleep(0.25)
            continue
        observed = last.observed == "admitted"
        run = run + 1 if observed == admitted else 0
        if not run:
            # not there yet: give the inventory a moment; a run of wanted answers goes on
            # at once (waiting would not spread the requests over the pods any better)
            time.sleep(0.25)
    return Settled(run >= needed, needed, last)


def create_after_sync(clients: Clients, body: Mapping[str, Any], timeout: float = 30) -> Admission:
    """Create an object right after the policy that selects it: once every webhook pod
    admits it cleanly (the policy has reached Gatekeeper's inventory), create it for real."""
    _settle(clients, body, True, timeout)
    return create(clients, body)


def wait_refused(clients: Clients, body: Mapping[str, Any], timeout: float = 30) -> Admission:
    """After the last selecting policy is deleted: once every webhook pod stops admitting
    the object cleanly, create it for real."""
    _settle(clients, body, False, timeout)
    return create(clients, body)


class NotSynced(AssertionError):
    """A witness was not admitted cleanly by every webhook pod in time: the policies that
    select it have not (all) reached Gatekeeper's inventory. ``last``: the last answer."""

    def __init__(self, message: str, last: Admission | None) -> None:
        super().__init__(message)
        self.last = last


def prove_synced(
    clients: Clients,
    namespace: str,
    witness_labels: Mapping[str, str],
    image: str,
    run_id: str,
    timeout: float = 30,
) -> Admission:
    """Before a "must be refused" verdict in ``namespace``: prove that the policies there
    are in every webhook pod's inventory, with a *witness* Pod whose ``witness_labels`` they
    select. The witness must settle as admitted (cleanly, the run :func:`_settle` asks for)
    through server-side dry runs only; nothing is created. Returns the last dry-run answer;
    raises :class:`NotSynced` (an ``AssertionError``) if it never settles in ``timeout``."""
    body = workload_manifest("Pod", namespace, "witness", witness_labels, image, run_id)
    outcome = _settle(clients, body, True, timeout)
    if outcome.settled and outcome.last is not None:
        return outcome.last
    last = " ".join(outcome.last.describe().split()) if outcome.last is not None else "no answer"
    raise NotSynced(
        f"policy not synced: witness Pod {namespace}/witness with labels "
        f"{dict(witness_labels)} was not admitted cleanly {outcome.needed} times in a row "
        f"within {timeout:g}s, so the policies selecting it have not reached every Gatekeeper "
        f"webhook pod's inventory and a refusal would prove nothing (last answer: {last})",
        outcome.last,
    )


def patch_pod_labels(
    clients: Clients, namespace: str, name: str, labels: Mapping[str, str | None]
) -> Admission:
    core = clients.core()
    try:
        resp = core.patch_namespaced_pod_with_http_info(
            name, namespace, {"metadata": {"labels": dict(labels)}}
        )
    except ApiException as e:
        if e.status in (400, 403, 422) and "admission webhook" in str(e.body):
            return Admission(
                "Pod",
                namespace,
                name,
                False,
                parse_warnings(e.headers),
                denial_message(e),
                e.status,
            )
        raise
    status, headers = status_headers(resp)
    return Admission("Pod", namespace, name, True, parse_warnings(headers), "", status)


# ---------------------------------------------------------------------------------------
# The constraint
# ---------------------------------------------------------------------------------------


def get_constraint(clients: Clients, name: str) -> dict[str, Any] | None:
    try:
        return dict(
            clients.custom().get_cluster_custom_object(
                gk.CONSTRAINT_GROUP, gk.CONSTRAINT_VERSION, gk.CONSTRAINT_PLURAL, name
            )
        )
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def violations(clients: Clients, name: str) -> tuple[list[dict[str, Any]], int, str | None]:
    """The seed's ``kubectl get k8srequirenetworkpolicy.constraints.gatekeeper.sh <name>
    -ojson | jq .status.violations``: (violations, totalViolations, auditTimestamp)."""
    c = get_constraint(clients, name) or {}
    return (
        list(kube.dig(c, "status", "violations", default=[])),
        int(kube.dig(c, "status", "totalViolations", default=0)),
        kube.dig(c, "status", "auditTimestamp"),
    )


def wait_audited(
    clients: Clients, constraint: str, namespace: str, name: str, kind: str, timeout: float
) -> bool:
    """Whether the audit lists the object within ``timeout`` (at least one audit run later)."""

    def listed() -> bool:
        vs, _, _ = violations(clients, constraint)
        return any(
            v.get("namespace") == namespace and v.get("name") == name and v.get("kind") == kind
            for v in vs
        )

    try:
        kube.wait_until(f"audit to list {kind} {namespace}/{name}", listed, timeout, interval=2)
        return True
    except kube.WaitTimeout:
        return False


def set_enforcement(clients: Clients, name: str, action: str) -> None:
    clients.custom().patch_cluster_custom_object(
        gk.CONSTRAINT_GROUP,
        gk.CONSTRAINT_VERSION,
        gk.CONSTRAINT_PLURAL,
        name,
        {"spec": {"enforcementAction": action}},
    )
