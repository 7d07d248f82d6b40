"""The batched probe engine: one exec per source pod runs all its probes at once.

For each source, a shell script starts every probe in the background (TCP: ``nc -z``;
UDP: a datagram to agnhost's serve-hostname, which answers it; DNS: ``dig``) and prints
one machine-readable line per probe: ``NPC <index> <1|0>``. All sources are
probed concurrently from a bounded pool, each thread with its own API client. A probe
whose line is missing is an error, never a verdict.

The engine knows nothing of pytest or of expectations: it turns a plan into observations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import random
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.stream import stream

from npconform.model.matrix import Cell

TCP = "TCP"
UDP = "UDP"
DNS = "DNS"  # a DNS query over UDP to ``host``:``port``
SCTP = "SCTP"

# UDP source ports the engine hands out, in turn per source: below Linux's ephemeral
# range (32768-60999), so they never collide with ports the kernel picks.
SPORT_LOW, SPORT_HIGH = 20000, 32000


class ProbeError(RuntimeError):
    """The probe could not run (exec failed, output incomplete): not a verdict."""


@dataclass(frozen=True)
class Source:
    """Where probes start: a pod's container, or a container outside the cluster."""

    id: str
    namespace: str = ""
    pod: str = ""
    container: str = ""
    docker: str = ""  # name of a docker container (external peer)

    def repro(self, cmd: str) -> str:
        if self.docker:
            return f"docker exec {self.docker} sh -c {shlex.quote(cmd)}"
        return (
            f"kubectl exec -n {self.namespace} {self.pod} -c {self.container} -- "
            f"sh -c {shlex.quote(cmd)}"
        )


@dataclass(frozen=True)
class Probe:
    cell: Cell
    host: str
    port: int
    protocol: str  # TCP | UDP | DNS | SCTP
    query: str = "kubernetes.default.svc.cluster.local"
    source_port: int = 0  # UDP: set by the engine


@dataclass
class Observation:
    allowed: bool
    detail: str = ""


@dataclass
class BatchResult:
    source: Source
    observations: dict[Cell, Observation] = field(default_factory=dict)
    seconds: float = 0.0


PAYLOAD = "npconform"  # the datagram a UDP probe sends
UDP_RESEND = 0.3  # seconds between a UDP probe's two datagrams
UDP_WAIT_FACTOR = 2


def probe_command(
    p: Probe, timeout: float, index: int = 0, udp_wait_factor: int = UDP_WAIT_FACTOR
) -> str:
    """The shell command for one probe; exit status 0 means the traffic got through.

    A TCP or DNS probe costs the batch two processes (its background job and nc or dig);
    a UDP probe four (also the writer of its two datagrams and its sleep)."""
    t = max(1, math.ceil(timeout))
    host, port = shlex.quote(p.host), int(p.port)
    if p.protocol == TCP:
        return f"nc -z -w {t} {host} {port}"
    if p.protocol == UDP:
        # serve-hostname answers any datagram with the pod's name; nc returns as soon as
        # the answer arrives (-W 1). The answer comes from a user-space server that a
        # busy node may schedule late, so UDP waits udp_wait_factor times the timeout.
        # UDP may lose a datagram (a conntrack insertion race under SNAT drops one now and
        # then): a second one follows UDP_RESEND seconds later, so one loss never reads as
        # "blocked"; a blocked flow stays silent for both.
        # The source port is chosen by the engine and not reused soon: a recycled port
        # could match a conntrack entry of an earlier, allowed flow and slip past a
        # policy that now blocks it.
        sport = f" -p {p.source_port}" if p.source_port else ""
        out = f"/tmp/npc.$$.{index}"
        return (
            f"{{ printf {PAYLOAD}; sleep {UDP_RESEND}; printf {PAYLOAD}; }} 2>/dev/null | "
            f"nc -u -W 1 -w {t * udp_wait_factor}{sport} {host} {port} >{out} 2>/dev/null; "
            f"test -s {out}"
        )
    if p.protocol == DNS:
        # dig prints its own errors on stdout: only an address counts as an answer.
        return (
            f"dig +time={t} +tries=1 +short -p {port} @{host} {shlex.quote(p.query)} 2>/dev/null"
            " | grep -Eq '^[0-9a-f.:]+$'"
        )
    raise ProbeError(f"protocol {p.protocol} cannot be probed")


def batch_script(
    probes: Sequence[Probe], timeout: float, udp_wait_factor: int = UDP_WAIT_FACTOR
) -> str:
    # One background job per probe, all in parallel (what each forks: probe_command).
    lines = [
        f"{{ {probe_command(p, timeout, i, udp_wait_factor)} >/dev/null 2>&1"
        f" && echo 'NPC {i} 1' || echo 'NPC {i} 0'; }} &"
        for i, p in enumerate(probes)
    ]
    lines.append("wait")
    if any(p.protocol == UDP for p in probes):
        lines.append("rm -f /tmp/npc.$$.*")
    return "\n".join(lines)


def parse_output(probes: Sequence[Probe], out: str) -> dict[Cell, Observation]:
    if "NPC-END" not in out:
        raise ProbeError(f"probe batch did not finish; output: {out[-300:]!r}")
    obs: dict[Cell, Observation] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "NPC" and parts[1].isdigit():
            i = int(parts[1])
            if i < len(probes):
                obs[probes[i].cell] = Observation(parts[2] == "1", "")
    missing = [p.cell for p in probes if p.cell not in obs]
    if missing:
        raise ProbeError(f"{len(missing)} probe(s) printed no verdict, e.g. {missing[0]}")
    return obs


class _Session:
    """A shell in the source pod's probe container, fed one batch script at a time."""

    _ids = itertools.count(1)

    def __init__(self, core: client.CoreV1Api, src: Source) -> None:
        self.src = src
        self._lock = threading.Lock()
        try:
            self.ws = stream(
                core.connect_get_namespaced_pod_exec,
                src.pod,
                src.namespace,
                container=src.container,
                command=["sh"],
                stdin=True,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
            )
        except Exception as e:
            raise ProbeError(f"cannot exec in {src.id}: {e}") from None

    def alive(self) -> bool:
        return bool(self.ws.is_open())

    def run(self, script: str, timeout: float) -> str:
        with self._lock:
            return self._run(script, timeout)

    def _run(self, script: str, timeout: float) -> str:
        marker = f"NPC-END-{next(self._ids)}"
        try:
            self.ws.write_stdin(f"{script}\necho {marker}\n")
        except Exception as e:
            raise ProbeError(f"exec session in {self.src.id} broke: {e}") from None
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            self.ws.update(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            out += str(self.ws.read_stdout(timeout=0))
            if marker in out:
                return out.replace(marker, "NPC-END")
            if not self.ws.is_open():
                raise ProbeError(f"exec session in {self.src.id} closed; output: {out[-200:]!r}")
        raise ProbeError(f"probe batch in {self.src.id} did not finish within {timeout:.0f}s")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead socket
            self.ws.close()


class ProbeEngine:
    def __init__(
        self,
        api_factory: Callable[[], client.ApiClient],
        timeout: float = 1.0,
        workers: int = 9,
        udp_wait_factor: int = UDP_WAIT_FACTOR,
    ) -> None:
        self.api_factory = api_factory
        self.timeout = timeout
        self.udp_wait_factor = udp_wait_factor
        self.workers = workers
        self._lock = threading.Lock()
        self._next_port: dict[Source, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._sessions: dict[Source, _Session] = {}

    def _exec_pod(self, src: Source, script: str) -> str:
        """Run ``script`` in the source's shell session (opened once per source and kept:
        an exec costs more than the probes it runs). A broken session is reopened once."""
        for attempt in (1, 2):
            session = self._session(src, fresh=attempt == 2)
            try:
                return session.run(script, self.timeout + 20)
            except ProbeError:
                self._drop(src)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _session(self, src: Source, fresh: bool = False) -> _Session:
        with self._lock:
            s = self._sessions.get(src)
        if s is None or fresh or not s.alive():
            s = _Session(client.CoreV1Api(self.api_factory()), src)
            with self._lock:
                self._sessions[src] = s
        return s

    def _drop(self, src: Source) -> None:
        with self._lock:
            s = self._sessions.pop(src, None)
        if s is not None:
            s.close()

    def _exec_docker(self, src: Source, script: str) -> str:
        proc = subprocess.run(
            ["docker", "exec", src.docker, "sh", "-c", f"{script}\necho NPC-END"],
            capture_output=True,
            text=True,
            timeout=self.timeout + 20,
            check=False,
        )
        return proc.stdout

    def _with_source_ports(self, src: Source, probes: Sequence[Probe]) -> list[Probe]:
        out = []
        with self._lock:
            nxt = self._next_port.setdefault(src, random.randrange(SPORT_LOW, SPORT_HIGH))
            for p in probes:
                if p.protocol == UDP:
                    p = dataclasses.replace(p, source_port=nxt)
                    nxt = SPORT_LOW + (nxt + 1 - SPORT_LOW) % (SPORT_HIGH - SPORT_LOW)
                out.append(p)
            self._next_port[src] = nxt
        return out

    def run_batch(self, src: Source, probes: Sequence[Probe]) -> BatchResult:
        t0 = time.monotonic()
        probes = self._with_source_ports(src, probes)
        script = batch_script(probes, self.timeout, self.udp_wait_factor)
        out = self._exec_docker(src, script) if src.docker else self._exec_pod(src, script)
        return BatchResult(src, parse_output(probes, out), time.monotonic() - t0)

    def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
        """Every source's batch, concurrently. Raises ProbeError if any batch fails."""
        items = [(s, ps) for s, ps in plan.items() if ps]
        if not items:
            return []
        if self._pool is None:
            # Kept for the engine's life: its threads keep their API clients and connections.
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="probe")
        futures = [self._pool.submit(self.run_batch, s, ps) for s, ps in items]
        return [f.result() for f in futures]

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for sess in sessions:
            sess.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def repro(self, src: Source, p: Probe) -> str:
        cmd = probe_command(p, self.timeout, udp_wait_factor=self.udp_wait_factor)
        return src.repro(f"{cmd} && echo allowed || echo blocked")
