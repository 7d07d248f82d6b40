"""The batched probe engine: one exec per source pod runs all its probes at once.

For each source, a shell script starts every probe in the background (TCP: ``nc -z``;
UDP: a datagram to agnhost's serve-hostname, which answers it; DNS: ``dig``) and prints
one machine-readable line per probe: ``NPC <index> <1|0> <detail>``. All sources are
probed concurrently from a bounded pool, each thread with its own API client. A probe
whose line is missing is an error, never a verdict.

The engine knows nothing of pytest or of expectations: it turns a plan into observations.
"""

from __future__ import annotations

import math
import shlex
import subprocess
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


@dataclass
class Observation:
    allowed: bool
    detail: str
    seconds: float


@dataclass
class BatchResult:
    source: Source
    observations: dict[Cell, Observation] = field(default_factory=dict)
    seconds: float = 0.0


def probe_command(p: Probe, timeout: float) -> str:
    """The shell command for one probe; exit status 0 means the traffic got through."""
    t = max(1, math.ceil(timeout))
    host, port = shlex.quote(p.host), int(p.port)
    if p.protocol == TCP:
        return f"nc -z -w {t} {host} {port}"
    if p.protocol == UDP:
        # serve-hostname answers any datagram with the pod's name
        return f"test -n \"$(printf 'npconform\\n' | nc -u -w {t} {host} {port} 2>/dev/null | head -c 64)\""
    if p.protocol == DNS:
        # dig prints its own errors on stdout: only an address counts as an answer.
        return (
            f"dig +time={t} +tries=1 +short -p {port} @{host} {shlex.quote(p.query)} 2>/dev/null"
            " | grep -Eq '^[0-9a-f.:]+$'"
        )
    raise ProbeError(f"protocol {p.protocol} cannot be probed")


def batch_script(probes: Sequence[Probe], timeout: float) -> str:
    lines = []
    for i, p in enumerate(probes):
        cmd = probe_command(p, timeout)
        lines.append(
            f"( s=$(date +%s%N); if {cmd} >/dev/null 2>&1; then v=1; else v=0; fi; "
            f"echo \"NPC {i} $v $(( ($(date +%s%N) - s) / 1000000 ))\" ) &"
        )
    lines.append("wait")
    lines.append("echo NPC-END")
    return "\n".join(lines)


def parse_output(probes: Sequence[Probe], out: str) -> dict[Cell, Observation]:
    if "NPC-END" not in out:
        raise ProbeError(f"probe batch did not finish; output: {out[-300:]!r}")
    obs: dict[Cell, Observation] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "NPC" and parts[1].isdigit():
            i = int(parts[1])
            if i < len(probes):
                ms = int(parts[3]) if parts[3].isdigit() else 0
                obs[probes[i].cell] = Observation(parts[2] == "1", "", ms / 1000)
    missing = [p.cell for p in probes if p.cell not in obs]
    if missing:
        raise ProbeError(f"{len(missing)} probe(s) printed no verdict, e.g. {missing[0]}")
    return obs


class ProbeEngine:
    def __init__(
        self,
        api_factory: Callable[[], client.ApiClient],
        timeout: float = 1.0,
        workers: int = 9,
    ) -> None:
        self.api_factory = api_factory
        self.timeout = timeout
        self.workers = workers

    def _exec_pod(self, src: Source, script: str) -> str:
        core = client.CoreV1Api(self.api_factory())
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            src.pod,
            src.namespace,
            container=src.container,
            command=["sh", "-c", script],
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        deadline = self.timeout + 20
        resp.run_forever(timeout=deadline)
        out = resp.read_stdout()
        if resp.is_open():
            resp.close()
            raise ProbeError(f"exec in {src.id} did not finish within {deadline:.0f}s")
        resp.close()
        return str(out)

    def _exec_docker(self, src: Source, script: str) -> str:
        proc = subprocess.run(
            ["docker", "exec", src.docker, "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=self.timeout + 20,
            check=False,
        )
        return proc.stdout

    def run_batch(self, src: Source, probes: Sequence[Probe]) -> BatchResult:
        t0 = time.monotonic()
        script = batch_script(probes, self.timeout)
        out = self._exec_docker(src, script) if src.docker else self._exec_pod(src, script)
        return BatchResult(src, parse_output(probes, out), time.monotonic() - t0)

    def run(self, plan: Mapping[Source, Sequence[Probe]]) -> list[BatchResult]:
        """Every source's batch, concurrently. Raises ProbeError if any batch fails."""
        items = [(s, ps) for s, ps in plan.items() if ps]
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            futures = [pool.submit(self.run_batch, s, ps) for s, ps in items]
            return [f.result() for f in futures]

    def repro(self, src: Source, p: Probe) -> str:
        return src.repro(probe_command(p, self.timeout) + " && echo allowed || echo blocked")
