"""Scenario worlds translate logical names to the run's namespaces and back."""

from __future__ import annotations

from pathlib import Path

from npconform.cluster.client import Clients
from npconform.cluster.options import RunOptions
from npconform.platform.capabilities import Capabilities
from npconform.session import RunState
from npconform.world import World


def world() -> World:
    state = RunState(
        RunOptions(run_id="abc123"),
        Path("/nonexistent"),
        Capabilities(exemption_label=("owner", "operator")),
    )
    w = World(state, Clients(Path("/nonexistent")), "sem", "gw0")
    w.ns_labels = {"x": {"ns": "x"}, "y": {"ns": "y"}}
    w.ns_exempt = {"x": True, "y": False}
    return w


def test_policies_are_translated_to_the_runs_namespaces() -> None:
    w = world()
    pol = {
        "metadata": {"name": "p", "namespace": "x"},
        "spec": {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "y"}
                            }
                        },
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/metadata.name",
                                        "operator": "In",
                                        "values": ["x", "kube-system"],
                                    }
                                ]
                            }
                        },
                    ]
                }
            ],
        },
    }
    real = w._to_real(pol)
    assert real["metadata"]["namespace"] == "npconform-abc123-gw0-sem-x"
    peers = real["spec"]["ingress"][0]["from"]
    assert (
        peers[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        == "npconform-abc123-gw0-sem-y"
    )
    assert peers[1]["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "npconform-abc123-gw0-sem-x",
        "kube-system",
    ]
    assert pol["metadata"]["namespace"] == "x", "the logical policy is left alone"


def test_real_ids_and_exemption() -> None:
    w = world()
    assert w.real_id("y/a") == "npconform-abc123-gw0-sem-y/a"
    assert w.real_id("ext/one") == "ext/one"
    assert w.exemption == {"owner": "operator"}
    eng = w.oracle()
    assert eng.namespace_labels("x")["owner"] == "operator"
    assert "owner" not in eng.namespace_labels("y")
