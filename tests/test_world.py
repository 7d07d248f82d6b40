"""Scenario worlds translate logical names to the run's namespaces and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from npconform.cluster.client import Clients
from npconform.cluster.options import RunOptions
from npconform.model.matrix import Cell, Matrix
from npconform.platform.capabilities import Capabilities
from npconform.platform.target import RunState
from npconform.scenario.world import ROLE_LABEL, TWIN, PodDef, World


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


def twin_world(monkeypatch: pytest.MonkeyPatch) -> World:
    """A world of namespace x (pods a, b) that records policies instead of applying them."""
    from npconform.cluster import workload
    from npconform.cluster.workload import PodState
    from npconform.scenario import objects

    monkeypatch.setattr(workload, "apply_policies", lambda *a, **k: None)
    monkeypatch.setattr(objects, "delete_policy", lambda *a, **k: None)
    w = world()
    w.ns_labels = {"x": {}}
    w.ns_exempt = {"x": False}
    for name in ("a", "b"):
        w.pods[f"x/{name}"] = PodDef("x", name, {"app": name})
        w.pod_state[f"x/{name}"] = PodState(f"10.0.0.{len(w.pods)}", "n1", "172.18.0.2")

    def ensure_twin() -> None:
        w.ns_labels["twin"] = {ROLE_LABEL: "twin"}
        w.ns_exempt["twin"] = False
        w.pods[TWIN] = PodDef("twin", "probe", {ROLE_LABEL: "twin"})
        w.pod_state[TWIN] = PodState("10.0.0.9", "n1", "172.18.0.2")

    monkeypatch.setattr(w, "_ensure_twin", ensure_twin)
    return w


def test_a_blocked_target_gets_a_twin_that_changes_no_other_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = twin_world(monkeypatch)
    w.apply(
        {
            "metadata": {"name": "deny-b", "namespace": "x"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "b"}},
                "policyTypes": ["Ingress"],
            },
        }
    )
    want = Matrix({Cell("x/a", "x/b", 8080): False, Cell("x/b", "x/a", 8080): True})
    full, twins = w._with_twins(want)
    assert twins == [Cell(TWIN, "x/b", 8080)]
    twin_pol = w.policies[("x", "npconform-twin")]
    assert twin_pol["spec"]["podSelector"]["matchExpressions"][0]["values"] == ["b"]
    computed = w.computed(full.sources(), full.targets(), full.columns()).restrict(full)
    assert computed.cells == full.cells, "the twin policy changed another cell"
    # once b is no longer isolated, its twin policy goes away (it would isolate b)
    w.delete("x", "deny-b")
    _, twins = w._with_twins(Matrix({Cell("x/a", "x/b", 8080): True}))
    assert not twins and ("x", "npconform-twin") not in w.policies


def test_a_target_isolated_by_nothing_needs_no_twin_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = twin_world(monkeypatch)
    w.apply(
        {
            "metadata": {"name": "a-no-egress", "namespace": "x"},
            "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"]},
        }
    )
    _, twins = w._with_twins(Matrix({Cell("x/a", "x/b", 8080): False}))
    assert twins == [Cell(TWIN, "x/b", 8080)]
    assert ("x", "npconform-twin") not in w.policies
    assert w.computed([TWIN], ["x/b"], [(8080, "TCP")])[Cell(TWIN, "x/b", 8080)] is True


@pytest.mark.parametrize(
    ("target", "services"), [("pod", False), ("service", True), ("both", True)]
)
def test_a_service_per_pod_only_when_probes_go_through_services(
    monkeypatch: pytest.MonkeyPatch, target: str, services: bool
) -> None:
    """Probing pod addresses needs no Service: none is created, none is looked up."""
    from npconform.cluster.workload import PodState
    from npconform.scenario import objects

    made: list[bool] = []
    looked_up: list[int] = []
    monkeypatch.setattr(
        objects, "create_pods", lambda clients, plans, image, run_id, svc=True: made.append(svc)
    )
    monkeypatch.setattr(
        objects,
        "wait_pods",
        lambda clients, plans: {p.id: PodState("10.0.0.1", "n1", "172.18.0.2") for p in plans},
    )

    def service_ips(clients: Any, plans: Any) -> dict[str, str]:
        looked_up.append(len(plans))
        return {p.id: "10.96.0.1" for p in plans}

    monkeypatch.setattr(objects, "service_ips", service_ips)
    w = world()
    w.state.options.probe_target = target
    w.add_pods([PodDef("x", "a", {"pod": "a"})])
    assert made == [services]
    assert bool(looked_up) is services
    assert ("x/a" in w.svc_ip) is services


def test_a_policy_that_failed_to_apply_is_still_deleted_with_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call that fails part-way may have left policies on the cluster: the world knows
    them all, and ``delete_all_policies`` removes them."""
    from npconform.cluster import workload
    from npconform.scenario import objects

    def fail(*a: Any, **k: Any) -> None:
        raise RuntimeError("the API server went away after the first policy")

    deleted: list[tuple[str, str]] = []
    monkeypatch.setattr(workload, "apply_policies", fail)
    monkeypatch.setattr(objects, "delete_policy", lambda c, ns, name: deleted.append((ns, name)))
    w = world()
    pols = [{"metadata": {"name": n, "namespace": "x"}, "spec": {}} for n in ("p", "q")]
    with pytest.raises(RuntimeError):
        w.apply(*pols)
    w.delete_all_policies()
    assert deleted == [(w.real_ns("x"), "p"), (w.real_ns("x"), "q")]
    assert w.policies == {}


def _stepped(w: World, expected: Matrix) -> None:
    from types import SimpleNamespace

    w.results.append(SimpleNamespace(outcome=SimpleNamespace(expected=expected)))  # type: ignore[arg-type]


def test_clearing_waits_for_the_blocked_cells_of_the_steps_since_the_last_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from npconform.model.matrix import Readings
    from npconform.probe.converge import Outcome
    from npconform.scenario import world as world_mod

    w = world()
    w.pods = {p.id: p for p in (PodDef("x", "a"), PodDef("y", "b"))}
    a_b, b_a = Cell("x/a", "y/b", 8080, "TCP"), Cell("y/b", "x/a", 8080, "TCP")
    twin = Cell(TWIN, "x/a", 8080, "TCP")
    _stepped(w, Matrix({a_b: False, b_a: True, twin: True}))
    asked: list[Matrix] = []

    def converge(engine, probes, expected, deadline, confirm, blocking):  # type: ignore[no-untyped-def]
        asked.append(expected)
        assert confirm is False and set(probes) == set(expected)
        return Outcome(expected, Readings(dict.fromkeys(expected, "connected")), 0.1, 1)

    monkeypatch.setattr(world_mod, "converge", converge)
    monkeypatch.setattr(w, "probes_for", lambda m: dict.fromkeys(m))
    w.policies[("x", "deny")] = {"metadata": {"namespace": "x", "name": "deny"}}
    deleted: list[tuple[str, str]] = []
    monkeypatch.setattr(
        w, "delete", lambda ns, name: (deleted.append((ns, name)), w.policies.pop((ns, name)))
    )
    w.clear_policies()
    w.clear_policies()  # no step since: nothing to see
    assert deleted == [("x", "deny")] and not w.policies
    assert [dict(m.items()) for m in asked] == [{a_b: True}]


def test_a_cell_still_blocked_after_every_policy_is_deleted_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from npconform.model.matrix import Readings
    from npconform.probe.converge import Outcome
    from npconform.scenario import world as world_mod

    w = world()
    w.pods = {p.id: p for p in (PodDef("x", "a"), PodDef("y", "b"))}
    a_b = Cell("x/a", "y/b", 8080, "TCP")
    _stepped(w, Matrix({a_b: False}))
    monkeypatch.setattr(
        world_mod,
        "converge",
        lambda engine, probes, expected, **kw: Outcome(expected, Readings({a_b: "timeout"}), 30, 9),
    )
    monkeypatch.setattr(w, "probes_for", lambda m: dict.fromkeys(m))
    with pytest.raises(RuntimeError, match=r"1 cell\(s\) still timeout 30s after every policy"):
        w.clear_policies()
