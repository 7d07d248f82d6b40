"""The batched probe script, its outcome classes, source ports, and the engine's sessions
under concurrency (no cluster: the shell runs on this machine, or is a fake)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from npconform.model.matrix import CONNECTED, ERROR, REFUSED, TIMEOUT, Cell
from npconform.probe.engine import ProbeEngine
from npconform.probe.script import (
    DNS,
    SPORT_HIGH,
    SPORT_LOW,
    TCP,
    UDP,
    Probe,
    ProbeError,
    Source,
    batch_script,
    classify,
    parse_output,
    probe_command,
    tools_check,
)
from npconform.probe.session import DockerSession, closed_detail, container_state


def probes(n: int, proto: str = "TCP") -> list[Probe]:
    return [
        Probe(Cell("a/x", f"b/y{i}", 8080, proto), f"192.168.0.{i + 1}", 8080, proto)
        for i in range(n)
    ]


def test_one_background_job_per_probe_and_a_final_wait() -> None:
    script = batch_script(probes(3) + probes(2, "UDP"), 1.0, batch="7")
    lines = script.splitlines()
    assert sum(1 for ln in lines if ln.endswith("} &")) == 5
    assert "wait" in lines
    assert "nc -z -v -w 1 192.168.0.1 8080 >/tmp/npc.7/0 2>&1" in script
    # UDP: two datagrams, 0.3 s apart, then up to 2x the timeout for the answer
    assert (
        "{ printf npconform; sleep 0.3; printf npconform; } 2>/dev/null | "
        "nc -u -W 1 -w 2 192.168.0.1 8080 >/tmp/npc.7/3 2>&1"
    ) in script
    assert lines[-1] == "rm -rf /tmp/npc.7"


def test_results_map_indices_to_outcome_classes() -> None:
    ps = probes(3)
    out = (
        "junk\nNPC 2 1 10.00 11.01\nNPC 0 0 10.00 10.01\nNPC 1 1 10.00 10.02\n"
        "NPC-OUT 1:nc: connect to 192.168.0.2 port 8080 (tcp) failed: Connection refused\n"
        "NPC-OUT 2:nc: connect to 192.168.0.3 port 8080 (tcp) timed out: Operation now in "
        "progress\nNPC-END\n"
    )
    obs = parse_output(ps, out)
    assert [obs[p.cell].outcome for p in ps] == [CONNECTED, REFUSED, TIMEOUT]


def test_a_missing_result_is_an_error_not_a_verdict() -> None:
    obs = parse_output(probes(2), "NPC 0 0 1.0 1.0\nNPC-END\n")
    assert obs[probes(2)[1].cell].outcome == ERROR
    with pytest.raises(ProbeError, match="did not finish"):
        parse_output(probes(1), "NPC 0 0 1.0 1.0\n")


@pytest.mark.parametrize(
    ("proto", "status", "seconds", "text", "want"),
    [
        (TCP, 0, 0.01, "Connection to h 8080 port [tcp/*] succeeded!", CONNECTED),
        (TCP, 1, 0.01, "nc: connect to h port 8080 (tcp) failed: Connection refused", REFUSED),
        (TCP, 1, 0.01, "nc: connect to h port 8080 (tcp) failed: No route to host", REFUSED),
        (TCP, 1, 1.0, "nc: connect to h port 8080 (tcp) timed out: Operation now", TIMEOUT),
        (TCP, 1, 0.01, 'nc: getaddrinfo for host "x" port 1: Name or service not known', ERROR),
        (TCP, 1, 0.01, "nc: port number too large: 99999", ERROR),
        (TCP, 127, 0.0, "sh: 1: nc: not found", ERROR),
        (UDP, 0, 0.31, "x-a", CONNECTED),
        (UDP, 0, 2.33, "", TIMEOUT),
        (UDP, 0, 0.32, "", REFUSED),
        (UDP, 1, 0.01, "nc: bind failed: Address already in use", ERROR),
        (DNS, 0, 0.02, "kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1", CONNECTED),
        (DNS, 9, 1.0, ";; communications error to h#53: timed out", TIMEOUT),
        (DNS, 9, 0.1, ";; communications error to h#53: connection refused", REFUSED),
        (DNS, 0, 0.02, ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1", ERROR),
    ],
)
def test_classify(proto: str, status: int, seconds: float, text: str, want: str) -> None:
    p = Probe(Cell("a/x", "b/y", 8080, proto), "h", 8080, proto)
    assert classify(p, status, seconds, text, 1.0, 2).outcome == want


needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("nc", "dig")),
    reason="nc (netcat-openbsd) and dig (dnsutils) are needed to run the script on loopback "
    "(scripts/setup installs them)",
)


@needs_tools
def test_the_script_on_loopback_gives_every_class() -> None:
    """The real script, in this machine's shell, against loopback: a listening TCP port, a
    closed one, a silent UDP socket, a closed UDP port, and a DNS port nothing serves."""
    import socket

    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: refused
    cport = closed.getsockname()[1]
    ps = [
        Probe(Cell("a", "tcp-open", tcp.getsockname()[1]), "127.0.0.1", tcp.getsockname()[1], TCP),
        Probe(Cell("a", "tcp-closed", cport), "127.0.0.1", cport, TCP),
        Probe(
            Cell("a", "udp-silent", 1, UDP), "127.0.0.1", silent.getsockname()[1], UDP, "", 20111
        ),
        Probe(Cell("a", "udp-closed", 2, UDP), "127.0.0.1", cport, UDP, "", 20112),
        Probe(Cell("a", "dns-closed", 53, DNS), "127.0.0.1", cport, DNS),
    ]
    try:
        out = subprocess.run(
            ["sh", "-c", batch_script(ps, 1.0, 2, "unit") + "\necho NPC-END"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    finally:
        for s in (tcp, silent, closed):
            s.close()
    got = {c.dst: o.outcome for c, o in parse_output(ps, out, 1.0, 2).items()}
    assert got == {
        "tcp-open": CONNECTED,
        "tcp-closed": REFUSED,
        "udp-silent": TIMEOUT,
        "udp-closed": REFUSED,
        "dns-closed": REFUSED,
    }


def test_tools_check_names_what_is_missing() -> None:
    out = subprocess.run(
        ["sh", "-c", tools_check().replace("for t in nc", "for t in no-such-tool nc")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "NPC-MISSING no-such-tool" in out and out.strip().endswith("NPC-TOOLS")


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


def test_dns_probe_asks_for_an_address() -> None:
    p = Probe(Cell("a/x", "kube-system/kube-dns", 53, "DNS"), "10.96.0.10", 53, "DNS")
    cmd = probe_command(p, 1.0)
    assert "dig +time=1 +tries=1 -p 53 @10.96.0.10 kubernetes.default.svc.cluster.local A" in cmd


def test_repro_command_is_a_kubectl_exec() -> None:
    eng = ProbeEngine(lambda: None)  # type: ignore[arg-type,return-value]
    src = Source("a/x", "npconform-1-a", "x", "probe")
    cmd = eng.repro(src, probes(1)[0])
    assert cmd.startswith("kubectl exec -n npconform-1-a x -c probe -- sh -c")
    assert "echo exit=$?" in cmd


# ---- sessions under concurrency ----------------------------------------------------------


class FakeShell:
    """A session that answers every probe as connected, or breaks when told to."""

    opened = 0
    lock = threading.Lock()

    def __init__(self, src: Source, tools: str = "", fail: Callable[[str], bool] | None = None):
        with FakeShell.lock:
            FakeShell.opened += 1
            self.n = FakeShell.opened
        time.sleep(0.05)  # opening takes a while: a second opener would overlap
        self.src = src
        self.tools = tools
        self.fail = fail or (lambda script: False)
        self.open = True
        self.closed_while_running = False
        self.running = 0
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.open

    def run(self, script: str, timeout: float) -> str:
        with self._lock:
            self.running += 1
            try:
                if not self.open:
                    raise ProbeError(f"session {self.n} of {self.src.id} is closed")
                if "NPC-TOOLS" in script:
                    return self.tools + "NPC-TOOLS\nNPC-END"
                time.sleep(0.01)
                if self.fail(script):
                    self.open = False
                    raise ProbeError(f"session {self.n} of {self.src.id} broke")
                count = script.count("} &")
                lines = [f"NPC {i} 0 1.00 1.01" for i in range(count)]
                return "\n".join(lines) + "\nNPC-END"
            finally:
                self.running -= 1

    def close(self) -> None:
        with self._lock:
            if self.running:
                self.closed_while_running = True
            self.open = False


def engine_with(factory: Callable[[Source], FakeShell], workers: int = 8) -> ProbeEngine:
    return ProbeEngine(lambda: None, workers=workers, shell_factory=factory)  # type: ignore[arg-type,return-value]


class CountingShell(FakeShell):
    """A fake session that counts, over all sessions, the probes of batches running. A
    batch holds on until ``reach`` probes are in flight or ``hold`` seconds pass, so every
    batch the engine lets run at the same time does overlap, however busy the machine."""

    live = 0
    peak = 0
    reach = 0
    hold = 0.0
    cond = threading.Condition()

    def run(self, script: str, timeout: float) -> str:
        if "NPC-TOOLS" in script:
            return super().run(script, timeout)
        n = script.count("} &")
        cls = CountingShell
        with cls.cond:
            cls.live += n
            cls.peak = max(cls.peak, cls.live)
            cls.cond.notify_all()
            cls.cond.wait_for(lambda: cls.live >= cls.reach, timeout=cls.hold)
        try:
            return super().run(script, timeout)
        finally:
            with cls.cond:
                cls.live -= n


def budget_run(budget: int, sources: int, size: int, reach: int, hold: float) -> int:
    """The most probes in flight when ``sources`` batches of ``size`` run with ``budget``,
    each batch holding on until ``reach`` probes are in flight (or ``hold`` seconds)."""
    CountingShell.live = CountingShell.peak = 0
    CountingShell.reach, CountingShell.hold = reach, hold
    eng = ProbeEngine(lambda: None, workers=16, shell_factory=CountingShell, probe_budget=budget)  # type: ignore[arg-type,return-value]
    plan = {Source(f"a/x{i}", "ns", f"x{i}", "probe"): probes(size) for i in range(sources)}
    try:
        results = eng.run(plan)
    finally:
        eng.close()
    assert sorted(r.source.pod for r in results) == sorted(s.pod for s in plan)
    assert all(len(r.observations) == size for r in results)
    assert CountingShell.live == 0
    return CountingShell.peak


def test_no_more_probes_in_flight_than_the_budget() -> None:
    # two batches of 4 fit in 10, a third does not, though each batch waits for more
    # company than that; every batch still runs
    assert budget_run(10, sources=8, size=4, reach=12, hold=0.5) == 8
    # without a budget to speak of, all eight at once
    assert budget_run(1000, sources=8, size=4, reach=32, hold=10) == 32


def test_a_batch_larger_than_the_budget_runs_alone() -> None:
    assert budget_run(3, sources=3, size=4, reach=8, hold=0.3) == 4


def test_one_session_per_source_even_when_many_threads_ask_at_once() -> None:
    FakeShell.opened = 0
    shells: list[FakeShell] = []

    def factory(src: Source) -> FakeShell:
        s = FakeShell(src)
        shells.append(s)
        return s

    eng = engine_with(factory)
    src = Source("a/x", "ns", "x", "probe")
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        eng.run_batch(src, probes(3))

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(shells) == 1, f"{len(shells)} sessions opened for one source"
    eng.close()


@pytest.mark.filterwarnings("ignore::npconform.probe.engine.SessionWarning")
def test_a_broken_session_is_replaced_once_and_never_closed_under_a_reader() -> None:
    FakeShell.opened = 0
    shells: list[FakeShell] = []
    broke = threading.Event()

    def fail_once(script: str) -> bool:
        if not broke.is_set():
            broke.set()
            return True
        return False

    def factory(src: Source) -> FakeShell:
        s = FakeShell(src, fail=fail_once if not shells else None)
        shells.append(s)
        return s

    eng = engine_with(factory)
    src = Source("a/x", "ns", "x", "probe")
    results = eng.run({src: probes(2)})
    assert results[0].observations[probes(2)[0].cell].outcome == CONNECTED
    threads = [threading.Thread(target=eng.run_batch, args=(src, probes(2))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(shells) == 2, "the broken session is replaced exactly once"
    assert not any(s.closed_while_running for s in shells)
    eng.close()


@pytest.mark.filterwarnings("ignore::npconform.probe.engine.SessionWarning")
def test_a_failed_batch_waits_for_its_siblings_and_names_every_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from npconform.probe import engine as engine_mod

    monkeypatch.setattr(engine_mod, "SESSION_PAUSE", 0.0)
    FakeShell.opened = 0
    done: list[str] = []

    class Slow(FakeShell):
        def run(self, script: str, timeout: float) -> str:
            out = super().run(script, timeout)
            if "NPC-TOOLS" not in script:
                time.sleep(0.2)
                done.append(self.src.id)
            return out

    def factory(src: Source) -> FakeShell:
        if src.id.startswith("bad"):
            return FakeShell(src, fail=lambda script: True)
        return Slow(src)

    eng = engine_with(factory)
    plan = {Source(f"bad{i}", "ns", f"b{i}", "probe"): probes(1) for i in range(2)}
    plan.update({Source(f"ok{i}", "ns", f"o{i}", "probe"): probes(1) for i in range(3)})
    with pytest.raises(ProbeError) as e:
        eng.run(plan)
    assert sorted(done) == ["ok0", "ok1", "ok2"], "siblings still ran when the error was raised"
    assert "bad0" in str(e.value) and "bad1" in str(e.value)
    eng.close()


def test_a_source_without_its_tools_is_an_error_naming_them() -> None:
    eng = engine_with(lambda src: FakeShell(src, tools="NPC-MISSING nc\nNPC-MISSING dig\n"))
    with pytest.raises(ProbeError, match="probe tool\\(s\\) missing in a/x: nc, dig"):
        eng.run({Source("a/x", "ns", "x", "probe"): probes(1)})
    eng.close()


def test_a_closed_session_says_how_the_shell_ended() -> None:
    status = (
        '{"metadata":{},"status":"Failure","message":"command terminated with non-zero '
        'exit code: error executing command [sh], exit code 137","reason":"NonZeroExitCode"}'
    )
    got = closed_detail("NPC 0 0 1.0 1.1\n", "sh: 1: Cannot fork\n", status)
    assert got.startswith("status: command terminated with non-zero exit code")
    assert "exit code 137" in got
    assert "stderr: 'sh: 1: Cannot fork'" in got
    assert got.endswith("output: 'NPC 0 0 1.0 1.1\\n'")
    assert closed_detail("", "", "") == "output: ''"
    assert closed_detail("", "", "not json") == "status: not json; output: ''"


def test_a_restarted_probe_container_is_named_with_its_last_reason() -> None:
    from kubernetes.client import (
        V1ContainerState,
        V1ContainerStateTerminated,
        V1ContainerStatus,
        V1PodStatus,
    )

    def status(restarts: int, reason: str | None) -> V1PodStatus:
        last = (
            V1ContainerState(terminated=V1ContainerStateTerminated(exit_code=137, reason=reason))
            if reason
            else V1ContainerState()
        )
        probe = V1ContainerStatus(
            name="probe",
            restart_count=restarts,
            last_state=last,
            image="i",
            image_id="",
            ready=True,
        )
        serve = V1ContainerStatus(
            name="serve-80", restart_count=5, image="i", image_id="", ready=True
        )
        return V1PodStatus(container_statuses=[serve, probe])

    assert container_state(status(0, None), "probe") == ""
    assert container_state(status(2, "OOMKilled"), "probe") == (
        "; container probe restarted 2 time(s), last: OOMKilled (exit 137)"
    )
    assert container_state(V1PodStatus(), "probe") == ""


def test_a_session_breaking_twice_is_replaced_and_each_break_is_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from npconform.probe import engine as engine_mod

    monkeypatch.setattr(engine_mod, "SESSION_PAUSE", 0.0)
    FakeShell.opened = 0
    shells: list[FakeShell] = []

    def factory(src: Source) -> FakeShell:
        s = FakeShell(src, fail=(lambda script: True) if len(shells) < 2 else None)
        shells.append(s)
        return s

    eng = engine_with(factory)
    src = Source("a/x", "ns", "x", "probe")
    with pytest.warns(engine_mod.SessionWarning) as caught:
        results = eng.run({src: probes(2)})
    assert results[0].observations[probes(2)[0].cell].outcome == CONNECTED
    assert len(shells) == 3
    assert [str(w.message).split(":")[0] for w in caught] == [
        "probe session in a/x broke (attempt 1 of 3)",
        "probe session in a/x broke (attempt 2 of 3)",
    ]
    eng.close()


def test_a_session_that_always_breaks_is_an_error_naming_every_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from npconform.probe import engine as engine_mod

    monkeypatch.setattr(engine_mod, "SESSION_PAUSE", 0.0)
    FakeShell.opened = 0
    eng = engine_with(lambda src: FakeShell(src, fail=lambda script: True))
    src = Source("a/x", "ns", "x", "probe")
    with pytest.warns(engine_mod.SessionWarning), pytest.raises(ProbeError) as e:
        eng.run({src: probes(1)})
    msg = str(e.value)
    assert msg.startswith("probe batch in a/x failed in 3 sessions: 1) session 1 of a/x broke")
    assert "2) session 2 of a/x broke" in msg and "3) session 3 of a/x broke" in msg
    eng.close()


def test_a_batch_run_again_sends_its_udp_probes_from_new_source_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broken session's nc may still hold its port: reusing it fails with "bind
    failed: Address already in use"."""
    import re as re_mod

    from npconform.probe import engine as engine_mod

    monkeypatch.setattr(engine_mod, "SESSION_PAUSE", 0.0)
    FakeShell.opened = 0
    scripts: list[str] = []

    class Recording(FakeShell):
        def run(self, script: str, timeout: float) -> str:
            if "NPC-TOOLS" not in script:
                scripts.append(script)
            return super().run(script, timeout)

    shells: list[FakeShell] = []

    def factory(src: Source) -> FakeShell:
        s = Recording(src, fail=(lambda script: True) if not shells else None)
        shells.append(s)
        return s

    eng = engine_with(factory)
    with pytest.warns(engine_mod.SessionWarning):
        eng.run({Source("a/x", "ns", "x", "probe"): probes(3, UDP)})
    ports = [re_mod.findall(r" -p (\d+) ", s) for s in scripts]
    assert len(ports) == 2 and all(len(p) == 3 for p in ports)
    assert not set(ports[0]) & set(ports[1]), f"source ports reused: {ports}"
    eng.close()


# ---- the session in a container outside the cluster -----------------------------------


def _local(argv: list[str]) -> DockerSession:
    """A DockerSession whose ``docker exec -i <container> sh`` is a local shell."""
    return DockerSession(Source("ext/one", docker="npconform-test-ext"), argv)


def test_an_external_hosts_batches_share_one_shell() -> None:
    s = _local(["sh"])
    try:
        first = s.run("echo pid=$$; echo NPC 0 0 0.1 0.2", 5)
        second = s.run("echo pid=$$", 5)
        assert first.endswith("NPC-END\n") and "NPC 0 0 0.1 0.2" in first
        assert first.split()[0] == second.split()[0], "a second process served the batch"
        assert s.alive()
    finally:
        s.close()
    assert not s.alive()


def test_an_external_hosts_session_that_ends_says_how() -> None:
    s = _local(["sh"])
    with pytest.raises(ProbeError, match=r"closed; stderr: 'gone'; output: 'half'; exit status 3"):
        s.run("printf half; echo gone >&2; exit 3", 5)
    s.close()


def test_an_external_hosts_batch_that_never_ends_is_an_error() -> None:
    s = _local(["sh"])
    t0 = time.monotonic()
    with pytest.raises(ProbeError, match="did not finish within 1s"):
        s.run("sleep 5", 1)
    assert time.monotonic() - t0 < 3
    s.close()


def test_an_external_host_that_cannot_be_reached_is_an_error() -> None:
    with pytest.raises(ProbeError, match="cannot exec in ext/one"):
        _local(["/nonexistent/docker"])


def test_a_docker_source_runs_every_batch_in_one_kept_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import npconform.probe.engine as engine_mod

    opened: list[DockerSession] = []

    def local(src: Source) -> DockerSession:
        opened.append(DockerSession(src, ["sh"]))
        return opened[-1]

    monkeypatch.setattr(engine_mod, "DockerSession", local)
    eng = ProbeEngine(lambda: None)  # type: ignore[arg-type,return-value]
    src = Source("ext/one", docker="npconform-test-ext")
    try:
        first = eng.exec(src, "echo pid=$$")
        second = eng.exec(src, "echo pid=$$")
    finally:
        eng.close()
    assert len(opened) == 1, "a second session was opened"
    assert first.split()[0] == second.split()[0] and first.startswith("pid=")


def test_an_external_hosts_stderr_never_stalls_its_batch() -> None:
    s = _local(["sh"])
    try:
        out = s.run("head -c 300000 /dev/zero | tr '\\0' e >&2; echo done", 10)
        assert out.startswith("done")
    finally:
        s.close()


def test_a_closed_external_session_is_a_probe_error() -> None:
    s = _local(["sh"])
    s.close()
    with pytest.raises(ProbeError, match="is closed"):
        s.run("echo hi", 5)
