"""`npconform deployed --verify` on a real cluster: an application deployed with its own
policies, read back, computed, and probed from a short-lived pod of another namespace."""

from __future__ import annotations

import pytest
from tests.e2e.cli import npconform

from npconform.cluster.workload import RUN_LABEL
from npconform.platform.target import RunState
from npconform.scenario.world import PodDef, World

pytestmark = [pytest.mark.cluster, pytest.mark.check("DEPLOYED-VERIFY")]


def policy(name: str, spec: dict) -> dict:
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def test_deployed_verify_agrees_with_the_policies(run_state: RunState) -> None:
    clients = run_state.clients()
    w = World(run_state, clients, "deployed")
    try:
        ns = w.namespace("shop", exempt=False)
        w.apply(
            policy("default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
            policy(
                "web-from-anywhere",
                {
                    "podSelector": {"matchLabels": {"app": "web"}},
                    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080}]}],
                },
            ),
            policy(
                "db-from-web",
                {
                    "podSelector": {"matchLabels": {"app": "db"}},
                    "ingress": [
                        {
                            "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                            "ports": [{"port": 8081}],
                        }
                    ],
                },
            ),
        )
        w.add_pods([PodDef("shop", "web", {"app": "web"}), PodDef("shop", "db", {"app": "db"})])

        proc = npconform(clients.kubeconfig, "deployed", ns, "--verify", "--probe-image", w.image)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        # From another namespace only web:8080 is open; the database is closed to it.
        assert "AGREE" in out, out
        assert (
            "verified on live traffic" in out and "1 expected allowed, 3 expected blocked" in out
        ), out
        # The probe namespace is gone: nothing of the verification is left behind.
        left = clients.core().list_namespace(label_selector=RUN_LABEL).items
        assert not [n.metadata.name for n in left if n.metadata.name.endswith("-deployed-probe")]
    finally:
        w.close()
