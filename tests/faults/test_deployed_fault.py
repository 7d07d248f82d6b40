"""`npconform deployed --verify` fails when the CNI enforces something the NetworkPolicies
do not say: a Calico GlobalNetworkPolicy of order 0 that drops one allowed flow makes live
traffic disagree with the computation, cell by cell, with the command that repeats the
probe; removing it makes them agree again."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from tests.e2e.cli import npconform
from tests.e2e.test_deployed import deploy, twins_left, workload

from npconform.cluster.workload import RUN_LABEL
from npconform.platform.target import RunState

from .inject import _create_gnp, _delete_gnp, _gnp

pytestmark = [pytest.mark.faults, pytest.mark.cluster]


def drop_api_8080(run_id: str) -> dict:
    return _gnp(
        "npconform-fault-drop-api-8080",
        {
            "order": 0,
            "selector": f"app == 'api' && {RUN_LABEL} == '{run_id}'",
            "types": ["Ingress"],
            "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [8080]}}],
        },
    )


def test_verify_disagrees_with_a_cni_policy_the_computation_cannot_see(
    run_state: RunState, tmp_path: Path, record_evidence
) -> None:
    clients = run_state.clients()
    run_id = run_state.options.run_id
    w, scope = workload(run_state, tmp_path)
    gnp = drop_api_8080(run_id)
    out_json = tmp_path / "iso.json"
    try:
        ns = deploy(w)
        api = f"{ns['c']}/api"
        _create_gnp(gnp)(clients)
        try:
            proc = npconform(
                clients.kubeconfig, "deployed", *scope, "--verify", "--json", str(out_json)
            )
            broken = proc.stdout + proc.stderr
            # the one-line command printed for the cell repeats exactly that probe
            line = next(ln for ln in broken.splitlines() if ln.strip().startswith("repeat: "))
            argv = shlex.split(line.strip().removeprefix("repeat: "))
            assert argv[:2] == ["npconform", "deployed"], line
            again = npconform(clients.kubeconfig, *argv[1:])
            repeated = again.stdout + again.stderr
        finally:
            _delete_gnp(gnp["metadata"]["name"])(clients)
        ver = json.loads(out_json.read_text())["verification"]
        record_evidence(
            "fault",
            {
                "fault": "CNI policy the NetworkPolicies do not show",
                "what": "a Calico GlobalNetworkPolicy of order 0 dropping TCP 8080 to c/api",
                "caught": ver["verdict"] == "FAIL",
                "exit": proc.returncode,
                "disagree": ver["disagree"],
            },
        )
        assert proc.returncode == 1, broken
        assert ver["verdict"] == "FAIL", broken
        # exactly the cell the GlobalNetworkPolicy drops: c's own twin to c/api on 8080
        assert ver["disagree"] == [f"{api} -> {api}:8080/TCP"], broken
        assert f"DISAGREE {api} -> {api}:8080/TCP: expected allowed, observed timeout" in broken
        assert f"--verify --only '{api}>{api}:8080'" in broken, broken
        assert not twins_left(clients, run_id), broken
        assert again.returncode == 1, repeated
        assert "1 probe(s), 1 expected allowed, 0 expected blocked" in repeated, repeated
        assert f"DISAGREE {api} -> {api}:8080/TCP" in repeated, repeated
        assert not twins_left(clients, run_id), repeated

        proc = npconform(
            clients.kubeconfig, "deployed", *scope, "--verify", "--json", str(out_json)
        )
        repaired = proc.stdout + proc.stderr
        assert json.loads(out_json.read_text())["verification"]["verdict"] == "PASS", repaired
        assert "AGREE: live traffic matches" in repaired, repaired
    finally:
        w.close()
