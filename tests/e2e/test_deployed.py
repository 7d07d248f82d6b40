"""`npconform deployed` on a real cluster: a multi-tenant workload (the Welkin demo chart's
open policy in tenant a, a correctly segregated tenant c, one unintended hole from c into
b, a platform ingress namespace) is computed, planned, and proven on live traffic from
twin pods; nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.e2e.cli import ROOT, npconform

from npconform.cluster.workload import RUN_LABEL
from npconform.platform.target import RunState
from npconform.scenario.world import PodDef, World

pytestmark = [pytest.mark.cluster, pytest.mark.check("DEPLOYED-VERIFY")]

TENANTS = """
version: 1
tenants: {label: tenant}
platform: {labels: [role=platform]}
intended:
  - description: the ingress controller to each tenant's web port
    from: {platform: true, pods: {app: ctl}}
    to: {tenant: "*", pods: {app: web}}
    ports: [8080/TCP]
"""


def policy(ns: str, name: str, spec: dict) -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def own_namespace() -> dict:
    return {"from": [{"podSelector": {}}]}


def tenant(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"tenant": name}}}


# The user demo chart with its default values: ingress on the http port from every
# namespace, egress to port 53 anywhere.
DEMO = {
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "demo"}},
    "policyTypes": ["Ingress", "Egress"],
    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080}]}],
    "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}],
}
HOLE = {"from": [tenant("c")], "ports": [{"port": 8081}]}


def web_policy(w: World, hole: bool) -> dict:
    ingress = [
        own_namespace(),
        {
            "from": [{"namespaceSelector": {"matchLabels": {"role": "platform"}}}],
            "ports": [{"port": 8080}],
        },
    ]
    return policy("b", "web", {"podSelector": {}, "ingress": ingress + ([HOLE] if hole else [])})


def deploy(w: World) -> dict[str, str]:
    ns = {
        "ingress": w.namespace("ingress", {"role": "platform"}, exempt=False),
        "a-web": w.namespace("a-web", {"tenant": "a"}, exempt=False),
        "a-db": w.namespace("a-db", {"tenant": "a"}, exempt=False),
        "b": w.namespace("b", {"tenant": "b"}, exempt=False),
        "c": w.namespace("c", {"tenant": "c"}, exempt=False),
    }
    w.apply(
        policy("ingress", "own", {"podSelector": {}, "ingress": [own_namespace()]}),
        policy("a-web", "demo", DEMO),
        policy("a-db", "db", {"podSelector": {}, "ingress": [{"from": [tenant("a")]}]}),
        web_policy(w, hole=True),
        policy("c", "api", {"podSelector": {}, "ingress": [own_namespace()]}),
    )
    w.add_pods(
        [
            PodDef("ingress", "ctl", {"app": "ctl"}),
            PodDef("a-web", "demo", {"app.kubernetes.io/name": "demo"}, ports=(8080,)),
            PodDef("a-db", "db", {"app": "db"}),
            PodDef("b", "web", {"app": "web"}),
            PodDef("c", "api", {"app": "api"}),
        ]
    )
    return ns


def twins_left(clients, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    core = clients.core()
    pods = core.list_pod_for_all_namespaces(label_selector=f"{RUN_LABEL}={run_id}").items
    anchors = core.list_config_map_for_all_namespaces(
        label_selector="npconform.io/role=twin-anchor"
    ).items
    names = [p.metadata.name for p in pods if "-twin-" in p.metadata.name]
    all_twins = [
        p.metadata.name
        for p in core.list_pod_for_all_namespaces().items
        if p.metadata.name.startswith("npconform-twin-")
    ]
    return names + all_twins + [a.metadata.name for a in anchors]


def workload(run_state: RunState, tmp_path: Path) -> tuple[World, list[str]]:
    """The test's world (not deployed yet) and the command's arguments that scope it to
    this test's namespaces (other tests share the run label) with its tenants file."""
    run_id = run_state.options.run_id
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(TENANTS)
    only_mine = f"npconform.io/scenario=deployed,{RUN_LABEL}={run_id}"
    w = World(run_state, run_state.clients(), "deployed")
    return w, ["--tenants", str(tenants), "--namespace-selector", only_mine]


def test_deployed_isolation_computed_planned_and_verified(
    run_state: RunState, tmp_path: Path
) -> None:
    clients = run_state.clients()
    run_id = run_state.options.run_id
    w, scope = workload(run_state, tmp_path)
    try:
        ns = deploy(w)

        # 1. computed: exactly the open policy and the hole
        out_json = tmp_path / "iso.json"
        proc = npconform(clients.kubeconfig, "deployed", *scope, "--json", str(out_json))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out
        doc = json.loads(out_json.read_text())
        found = sorted(
            (f["severity"], f["kind"], f["subject"], f["openedBy"][0])
            for f in doc["findings"]
            if f["severity"] in ("FAIL", "WARN")
        )
        a_web, b = ns["a-web"], ns["b"]
        assert [(s, k, o) for s, k, _, o in found] == [
            ("FAIL", "cross-tenant", f"{a_web}/demo ingress[0]"),
            ("FAIL", "cross-tenant", f"{b}/web ingress[2]"),
            ("WARN", "admitted-but-open", f"{a_web}/demo egress[0]"),
            ("WARN", "admitted-but-open", f"{a_web}/demo ingress[0]"),
        ], out
        hole = next(f for f in doc["findings"] if f["subject"].startswith(f"{b}/web"))
        assert "on 8081/TCP from tenant(s) c " in hole["message"], out

        # 2. --plan sends nothing and creates nothing
        proc = npconform(clients.kubeconfig, "deployed", *scope, "--plan")
        out = proc.stdout + proc.stderr
        assert "plan: 5 twin pod(s), 45 TCP probe(s)" in out, out
        assert "nothing is sent" in out and "create Pod" in out, out
        assert not twins_left(clients, run_id), out

        # 3. --verify agrees cell by cell, and leaves nothing behind
        t0 = time.monotonic()
        proc = npconform(
            clients.kubeconfig, "deployed", *scope, "--verify", "--json", str(out_json)
        )
        out = proc.stdout + proc.stderr
        took = time.monotonic() - t0
        ver = json.loads(out_json.read_text())["verification"]
        assert ver["verdict"] == "PASS", out
        assert "AGREE: live traffic matches the computed isolation, cell by cell" in out, out
        assert len(ver["cells"]) == 45 and not ver["unconfirmed"] and not ver["errors"], out
        assert proc.returncode == 1, out  # the isolation itself fails: the hole and the demo
        assert not twins_left(clients, run_id), out
        print(f"verify: 45 probes in {took:.1f} s\n{out}")

        # 4. Ctrl-C during --verify leaves nothing behind either
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "npconform.cli",
                "--kubeconfig",
                str(clients.kubeconfig),
                "deployed",
                *scope,
                "--verify",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert p.stdout is not None
        for line in p.stdout:
            if line.startswith("created "):
                break
        p.send_signal(signal.SIGINT)
        rest = p.communicate(timeout=120)[0]
        assert p.returncode != 0, rest
        assert not twins_left(clients, run_id), rest

        # 5. the hole closed and the demo's policy segregated: PASS
        w.apply(
            web_policy(w, hole=False),
            policy(
                "a-web",
                "demo",
                {
                    **DEMO,
                    "ingress": [{"from": [tenant("a")], "ports": [{"port": 8080}]}],
                    "egress": [{"to": [tenant("a")], "ports": DEMO["egress"][0]["ports"]}],
                },
            ),
        )
        proc = npconform(clients.kubeconfig, "deployed", *scope)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "isolation: PASS (0 FAIL, 0 WARN" in out, out
    finally:
        w.close()
