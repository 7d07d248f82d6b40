"""The offline smoke test: a real kind cluster with Calico and Gatekeeper works end to end."""

from __future__ import annotations

import pytest

from npconform.cluster import kube
from npconform.gatekeeper.names import NAMESPACE as GK_NS
from npconform.model.matrix import Cell, Matrix
from npconform.platform.target import RunState
from npconform.scenario.world import PodDef, World

pytestmark = [pytest.mark.smoke, pytest.mark.cluster]

PORTS = [(8080, "TCP"), (8080, "UDP")]


def both_ways(a: str, b: str, allowed: bool) -> Matrix:
    return Matrix(
        {Cell(s, d, p, proto): allowed for s, d in ((a, b), (b, a)) for p, proto in PORTS}
    )


@pytest.mark.check("SMOKE-NODES")
def test_nodes_ready(run_state: RunState) -> None:
    caps = run_state.capabilities
    if run_state.options.target == "kind":
        assert len(caps.nodes) == 1 + run_state.options.workers
    assert caps.nodes and all(n.ready for n in caps.nodes), caps.nodes


@pytest.mark.check("SMOKE-PLATFORM")
def test_calico_and_gatekeeper_ready(run_state: RunState) -> None:
    clients = run_state.clients()
    assert run_state.capabilities.cni == "calico"
    assert kube.pods_ready(
        clients, "kube-system", "k8s-app=calico-node", minimum=len(run_state.capabilities.nodes)
    )
    assert kube.pods_ready(clients, GK_NS, "control-plane=controller-manager")
    assert kube.pods_ready(clients, GK_NS, "control-plane=audit-controller")


@pytest.mark.check("SMOKE-TRAFFIC")
def test_traffic_then_default_deny_then_restored(run_state: RunState) -> None:
    clients = run_state.clients()
    w = World(run_state, clients, "smoke")
    try:
        w.namespace("s", exempt=False)
        # Admission requires a selecting policy: an allow-all lets the pods in.
        allow_all = {
            "metadata": {"name": "allow-all", "namespace": "s"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{}],
                "egress": [{}],
            },
        }
        deny_all = {
            "metadata": {"name": "default-deny", "namespace": "s"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
        w.apply(allow_all)
        w.add_pods([PodDef("s", "a", {"app": "a"}), PodDef("s", "b", {"app": "b"})])
        assert w.pod_state["s/a"].node != w.pod_state["s/b"].node, "pods must be on different nodes"

        w.expect("allow-all", both_ways("s/a", "s/b", True))

        w.delete("s", "allow-all")
        w.apply(deny_all)
        w.expect("default-deny", both_ways("s/a", "s/b", False))

        w.delete("s", "default-deny")
        w.expect("deny-deleted", both_ways("s/a", "s/b", True))
    finally:
        w.close()
