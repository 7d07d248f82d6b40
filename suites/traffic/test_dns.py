"""DNS is reachable only where a policy allows it."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell, Matrix
from npconform.probe.converge import converge
from npconform.world import PodDef

from .flows import allow_dns, default_deny

pytestmark = [pytest.mark.traffic, pytest.mark.cluster]


def test_dns_only_where_allowed(make_world, clients) -> None:
    w = make_world("dns")
    w.namespace("open", exempt=False)
    w.namespace("closed", exempt=False)
    w.apply(default_deny("open"), allow_dns("open"), default_deny("closed"))
    w.add_pods(
        [PodDef("open", "client", {"app": "client"}), PodDef("closed", "client", {"app": "client"})]
    )
    dns_ip = clients.core().read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip
    probes = {}
    want = Matrix()
    for pid, allowed in (("open/client", True), ("closed/client", False)):
        p = w.dns_probe(pid, dns_ip)
        probes[p.cell] = (w.source(pid), p)
        want[p.cell] = allowed
    outcome = converge(w.engine, probes, want, deadline=30)
    assert outcome.ok, (
        f"DNS reachability wrong: expected {want.to_json()}, observed {outcome.observed.to_json()}"
    )
    assert Cell("open/client", "kube-system/kube-dns", 53, "DNS") in outcome.observed
