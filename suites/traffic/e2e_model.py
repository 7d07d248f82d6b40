"""The e2e model, one world per pytest worker shared by the semantics cases, the
generated cases and the SCTP check: namespaces x, y, z (label ns=<name>) with pods a, b, c (label
pod=<name>), each serving two ports over TCP and UDP, the twin, and on kind two hosts
outside the cluster (ext/one, ext/two).

Two more labels give the generated cases a richer vocabulary: team=red on x and
team=blue on y, app=web on the a pods and app=db on the b pods. No semantics case
selects on them (its expectations are checked against the engine on the real labels at
every step)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from npconform.cluster.client import Clients
from npconform.platform.target import RunState
from npconform.scenario import externals
from npconform.scenario.world import PodDef, World

# Under xdist the semantics cases are split over GROUPS groups, and each worker that runs
# one builds its own model. The generated cases join one of them, the SCTP check another,
# and use its model.
GROUPS = 2


def group_name(i: int) -> str:
    return f"semantics-{i % GROUPS}"


GENERATED_GROUP = group_name(1)

SHIFT = 8000
PORTS = (80 + SHIFT, 81 + SHIFT)
NAMESPACES = {
    "x": {"ns": "x", "team": "red"},
    "y": {"ns": "y", "team": "blue"},
    "z": {"ns": "z"},
}
APPS = {"a": "web", "b": "db"}


def pod_labels(name: str) -> dict[str, str]:
    labels = {"pod": name}
    if name in APPS:
        labels["app"] = APPS[name]
    return labels


PODS = [PodDef(ns, pod, pod_labels(pod), PORTS) for ns in NAMESPACES for pod in ("a", "b", "c")]


def build(run_state: RunState, clients: Clients, worker: str) -> Iterator[World]:
    """The world, its hosts outside the cluster started while its pods start; removed
    when the generator is closed."""
    w = World(run_state, clients, "semantics", worker)
    hosts: list[externals.ExternalHost] = []
    starting: list[Future[externals.ExternalHost]] = []
    pool = ThreadPoolExecutor(2)
    try:
        if run_state.options.target == "kind":
            starting = [
                pool.submit(externals.start, run_state.options.run_id, worker, n, w.image, PORTS)
                for n in ("one", "two")
            ]
        for ns, labels in NAMESPACES.items():
            w.namespace(ns, labels)
        w.add_pods(PODS, twin=True)
        for f in starting:
            hosts.append(f.result())
            w.add_external(hosts[-1])
        yield w
    finally:
        pool.shutdown()
        hosts += [f.result() for f in starting if not f.exception() and f.result() not in hosts]
        externals.stop(hosts)
        w.close()
