"""DNS is reachable only where a policy allows it: probed like every other cell, with the
cluster's DNS service as the target and its pods' labels in the engine's model."""

from __future__ import annotations

import pytest

from npconform.model.matrix import Cell, Matrix
from npconform.model.netpol import ContainerPort
from npconform.probe.script import DNS
from npconform.scenario.world import PodDef

from .flows import allow_dns, default_deny

pytestmark = [pytest.mark.traffic, pytest.mark.cluster, pytest.mark.check("NET-DNS")]

KUBE_DNS = "kube-system/kube-dns"


def test_dns_only_where_allowed(make_world, clients) -> None:
    w = make_world("dns")
    w.namespace("open", exempt=False)
    w.namespace("closed", exempt=False)
    w.apply(default_deny("open"), allow_dns("open"), default_deny("closed"))
    w.add_pods(
        [PodDef("open", "client", {"app": "client"}), PodDef("closed", "client", {"app": "client"})]
    )
    svc = clients.core().read_namespaced_service("kube-dns", "kube-system")
    w.add_service(
        KUBE_DNS,
        svc.spec.cluster_ip,
        dict(svc.spec.selector or {}),
        [ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp")],
    )
    w.expect(
        "DNS from a namespace that allows it, and from one that does not",
        Matrix(
            {
                Cell("open/client", KUBE_DNS, 53, DNS): True,
                Cell("closed/client", KUBE_DNS, 53, DNS): False,
            }
        ),
    )
