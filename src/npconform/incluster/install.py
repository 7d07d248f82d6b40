"""``npconform install-cronjob``: the scheduled run's objects (``manifests/in-cluster``
and the verifier ClusterRole), rendered with the user's schedule, image, namespace and
arguments, and applied; ``uninstall`` removes them."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.airgap import registry
from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.cluster.options import UsageError, namespace_name
from npconform.incluster.job import FAIL_ON
from npconform.lock import Lock
from npconform.resources import MANIFESTS

DEFAULT_NAMESPACE = NAME
DEFAULT_SCHEDULE = "17 2 * * *"  # nightly, off the hour
CRONJOB = NAME
CLUSTER_BINDINGS = {"npconform-verifier": "", "npconform-verifier-modes": "-modes"}
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


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

    def validate(self, lock: Lock) -> None:
        namespace_name(self.namespace)
        words = self.schedule.split()
        if not (len(words) == 5 or (len(words) == 1 and words[0] in _MACROS)):
            raise UsageError(
                f"--schedule {self.schedule!r}: five cron fields (minute hour day month "
                f"weekday) or one of {', '.join(_MACROS)}"
            )
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"--fail-on {self.fail_on!r}: choose from {', '.join(FAIL_ON)}")
        if self.keep < 1:
            raise UsageError("--keep must be at least 1")
        if self.deadline < 60:
            raise UsageError("--deadline must be at least 60 seconds")
        if self.pvc:
            namespace_name(self.pvc)
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


def apply(clients: Clients, docs: Sequence[dict[str, Any]], timeout: float = 90) -> None:
    """Apply in order. The CronJob is a workload the require-networkpolicy constraint may
    refuse until Gatekeeper has synced its NetworkPolicy: retried for ``timeout``."""
    rest = [d for d in docs if d["kind"] != "CronJob"]
    kube.apply(clients, rest)
    deadline = time.monotonic() + timeout
    for d in (d for d in docs if d["kind"] == "CronJob"):
        while True:
            try:
                kube.apply(clients, [d])
                break
            except ApiException as e:
                if "admission webhook" not in str(e.body) or time.monotonic() > deadline:
                    raise
                time.sleep(2)


def uninstall(clients: Clients, namespace: str) -> list[str]:
    """Delete the namespace (CronJob, runs, verdict, reports) and the bindings."""
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
