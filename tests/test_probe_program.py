"""npconform's probe program (``npcprobe``): built here from its source with the local Go
toolchain, as the image build does, and run against loopback servers of this test; its
command line and output as the engine writes and reads them; the engine's choice between
it and the shell script."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from npconform.airgap.context import FILES
from npconform.airgap.recipes import PROBE_GO_MOD, PROBE_LDFLAGS, PROBE_PROGRAM
from npconform.model.matrix import CONNECTED, ERROR, REFUSED, TIMEOUT, Cell
from npconform.probe.engine import ProbeEngine
from npconform.probe.script import (
    DNS,
    TCP,
    UDP,
    Probe,
    ProbeError,
    Source,
    parse_program_output,
    program_command,
)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.fail("no Go toolchain on PATH: the probe program cannot be built")
    work = tmp_path_factory.mktemp("npcprobe")
    (work / "go.mod").write_text(PROBE_GO_MOD)
    (work / "main.go").write_text((FILES / f"{PROBE_PROGRAM}.go").read_text())
    subprocess.run(
        [
            "go",
            "build",
            "-trimpath",
            "-ldflags",
            PROBE_LDFLAGS,
            "-o",
            str(work / PROBE_PROGRAM),
            ".",
        ],
        cwd=work,
        env={**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOWORK": "off"},
        check=True,
        capture_output=True,
    )
    return work / PROBE_PROGRAM


def _udp() -> tuple[socket.socket, int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    return s, s.getsockname()[1]


def _dns_reply(query: bytes, nx: bool) -> bytes:
    end = 12
    while query[end]:
        end += 1 + query[end]
    question = query[12 : end + 5]
    flags = b"\x81\x83" if nx else b"\x81\x80"
    answers = b"" if nx else b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + bytes([10, 0, 0, 1])
    counts = struct.pack(">HHHH", 1, 0 if nx else 1, 0, 0)
    return query[:2] + flags + counts + question + answers


@pytest.fixture
def servers() -> Iterator[dict[str, int]]:
    """A TCP listener, a UDP server that answers, one that never does, and a DNS server
    that knows one name; plus a port nobody listens on."""
    stop = threading.Event()
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(64)
    echo, echo_port = _udp()
    silent, silent_port = _udp()
    dns, dns_port = _udp()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()

    def serve(s: socket.socket, reply: object) -> None:
        while not stop.is_set():
            try:
                data, addr = s.recvfrom(512)
            except TimeoutError:
                continue
            if reply == "echo":
                s.sendto(b"pod-name", addr)
            elif reply == "dns":
                s.sendto(_dns_reply(data, b"\x02nx" in data), addr)

    threads = [
        threading.Thread(target=serve, args=(echo, "echo"), daemon=True),
        threading.Thread(target=serve, args=(silent, None), daemon=True),
        threading.Thread(target=serve, args=(dns, "dns"), daemon=True),
    ]
    for t in threads:
        t.start()
    yield {
        "tcp": tcp.getsockname()[1],
        "echo": echo_port,
        "silent": silent_port,
        "dns": dns_port,
        "closed": closed_port,
    }
    stop.set()
    for t in threads:
        t.join()
    for s in (tcp, echo, silent, dns):
        s.close()


def _probe(i: int, proto: str, port: int, query: str = "") -> Probe:
    p = Probe(Cell("a/x", f"b/y{i}", port, proto), "127.0.0.1", port, proto)
    return Probe(p.cell, p.host, p.port, p.protocol, query) if query else p


def test_one_process_reports_each_probes_outcome_class(
    program: Path, servers: dict[str, int]
) -> None:
    ps = [
        _probe(0, TCP, servers["tcp"]),
        _probe(1, TCP, servers["closed"]),
        _probe(2, UDP, servers["echo"]),
        _probe(3, UDP, servers["silent"]),
        _probe(4, UDP, servers["closed"]),
        _probe(5, DNS, servers["dns"], "kubernetes.default.svc.cluster.local"),
        _probe(6, DNS, servers["dns"], "nx.example"),
        _probe(7, DNS, servers["silent"], "kubernetes.default.svc.cluster.local"),
    ]
    cmd = program_command(ps, 0.4, 1.5).replace(PROBE_PROGRAM, str(program), 1)
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=20).stdout
    obs = parse_program_output(ps, out + "NPC-END\n")
    got = [obs[p.cell].outcome for p in ps]
    assert got == [
        CONNECTED,
        REFUSED,
        CONNECTED,
        TIMEOUT,
        REFUSED,
        CONNECTED,
        ERROR,
        TIMEOUT,
    ], out
    assert obs[ps[1].cell].detail == "connection refused (TCP reset)"
    assert obs[ps[4].cell].detail == "port unreachable (ICMP)"
    assert "NXDOMAIN without an address for nx.example" in obs[ps[6].cell].detail
    # sub-second waits are honoured: the silent UDP server is given 0.4 * 1.5 s
    seconds = {
        int(ln.split()[1]): float(ln.split()[3])
        for ln in out.splitlines()
        if ln.startswith("NPCR ")
    }
    assert 0.55 <= seconds[3] < 0.9
    assert 0.35 <= seconds[7] < 0.7


def test_the_program_refuses_bad_probes_with_one_line(program: Path) -> None:
    for arg in ("1,TCP,h,99999", "1,SCTP,h,80", "x,TCP,h,80", "1,TCP,h"):
        proc = subprocess.run([str(program), arg], capture_output=True, text=True, timeout=10)
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = subprocess.run([str(program), "-udp", "0", "1,TCP,h,80"], capture_output=True, text=True)
    assert proc.returncode == 2 and "bad seconds" in proc.stderr


def test_command_line_carries_each_probe_and_exact_waits() -> None:
    ps = [
        _probe(0, TCP, 80),
        Probe(Cell("a/x", "b/y", 53, UDP), "10.0.0.2", 53, UDP, source_port=20001),
        _probe(2, DNS, 53, "kubernetes.default.svc.cluster.local"),
    ]
    cmd = program_command(ps, 0.5, 2)
    assert cmd.startswith("npcprobe -tcp 0.5 -udp 1 -resend 0.2 -dns 0.5 ")
    assert "0,TCP,127.0.0.1,80,, " in cmd
    assert "1,UDP,10.0.0.2,53,20001, " in cmd
    assert "2,DNS,127.0.0.1,53,,kubernetes.default.svc.cluster.local" in cmd
    with pytest.raises(ProbeError, match="SCTP cannot be probed"):
        program_command([_probe(0, "SCTP", 80)], 1, 2)


def test_program_output_missing_lines_and_unknown_classes_are_errors() -> None:
    ps = [_probe(i, TCP, 80 + i) for i in range(3)]
    out = "NPCR 0 connected 0.001 -\nNPCR 2 leaked 0.1 what\nNPCR-DONE 3\nNPC-END\n"
    obs = parse_program_output(ps, out)
    assert obs[ps[0].cell].outcome == CONNECTED and obs[ps[0].cell].detail == ""
    assert obs[ps[1].cell].outcome == ERROR
    assert obs[ps[1].cell].detail == "the probe printed no result"
    assert obs[ps[2].cell].outcome == ERROR and "unknown outcome 'leaked'" in obs[ps[2].cell].detail
    with pytest.raises(ProbeError, match="did not finish its batch: npcprobe: bad port"):
        parse_program_output(ps, "npcprobe: bad port\nNPC-END\n")
    with pytest.raises(ProbeError, match="probe batch did not finish"):
        parse_program_output(ps, "NPCR-DONE 3\n")


class ProgramShell:
    """A fake session of a container that has (or lacks) the probe program."""

    def __init__(self, program: bool) -> None:
        self.program = program
        self.scripts: list[str] = []

    def alive(self) -> bool:
        return True

    def run(self, script: str, timeout: float) -> str:
        self.scripts.append(script)
        if "NPC-TOOLS" in script:
            return ("NPC-PROGRAM\n" if self.program else "") + "NPC-TOOLS\nNPC-END"
        if script.startswith("npcprobe "):
            n = script.count(",TCP,") + script.count(",UDP,")
            lines = [f"NPCR {i} timeout 0.5 -" for i in range(n)]
            return "\n".join([*lines, f"NPCR-DONE {n}", "NPC-END"])
        n = script.count("} &")
        return "\n".join([*(f"NPC {i} 0 1.00 1.01" for i in range(n)), "NPC-END"])

    def close(self) -> None:
        pass


@pytest.mark.parametrize("has_program", [True, False])
def test_engine_uses_the_program_where_the_container_has_it(has_program: bool) -> None:
    shell = ProgramShell(has_program)
    eng = ProbeEngine(lambda: None, timeout=0.5, shell_factory=lambda src: shell)  # type: ignore[arg-type,return-value]
    src = Source("a/x", "ns", "x", "probe")
    ps = [_probe(i, TCP, 80) for i in range(3)]
    res = eng.run_batch(src, ps)
    assert eng.uses_program(src) is has_program
    want = TIMEOUT if has_program else CONNECTED
    assert [res.observations[p.cell].outcome for p in ps] == [want] * 3
    assert shell.scripts[-1].startswith("npcprobe ") is has_program
    assert eng.repro(src, ps[0]).startswith("kubectl exec -n ns x -c probe -- sh -c")
    assert ("npcprobe -tcp 0.5" in eng.repro(src, ps[0])) is has_program


def test_the_program_waits_for_udp_as_long_as_for_tcp_and_the_shell_twice_as_long() -> None:
    shells = {"p": ProgramShell(True), "s": ProgramShell(False)}
    eng = ProbeEngine(lambda: None, timeout=0.5, shell_factory=lambda src: shells[src.pod])  # type: ignore[arg-type,return-value]
    prog, sh = Source("a/p", "ns", "p", "probe"), Source("a/s", "ns", "s", "probe")
    eng.run_batch(prog, [_probe(0, UDP, 80)])
    eng.run_batch(sh, [_probe(0, UDP, 80)])
    assert "-udp 0.5 " in shells["p"].scripts[-1]
    assert "nc -u" in shells["s"].scripts[-1]
    assert eng.runs({prog}) == {
        "tcp_wait_s": 0.5,
        "udp_wait_s": 0.5,
        "sources_program": 1,
        "sources_shell": 0,
    }
    assert eng.runs({sh})["udp_wait_s"] == 1.0 and "udp_wait_s_shell" not in eng.runs({sh})
    both = eng.runs({prog, sh})
    assert both["udp_wait_s"] == 0.5 and both["udp_wait_s_shell"] == 1.0
