"""Read a cluster's namespaces, pods and NetworkPolicies into an isolation ``State``.

Lists are cluster-wide and paged. When the reader may not list a kind cluster-wide (403),
it is read namespace by namespace; a namespace it may not read is recorded as unreadable,
with the API's answer, and makes the result INCOMPLETE, never PASS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform.cluster.client import Clients
from npconform.gatekeeper.coverage import Progress, pages
from npconform.model.isolation import State
from npconform.model.netpol import ContainerPort, PodModel


class IsolationUndetermined(AssertionError):
    """Isolation could not be determined for some namespaces (a read the verifier may not
    make): no verdict."""


def _raw(call: Callable[..., Any]) -> Callable[..., Any]:
    """A list call that returns the API's JSON as a dict (fast for tens of thousands of
    pods: no model objects)."""

    def fetch(**kw: Any) -> dict[str, Any]:
        resp = call(_preload_content=False, **kw)
        return dict(json.loads(resp.data))

    return fetch


def _why(e: ApiException) -> str:
    return f"{e.status} {e.reason}".strip()


def _pod(doc: dict[str, Any]) -> tuple[PodModel | None, bool, bool]:
    """(the pod as the policy engine sees it, or None when it is not running with an
    address; whether it is Ready; whether it is on the host's network)."""
    meta, spec, status = doc["metadata"], doc.get("spec") or {}, doc.get("status") or {}
    if spec.get("hostNetwork"):
        return None, False, True
    if status.get("phase") != "Running" or not status.get("podIP"):
        return None, False, False
    if meta.get("deletionTimestamp"):
        return None, False, False  # terminating: on its way out, not a target
    # the app containers, and the sidecars (init containers that keep running)
    running = [
        *(spec.get("containers") or []),
        *(c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"),
    ]
    ports = tuple(
        ContainerPort(int(p["containerPort"]), p.get("protocol") or "TCP", p.get("name"))
        for c in running
        for p in c.get("ports") or []
    )
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    pod = PodModel(
        meta["namespace"], meta["name"], dict(meta.get("labels") or {}), status["podIP"], ports
    )
    return pod, ready, False


def _policy(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc["metadata"]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": doc.get("spec") or {},
    }


def read_state(
    clients: Clients,
    namespaces: Sequence[str] = (),
    namespace_selector: str = "",
    skip: Callable[[str, dict[str, str]], bool] | None = None,
    progress: Progress | None = None,
) -> State:
    """The state of the namespaces named (all when none), of those ``namespace_selector``
    selects, minus those ``skip`` refuses (by name and labels)."""
    core, net = clients.core(), clients.net()
    state = State()
    if namespace_selector:

        def listed(**kw: Any) -> Any:
            return core.list_namespace(label_selector=namespace_selector, **kw)

    else:
        listed = core.list_namespace
    try:
        every = list(pages(_raw(listed), "namespaces", progress))
    except ApiException as e:
        if e.status == 400:
            raise ValueError(f"--namespace-selector {namespace_selector!r}: {e.reason}") from None
        raise
    by_name = {n["metadata"]["name"]: dict(n["metadata"].get("labels") or {}) for n in every}
    if namespaces:
        missing = [n for n in namespaces if n not in by_name]
        if missing:
            raise LookupError("no such namespace: " + ", ".join(missing))
        by_name = {n: by_name[n] for n in namespaces}
    if skip is not None:
        by_name = {n: labels for n, labels in by_name.items() if not skip(n, labels)}
    state.namespaces = by_name
    parts = []
    if namespaces:
        parts.append("namespaces " + ", ".join(namespaces))
    if namespace_selector:
        parts.append(f"namespaces selected by {namespace_selector}")
    scope = "; ".join(parts) or "every namespace"
    state.scope = scope + (" but the runs' own" if skip is not None else "")

    def each(
        kind: str, whole: Callable[..., Any], per_ns: Callable[..., Any]
    ) -> Iterable[dict[str, Any]]:
        if not namespaces and not namespace_selector and skip is None:
            try:
                yield from pages(_raw(whole), kind, progress)
                return
            except ApiException as e:
                if e.status not in (401, 403):
                    raise
        for ns in by_name:
            try:
                yield from pages(_raw(lambda ns=ns, **kw: per_ns(ns, **kw)), kind, None)
            except ApiException as e:
                if e.status not in (401, 403, 404):
                    raise
                was = state.unreadable.get(ns)
                state.unreadable[ns] = (f"{was}; " if was else "") + f"{kind}: {_why(e)}"

    docs = [
        d
        for d in each("pods", core.list_pod_for_all_namespaces, core.list_namespaced_pod)
        if d["metadata"]["namespace"] in by_name
    ]
    for d in docs:
        pod, ready, host = _pod(d)
        if host:
            state.host_network.append(f"{d['metadata']['namespace']}/{d['metadata']['name']}")
        elif pod is not None:
            state.pods.append(pod)
            if ready:
                state.ready.add(pod.id)
    state.policies = [
        _policy(d)
        for d in each(
            "networkpolicies",
            net.list_network_policy_for_all_namespaces,
            net.list_namespaced_network_policy,
        )
        if d["metadata"]["namespace"] in by_name
    ]
    # A namespace whose pods could be read but not its policies (or the reverse) is
    # not examined at all: half of it would compute a wrong answer.
    if state.unreadable:
        bad = set(state.unreadable)
        state.pods = [p for p in state.pods if p.namespace not in bad]
        state.ready = {r for r in state.ready if r.split("/", 1)[0] not in bad}
        state.policies = [p for p in state.policies if p["metadata"]["namespace"] not in bad]
    return state
