"""``npconform install-cronjob``: the scheduled run's objects (``manifests/in-cluster``
and the verifier ClusterRole), rendered with the user's schedule, image, namespace and
arguments, and applied; ``uninstall`` removes them."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from npconform import NAME
from npconform.airgap import registry
from npconform.cluster import kube
from npconform.cluster.client import Clients, api_message
from npconform.cluster.options import UsageError, namespace_name
from npconform.incluster.job import FAIL_ON
from npconform.lock import Lock
from npconform.resources import MANIFESTS

DEFAULT_NAMESPACE = NAME
DEFAULT_SCHEDULE = "17 2 * * *"  # nightly, off the hour
CRONJOB = NAME
CLUSTER_BINDINGS = {"npconform-verifier": "", "npconform-verifier-modes": "-modes"}
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: The five cron fields: name, lowest, highest, and the names a field may use.
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    (
        "month",
        1,
        12,
        tuple(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]),
    ),
    ("day of week", 0, 7, tuple(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])),
)
OWNED = ("app.kubernetes.io/part-of", NAME)
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
#: An image reference: [registry/]repository[:tag][@digest], no spaces.
_IMAGE = re.compile(
    r"[a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?"
)


def cron_problem(schedule: str) -> str:
    """What is wrong with a CronJob schedule ("" when nothing): five fields of numbers,
    ranges, lists, steps, * (and month and weekday names), or one macro."""
    words = schedule.split()
    if len(words) == 1 and words[0] in _MACROS:
        return ""
    if len(words) != 5:
        return (
            f"{len(words)} field(s): five cron fields (minute hour day month weekday) or one of "
            + ", ".join(_MACROS)
        )
    for word, (name, low, high, names) in zip(words, _FIELDS, strict=True):
        for item in word.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"{name} {word!r}: the step after / must be a positive number"
            if base == "*" or (base == "?" and name.startswith("day")):
                continue
            for end in base.split("-", 1):
                value = end.lower()
                if value in names:
                    continue
                if not value.isdigit() or not low <= int(value) <= high:
                    return f"{name} {word!r}: {end!r} is not in {low}-{high}"
    return ""


@dataclass
class Install:
    namespace: str = DEFAULT_NAMESPACE
    schedule: str = DEFAULT_SCHEDULE
    image: str = ""  # "" : the lock's npconform image, served by the local registry mirror
    modes: bool = False  # may switch the constraint's mode (ADM-MODES)
    fail_on: str = "fail"
    keep: int = 7
    pvc: str = ""  # the reports volume: this claim instead of an emptyDir
    deadline: int = 3600  # activeDeadlineSeconds of each run
    pytest_args: list[str] = field(default_factory=list)
    #: KEY=VALUE labels of the namespace: the platform rule's (Welkin: owner=operator)
    namespace_labels: list[str] = field(default_factory=list)

    def validate(self, lock: Lock) -> None:
        namespace_name(self.namespace)
        problem = cron_problem(self.schedule)
        if problem:
            raise UsageError(f"--schedule {self.schedule!r}: {problem}")
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"--fail-on {self.fail_on!r}: choose from {', '.join(FAIL_ON)}")
        if self.keep < 1:
            raise UsageError("--keep must be at least 1")
        if self.deadline < 60:
            raise UsageError("--deadline must be at least 60 seconds")
        if self.pvc:
            namespace_name(self.pvc)
        for kv in self.namespace_labels:
            key, eq, value = kv.partition("=")
            if not eq or not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
                raise UsageError(f"--namespace-label {kv!r}: KEY=VALUE, a valid label")
        if self.image and not _IMAGE.fullmatch(self.image):
            raise UsageError(f"--image {self.image!r} is not an image reference")
        if not self.image:
            self.image = lock.image("npconform")

    def bindings(self) -> list[str]:
        return [r for r in CLUSTER_BINDINGS if self.modes or not CLUSTER_BINDINGS[r]]

    def job_args(self) -> list[str]:
        extra = (["--allow-cluster-changes"] if self.modes else []) + list(self.pytest_args)
        return ["--fail-on", self.fail_on, "--keep", str(self.keep), "--", *extra]


def _load(name: str) -> list[dict[str, Any]]:
    return kube.load_documents((MANIFESTS / "in-cluster" / name).read_text())


def render(inst: Install) -> list[dict[str, Any]]:
    """Every object install-cronjob applies, in order."""
    roles = [
        d
        for d in kube.load_documents((MANIFESTS / "rbac" / "npconform-verifier.yaml").read_text())
        if d["metadata"]["name"] in inst.bindings()
    ]
    docs = [
        *_load("namespace.yaml"),
        *_load("rbac.yaml"),
        *_load("networkpolicy.yaml"),
        *_load("cronjob.yaml"),
    ]
    out: list[dict[str, Any]] = []
    for d in docs:
        d = copy.deepcopy(d)
        kind = d["kind"]
        if kind == "Namespace":
            d["metadata"]["name"] = inst.namespace
            for kv in inst.namespace_labels:
                key, _, value = kv.partition("=")
                d["metadata"]["labels"][key] = value
        elif "namespace" in d["metadata"]:
            d["metadata"]["namespace"] = inst.namespace
        if kind == "ClusterRoleBinding":
            base = d
            for role in inst.bindings():
                b = copy.deepcopy(base)
                b["metadata"]["name"] = binding_name(inst.namespace, role)
                b["roleRef"]["name"] = role
                b["subjects"][0]["namespace"] = inst.namespace
                out.append(b)
            continue
        if kind == "CronJob":
            d["spec"]["schedule"] = inst.schedule
            job = d["spec"]["jobTemplate"]["spec"]
            job["activeDeadlineSeconds"] = inst.deadline
            pod = job["template"]["spec"]
            (c,) = pod["containers"]
            c["image"] = inst.image
            c["args"] = inst.job_args()
            if inst.pvc:
                for v in pod["volumes"]:
                    if v["name"] == "reports":
                        v.pop("emptyDir", None)
                        v["persistentVolumeClaim"] = {"claimName": inst.pvc}
        out.append(d)
    return [*roles, *out]


def binding_name(namespace: str, role: str) -> str:
    return f"{NAME}-in-cluster-{namespace}{CLUSTER_BINDINGS[role]}"


def to_yaml(docs: Sequence[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def check_image(inst: Install, lock: Lock) -> None:
    """The default image must be in the local registry mirror before anything is created
    (a cluster pulling from the mirror would otherwise sit in ImagePullBackOff)."""
    if inst.image != lock.image("npconform"):
        return  # the user's own registry: the cluster pulls it, the tool cannot tell
    if registry.remote_digest(inst.image) is None:
        raise UsageError(
            f"image {inst.image} is not in the local registry mirror "
            f"(127.0.0.1:{registry.HOST_PORT}): build it with scripts/build-images, "
            "or give --image"
        )


def check_namespace(clients: Clients, namespace: str) -> None:
    """An existing namespace must be npconform's own (label app.kubernetes.io/part-of):
    installing into, and later deleting, somebody else's namespace is refused."""
    try:
        ns = clients.core().read_namespace(namespace)
    except ApiException as e:
        if e.status == 404:
            return
        raise
    labels = ns.metadata.labels or {}
    if labels.get(OWNED[0]) != OWNED[1]:
        raise UsageError(
            f"namespace {namespace} exists and is not npconform's (no label "
            f"{OWNED[0]}={OWNED[1]}): choose another --namespace"
        )


def _exists(dyn: DynamicClient, doc: dict[str, Any]) -> bool:
    res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    try:
        res.get(name=doc["metadata"]["name"], namespace=doc["metadata"].get("namespace"))
    except NotFoundError:
        return False
    return True


def apply(clients: Clients, docs: Sequence[dict[str, Any]], timeout: float = 90) -> None:
    """Apply in order; on any failure delete what this call created (objects that existed
    before stay). The CronJob is a workload the require-networkpolicy constraint may
    refuse until Gatekeeper has synced its NetworkPolicy: retried for ``timeout``."""
    dyn = DynamicClient(clients.api())
    created: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        for d in docs:
            new = not _exists(dyn, d)
            while True:
                try:
                    kube.apply_once(dyn, d)
                    break
                except ApiException as e:
                    webhook = "admission webhook" in str(e.body)
                    if d["kind"] == "CronJob" and webhook and time.monotonic() < deadline:
                        time.sleep(2)
                        continue
                    md = d["metadata"]
                    where = f"{md['namespace']}/" if md.get("namespace") else ""
                    waited = f" for {timeout:.0f}s" if webhook else ""
                    raise UsageError(
                        f"the API server refused {d['kind']} {where}{md['name']}{waited} "
                        f"(HTTP {e.status}): {api_message(e)}; what this command created is deleted"
                    ) from None
            if new:
                created.append(d)
    except BaseException:
        kube.delete_documents(clients, created)
        raise


def uninstall(clients: Clients, namespace: str) -> list[str]:
    """Delete the namespace (CronJob, runs, verdict, reports) and the bindings; a
    namespace that is not npconform's is refused."""
    check_namespace(clients, namespace)
    gone = []
    rbac = clients.rbac()
    for role in CLUSTER_BINDINGS:
        name = binding_name(namespace, role)
        try:
            rbac.delete_cluster_role_binding(name)
            gone.append(f"ClusterRoleBinding {name}")
        except ApiException as e:
            if e.status != 404:
                raise
    try:
        clients.core().delete_namespace(namespace)
        gone.append(f"Namespace {namespace}")
    except ApiException as e:
        if e.status != 404:
            raise
    return gone
