"""Policies and labels change; enforcement follows. Updating and deleting policies,
relabelling pods and namespaces, and a pod recreated with a new IP address: the policies
select by labels, never by addresses."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell, Matrix

from .flows import np

pytestmark = [pytest.mark.traffic, pytest.mark.cluster]

SERVER = "x/server"


def into_server(w, sources: list[str], allowed, ports=((8080, "TCP"), (8081, "TCP"))) -> Matrix:
    return Matrix(
        {Cell(s, SERVER, p, proto): bool(allowed(s, p)) for s in sources for p, proto in ports}
    )


@pytest.fixture
def world(make_world, request):
    from npconform.world import PodDef

    # one scenario name per test: namespaces of the previous test may still be terminating
    w = make_world("dyn-" + request.node.originalname.split("_")[1])
    w.namespace("x", {"team": "red"})
    w.namespace("y", {"team": "blue"})
    w.add_pods(
        [
            PodDef("x", "server", {"app": "server"}),
            PodDef("x", "client", {"role": "client"}),
            PodDef("y", "client", {"role": "client"}),
            PodDef("y", "other", {"role": "other"}),
        ]
    )
    return w


SOURCES = ["x/client", "y/client", "y/other"]


def server_ingress_from(name: str, namespace_selector: dict) -> dict:
    """Ingress to x/server from pods labelled role=client in the selected namespaces."""
    peer = {
        "namespaceSelector": namespace_selector,
        "podSelector": {"matchLabels": {"role": "client"}},
    }
    spec = {
        "podSelector": {"matchLabels": {"app": "server"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [peer]}],
    }
    return np("x", name, spec)


def test_policy_update_and_delete(world) -> None:
    w = world

    def only(port: int) -> dict:
        spec = {
            "podSelector": {"matchLabels": {"app": "server"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": port, "protocol": "TCP"}]}],
        }
        return np("x", "server-ingress", spec)

    w.apply(only(8080))
    w.expect("only 8080", into_server(w, SOURCES, lambda s, p: p == 8080))
    w.apply(only(8081))  # the same policy, updated
    w.expect("updated to 8081", into_server(w, SOURCES, lambda s, p: p == 8081))
    w.delete("x", "server-ingress")
    w.expect("deleted", into_server(w, SOURCES, lambda s, p: True))


def test_pod_and_namespace_relabelling(world) -> None:
    w = world
    w.apply(server_ingress_from("from-blue-clients", {"matchLabels": {"team": "blue"}}))
    w.expect("blue clients only", into_server(w, SOURCES, lambda s, p: s == "y/client"))
    w.relabel_pod("y/other", {"role": "client"})
    w.expect(
        "pod relabelled into the policy", into_server(w, SOURCES, lambda s, p: s.startswith("y/"))
    )
    w.relabel_pod("y/client", {"role": None})
    w.expect("pod relabelled out of it", into_server(w, SOURCES, lambda s, p: s == "y/other"))
    w.relabel_namespace("y", {"team": "red"})
    w.expect("namespace relabelled out of it", into_server(w, SOURCES, lambda s, p: False))
    w.relabel_namespace("x", {"team": "blue"})
    w.expect(
        "other namespace relabelled into it", into_server(w, SOURCES, lambda s, p: s == "x/client")
    )


def test_recreated_pod_keeps_its_verdict_not_its_address(world) -> None:
    w = world
    w.apply(server_ingress_from("from-clients", {}))
    w.expect("clients only", into_server(w, SOURCES, lambda s, p: s != "y/other"))
    new, old_ip, new_ip = w.recreate_pod("y/client")
    assert old_ip != new_ip
    sources = ["x/client", new, "y/other"]
    w.expect("client recreated with a new IP", into_server(w, sources, lambda s, p: s != "y/other"))
    newer, _, _ = w.recreate_pod(new, {"role": "visitor"})
    sources = ["x/client", newer, "y/other"]
    w.expect(
        "client recreated without the label", into_server(w, sources, lambda s, p: s == "x/client")
    )
