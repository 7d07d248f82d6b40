"""`npconform tenants` on the kind cluster: namespaces the test creates are placed in the
platform or a tenant exactly as a tenants file declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.e2e.cli import npconform

from npconform.cluster.workload import delete_namespaces, ensure_namespace
from npconform.platform.target import RunState

pytestmark = [pytest.mark.cluster, pytest.mark.check("TENANTS-TOOL")]


def test_namespaces_are_placed_as_the_file_declares(run_state: RunState, tmp_path: Path) -> None:
    clients = run_state.clients()
    p = f"{run_state.options.namespace_prefix}-ten"
    hnc = "npconform-org.tree.hnc.x-k8s.io/depth"
    spaces = {
        f"{p}-ops": {"owner": "operator"},
        f"{p}-shop-web": {"tenant": "not-this"},
        f"{p}-shop-db": {},
        f"{p}-team-dev": {hnc: "1"},
        f"{p}-blog": {"tenant": "blogging"},
        f"{p}-loose": {},
    }
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "version: 1\n"
        f"tenants:\n  namespaces: {{shop: [{p}-shop-*]}}\n  hnc: true\n  label: tenant\n"
        "platform: {labels: [owner=operator], namespaces: [kube-*]}\n"
        "intended:\n  - {from: {platform: true}, to: {tenant: '*'}, ports: [8080/TCP]}\n"
    )
    out = tmp_path / "tenants.json"
    try:
        for ns, labels in spaces.items():
            ensure_namespace(clients, ns, labels, run_state.options.run_id)
        proc = npconform(
            run_state.kubeconfig, "tenants", "--file", str(tenants), "--json", str(out)
        )
    finally:
        delete_namespaces(clients, f"kubernetes.io/metadata.name in ({','.join(spaces)})")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = {r["namespace"]: r for r in json.loads(out.read_text())["namespaces"]}
    got = {ns: (rows[ns]["kind"], rows[ns]["tenant"], rows[ns]["why"]) for ns in spaces}
    assert got == {
        f"{p}-ops": ("platform", "", "label owner=operator"),
        f"{p}-shop-web": ("tenant", "shop", f"tenants.namespaces shop: {p}-shop-*"),
        f"{p}-shop-db": ("tenant", "shop", f"tenants.namespaces shop: {p}-shop-*"),
        f"{p}-team-dev": ("tenant", "npconform-org", "HNC tree of npconform-org"),
        f"{p}-blog": ("tenant", "blogging", "label tenant=blogging"),
        f"{p}-loose": ("tenant", f"{p}-loose", "a tenant of its own"),
    }
    # the cluster's own namespaces are placed too (kind labels none owner=operator)
    assert rows["kube-system"]["why"] == "platform.namespaces kube-*"
    assert rows["default"]["why"] == "a tenant of its own"
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"{p}-shop-db "))
    assert "tenant shop" in line and "tenants.namespaces shop:" in line
