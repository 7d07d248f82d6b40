"""The batched probe script, its parsing, and source port allocation (no cluster)."""

from __future__ import annotations

import re

import pytest

from npconform.model.matrix import Cell
from npconform.probe.engine import (
    SPORT_HIGH,
    SPORT_LOW,
    UDP,
    Probe,
    ProbeEngine,
    ProbeError,
    Source,
    batch_script,
    parse_output,
    probe_command,
)


def probes(n: int, proto: str = "TCP") -> list[Probe]:
    return [
        Probe(Cell("a/x", f"b/y{i}", 8080, proto), f"192.168.0.{i + 1}", 8080, proto)
        for i in range(n)
    ]


def test_one_background_job_per_probe_and_a_final_wait() -> None:
    script = batch_script(probes(3) + probes(2, "UDP"), 1.0)
    lines = script.splitlines()
    assert sum(1 for ln in lines if ln.endswith("} &")) == 5
    assert "wait" in lines
    assert "nc -z -w 1 192.168.0.1 8080" in script
    # UDP: two datagrams, 0.3 s apart, then up to 2x the timeout for the answer
    assert re.search(
        r"\{ printf npconform; sleep 0\.3; printf npconform; \} 2>/dev/null \| "
        r"nc -u -W 1 -w 2 .*192\.168\.0\.1 8080 >",
        script,
    )


def test_parse_output_maps_indices_to_cells() -> None:
    ps = probes(3)
    out = "junk\nNPC 2 0\nNPC 0 1\nNPC 1 1\nNPC-END\n"
    obs = parse_output(ps, out)
    assert [obs[p.cell].allowed for p in ps] == [True, True, False]


def test_a_missing_verdict_is_an_error_not_a_verdict() -> None:
    with pytest.raises(ProbeError, match="printed no verdict"):
        parse_output(probes(2), "NPC 0 1\nNPC-END\n")
    with pytest.raises(ProbeError, match="did not finish"):
        parse_output(probes(1), "NPC 0 1\n")


def test_udp_source_ports_are_unique_and_stay_in_range() -> None:
    eng = ProbeEngine(lambda: None, timeout=1)  # type: ignore[arg-type,return-value]
    src = Source("a/x", "ns", "x", "probe")
    seen: list[int] = []
    for _ in range(300):
        seen += [p.source_port for p in eng._with_source_ports(src, probes(50, UDP))]
    assert all(SPORT_LOW <= p < SPORT_HIGH for p in seen)
    window = seen[: SPORT_HIGH - SPORT_LOW]
    assert len(set(window)) == len(window), "a port came back before the range was used up"


def test_tcp_probes_get_no_source_port() -> None:
    eng = ProbeEngine(lambda: None)  # type: ignore[arg-type,return-value]
    assert all(p.source_port == 0 for p in eng._with_source_ports(Source("s"), probes(3)))


def test_dns_probe_counts_only_an_address_as_an_answer() -> None:
    p = Probe(Cell("a/x", "kube-system/kube-dns", 53, "DNS"), "10.96.0.10", 53, "DNS")
    cmd = probe_command(p, 1.0)
    assert "dig +time=1 +tries=1" in cmd and "grep -Eq" in cmd


def test_repro_command_is_a_kubectl_exec() -> None:
    eng = ProbeEngine(lambda: None)  # type: ignore[arg-type,return-value]
    src = Source("a/x", "npconform-1-a", "x", "probe")
    cmd = eng.repro(src, probes(1)[0])
    assert cmd.startswith("kubectl exec -n npconform-1-a x -c probe -- sh -c")
    assert "echo allowed || echo blocked" in cmd
