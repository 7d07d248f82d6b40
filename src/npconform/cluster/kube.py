"""Applying manifests and waiting for readiness, with diagnostics when a wait times out."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
)

from npconform.cluster.client import Clients

FIELD_MANAGER = "npconform"
T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message carries what the cluster looked like."""


def dig(obj: Any, *path: str, default: Any = None) -> Any:
    """``obj[path[0]][path[1]]...`` of an API object, where a missing key or a null on
    the way gives ``default``: the API server writes an empty list or map as null (a
    Gatekeeper constraint's ``status.byPod`` before any pod has reported)."""
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def load_documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    diagnose: Callable[[], str] | None = None,
    interval: float = 1.0,
) -> T:
    """Call ``probe`` until it returns something truthy; bounded; API errors are retried.
    Asked again after ``interval / 2``, then every ``interval``: what it waits for is seen
    at most one interval late."""
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=interval / 2, min=interval / 2, max=interval),
        retry=retry_if_result(lambda r: not r)
        | retry_if_exception_type((ApiException, urllib3.exceptions.HTTPError, OSError)),
    )
    try:
        result = retrying(probe)
        assert result is not None
        return result
    except RetryError as e:
        last = e.last_attempt
        detail = ""
        if last.failed:
            exc = last.exception()
            detail = f" (last error: {type(exc).__name__}: {str(exc)[:200]})"
        diag = diagnose() if diagnose else ""
        raise WaitTimeout(
            f"timed out after {timeout:.0f}s waiting for {what}{detail}"
            + (f"\n{diag}" if diag else "")
        ) from None


def apply(clients: Clients, docs: Iterable[dict[str, Any]], timeout: float = 120) -> None:
    """Server-side apply; CRDs first (waiting until established), then everything else."""
    dyn = DynamicClient(clients.api())
    docs = list(docs)
    crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    rest = [d for d in docs if d.get("kind") != "CustomResourceDefinition"]
    for d in crds:
        _apply_one(dyn, d)
    for d in crds:
        name = d["metadata"]["name"]
        wait_until(
            f"CRD {name} to be established", functools.partial(_established, dyn, name), timeout
        )
    if crds:
        dyn.resources.invalidate_cache()
    for d in rest:
        wait_until(
            f"the API to serve {d.get('apiVersion')} {d.get('kind')}",
            functools.partial(_apply_one, dyn, d, missing_ok=True),
            timeout,
        )


def apply_once(dyn: DynamicClient, doc: dict[str, Any]) -> None:
    """Server-side apply of one object, no retry: the API server's refusal is raised."""
    _apply_one(dyn, doc)


def _established(dyn: DynamicClient, name: str) -> bool:
    crd = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    obj = crd.get(name=name).to_dict()
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in dig(obj, "status", "conditions", default=[])
    )


def _apply_one(dyn: DynamicClient, doc: dict[str, Any], missing_ok: bool = False) -> bool:
    try:
        res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    except ResourceNotFoundError:
        if missing_ok:
            dyn.resources.invalidate_cache()
            return False
        raise
    ns = doc["metadata"].get("namespace") if res.namespaced else None
    if res.namespaced and not ns:
        ns = "default"
    dyn.server_side_apply(
        res,
        body=doc,
        name=doc["metadata"]["name"],
        namespace=ns,
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
    )
    return True


def delete_documents(clients: Clients, docs: Iterable[dict[str, Any]]) -> None:
    dyn = DynamicClient(clients.api())
    for d in reversed(list(docs)):
        try:
            res = dyn.resources.get(api_version=d["apiVersion"], kind=d["kind"])
            ns = d["metadata"].get("namespace") if res.namespaced else None
            res.delete(name=d["metadata"]["name"], namespace=ns)
        except (ResourceNotFoundError, ApiException) as e:
            if isinstance(e, ApiException) and e.status != 404:
                raise


# ---------------------------------------------------------------------------------------
# Readiness
# ---------------------------------------------------------------------------------------


def pods_ready(clients: Clients, namespace: str, selector: str, minimum: int = 1) -> bool:
    pods = clients.core().list_namespaced_pod(namespace, label_selector=selector).items
    ready = [p for p in pods if _pod_ready(p)]
    return len(pods) >= minimum and len(ready) == len(pods)


def _pod_ready(pod: Any) -> bool:
    if pod.metadata.deletion_timestamp is not None:
        return False
    for c in pod.status.conditions or []:
        if c.type == "Ready":
            return bool(c.status == "True")
    return False


def diagnose_pods(clients: Clients, namespace: str, selector: str = "", tail: int = 15) -> str:
    """Pod status, recent events and container log tails: what a timeout should show."""
    core = clients.core()
    lines = []
    try:
        pods = core.list_namespaced_pod(namespace, label_selector=selector or None).items
    except ApiException as e:
        return f"(could not list pods in {namespace}: HTTP {e.status})"
    for p in pods:
        phase = p.status.phase
        node = p.spec.node_name
        lines.append(f"pod {namespace}/{p.metadata.name} on {node}: {phase}")
        for cs in p.status.container_statuses or []:
            state = cs.state
            desc = (
                "running"
                if state.running
                else (
                    f"waiting ({state.waiting.reason}: {state.waiting.message or ''})"
                    if state.waiting
                    else f"terminated ({state.terminated.reason}, "
                    f"exit {state.terminated.exit_code})"
                )
            )
            lines.append(
                f"  container {cs.name}: {desc}, restarts {cs.restart_count}, ready {cs.ready}"
            )
            if not cs.ready:
                try:
                    log = core.read_namespaced_pod_log(
                        p.metadata.name, namespace, container=cs.name, tail_lines=tail
                    )
                    lines += [f"    | {ln}" for ln in str(log).splitlines()[-tail:]]
                except ApiException:
                    pass
    try:
        events = core.list_namespaced_event(namespace).items
        events.sort(key=lambda ev: str(ev.last_timestamp or ev.event_time or ""))
        for ev in events[-tail:]:
            lines.append(
                f"event {ev.type} {ev.reason} {ev.involved_object.kind}/{ev.involved_object.name}: "
                f"{(ev.message or '').strip()[:200]}"
            )
    except ApiException:
        pass
    return "\n".join(lines)


def wait_pods_ready(
    clients: Clients, namespace: str, selector: str, timeout: float, minimum: int = 1
) -> None:
    wait_until(
        f"pods {selector or '(all)'} in {namespace} to be Ready",
        lambda: pods_ready(clients, namespace, selector, minimum),
        timeout,
        diagnose=lambda: diagnose_pods(clients, namespace, selector),
    )


def elapsed(t0: float) -> float:
    return round(time.monotonic() - t0, 2)


@dataclass
class InstallReport:
    """What was installed or found, with timings (seconds)."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, action: str, t0: float, detail: str = "") -> None:
        self.steps.append(
            {"step": name, "action": action, "seconds": elapsed(t0), "detail": detail}
        )
