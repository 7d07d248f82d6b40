"""The probe script: what one batch runs in a source container, and how its output reads.

When the source container has npconform's probe program (``npcprobe``, built from
``airgap/files/npcprobe.go`` into the probe image), one process runs the whole batch, each
probe in its own goroutine with sub-second waits, and prints each probe's outcome class
itself (:func:`program_command`, :func:`parse_program_output`). Otherwise (another
``--probe-image``, an external container without it) a shell script does, as follows.

For each source, a shell script starts every probe in the background (TCP: ``nc -z -v``;
UDP: two datagrams to agnhost's serve-hostname, which answers them; DNS: ``dig``), each
writing what its tool said to a file of its own, and prints one machine-readable line per
probe (``NPC <index> <exit status> <uptime before> <uptime after>``); after the last one
the files are printed in one go. :func:`parse_output` turns that into one outcome class
per probe (connected, timeout, refused, error: ``npconform.model.matrix.OUTCOMES``). A
probe whose line is missing, whose tool is missing or whose output is not understood is an
``error``, never a verdict.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from npconform.model.matrix import CONNECTED, ERROR, OUTCOMES, REFUSED, TIMEOUT, Cell

TCP = "TCP"
UDP = "UDP"
DNS = "DNS"  # a DNS query over UDP to ``host``:``port``
SCTP = "SCTP"

# UDP source ports the engine hands out, in turn per source: below Linux's ephemeral
# range (32768-60999), so they never collide with ports the kernel picks.
SPORT_LOW, SPORT_HIGH = 20000, 32000

#: What a batch script runs in the source container; each session checks them once.
TOOLS = ("nc", "dig", "sleep", "printf", "mkdir", "grep", "sed", "rm")
#: npconform's probe program; when a source has it, its batches need no other tool.
PROGRAM = "npcprobe"
#: Seconds between a UDP probe's datagrams when the probe program sends them: it keeps
#: sending until the answer or the wait's end, so one lost datagram never reads as blocked.
PROGRAM_RESEND = 0.2


class ProbeError(RuntimeError):
    """The probe could not run (exec failed, a tool missing, output incomplete): an error
    of the test, never a verdict."""


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
    outcome: str  # connected | timeout | refused | error
    detail: str = ""

    @property
    def starved(self) -> bool:
        """An error because every attempt of the probe program woke late: no reading."""
        return self.outcome == "error" and self.detail.startswith(STARVED)

    @property
    def allowed(self) -> bool:
        return self.outcome == CONNECTED


@dataclass
class BatchResult:
    source: Source
    observations: dict[Cell, Observation] = field(default_factory=dict)
    seconds: float = 0.0


PAYLOAD = "npconform"  # the datagram a UDP probe sends
UDP_RESEND = 0.3  # seconds between a UDP probe's two datagrams
#: How the probe program's error begins when every attempt of a probe timed out late
#: (its process was starved of CPU, so the timeout is no reading).
STARVED = "every attempt timed out late"
UDP_WAIT_FACTOR = 2  # the shell probes' UDP wait, in timeouts (nc sends two datagrams)
#: The probe program's UDP wait, in timeouts: it sends a datagram every PROGRAM_RESEND
#: until one is answered, so a lost datagram costs no more than a lost SYN does.
PROGRAM_UDP_WAIT_FACTOR = 1.0
#: A UDP probe that ends this long before its wait, with no answer and no error message,
#: ended on a read error: the ICMP port unreachable of a closed port or a rejecting CNI.
_UDP_EARLY = 0.5


def _wait(timeout: float) -> int:
    return max(1, math.ceil(timeout))


def probe_command(
    p: Probe, timeout: float, out: str = "/dev/stdout", udp_wait_factor: float = UDP_WAIT_FACTOR
) -> str:
    """The shell command for one probe, its tool's output (stdout and stderr) to ``out``.

    A TCP or DNS probe costs the batch two processes (its background job and nc or dig);
    a UDP probe four (also the writer of its two datagrams and its sleep)."""
    t = _wait(timeout)
    host, port = shlex.quote(p.host), int(p.port)
    if p.protocol == TCP:
        # -v: nc says "refused" or "timed out"; success needs no words (exit status 0)
        return f"nc -z -v -w {t} {host} {port} >{out} 2>&1"
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
        return (
            f"{{ printf {PAYLOAD}; sleep {UDP_RESEND}; printf {PAYLOAD}; }} 2>/dev/null | "
            f"nc -u -W 1 -w {math.ceil(t * udp_wait_factor)}{sport} {host} {port} >{out} 2>&1"
        )
    if p.protocol == DNS:
        return f"dig +time={t} +tries=1 -p {port} @{host} {shlex.quote(p.query)} A >{out} 2>&1"
    raise ProbeError(f"protocol {p.protocol} cannot be probed")


def tools_check() -> str:
    """A script that prints ``NPC-PROGRAM`` when the container has the probe program,
    ``NPC-MISSING <tool>`` for every shell probe tool it lacks, then ``NPC-TOOLS``."""
    return (
        f"command -v {PROGRAM} >/dev/null 2>&1 && echo NPC-PROGRAM; "
        f"for t in {' '.join(TOOLS)}; do command -v $t >/dev/null 2>&1 || "
        "echo NPC-MISSING $t; done; echo NPC-TOOLS"
    )


def missing_tools(out: str) -> list[str]:
    return [ln.split()[1] for ln in out.splitlines() if ln.startswith("NPC-MISSING ")]


def has_program(out: str) -> bool:
    return "NPC-PROGRAM" in out.splitlines()


def _secs(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def program_command(
    probes: Sequence[Probe], timeout: float, udp_wait_factor: float = PROGRAM_UDP_WAIT_FACTOR
) -> str:
    """The probe program's command line for a batch: TCP connects and DNS queries wait
    ``timeout`` seconds, UDP probes ``timeout * udp_wait_factor``, as given (no rounding
    up to whole seconds, as nc needs)."""
    specs = []
    for i, p in enumerate(probes):
        if p.protocol not in (TCP, UDP, DNS):
            raise ProbeError(f"protocol {p.protocol} cannot be probed")
        query = p.query if p.protocol == DNS else ""
        sport = p.source_port or ""
        specs.append(shlex.quote(f"{i},{p.protocol},{p.host},{int(p.port)},{sport},{query}"))
    return (
        f"{PROGRAM} -tcp {_secs(timeout)} -udp {_secs(timeout * udp_wait_factor)} "
        f"-resend {_secs(PROGRAM_RESEND)} -dns {_secs(timeout)} {' '.join(specs)} 2>&1"
    )


_RESULT = re.compile(r"^NPCR (\d+) (\w+) ([0-9.]+) (.*)$")


def parse_program_output(probes: Sequence[Probe], out: str) -> dict[Cell, Observation]:
    """Each probe's observation from the probe program's lines. A batch that did not end
    (no ``NPCR-DONE``: the program refused its arguments or was killed) raises
    ProbeError with what it said; a probe without its line, or with an outcome that is
    not a class, is an ``error``."""
    if "NPC-END" not in out:
        raise ProbeError(f"probe batch did not finish; output: {out[-300:]!r}")
    if f"NPCR-DONE {len(probes)}" not in out.splitlines():
        said = " ".join(ln for ln in out.splitlines() if not ln.startswith("NPC"))
        raise ProbeError(
            f"the probe program did not finish its batch: {said[-300:] or repr(out[-300:])}"
        )
    got: dict[int, Observation] = {}
    for line in out.splitlines():
        m = _RESULT.match(line.strip())
        if not m:
            continue
        outcome, detail = m.group(2), m.group(4).strip()
        detail = "" if detail == "-" else detail
        if outcome in OUTCOMES:
            got[int(m.group(1))] = Observation(outcome, detail)
        else:
            got[int(m.group(1))] = Observation(ERROR, f"unknown outcome {outcome!r}: {detail}")
    return {
        p.cell: got.get(i, Observation(ERROR, "the probe printed no result"))
        for i, p in enumerate(probes)
    }


def batch_script(
    probes: Sequence[Probe],
    timeout: float,
    udp_wait_factor: float = UDP_WAIT_FACTOR,
    batch: str = "b",
) -> str:
    # One background job per probe, all in parallel (what each forks: probe_command).
    # `read` is a shell builtin: the uptime around a probe costs no process.
    d = f"/tmp/npc.{batch}"
    lines = [f"mkdir -p {d}"]
    for i, p in enumerate(probes):
        cmd = probe_command(p, timeout, f"{d}/{i}", udp_wait_factor)
        lines.append(
            f"{{ read a _ </proc/uptime; {cmd}; r=$?; read b _ </proc/uptime; "
            f"echo NPC {i} $r $a $b; }} &"
        )
    lines.append("wait")
    lines.append(f"grep -H '' {d}/* 2>/dev/null | sed 's|^{d}/|NPC-OUT |'")
    lines.append(f"rm -rf {d}")
    return "\n".join(lines)


_LINE = re.compile(r"^NPC (\d+) (\d+) ([0-9.]+) ([0-9.]+)$")
_OUT = re.compile(r"^NPC-OUT (\d+):(.*)$")
_ADDRESS = re.compile(r"^\S+\.\s+\d+\s+IN\s+A{1,4}\s+[0-9a-f.:]+$")


def classify(
    p: Probe, status: int, seconds: float, text: str, timeout: float, udp_wait_factor: float
) -> Observation:
    """One probe's outcome class from its tool's exit status, duration and output."""
    said = " ".join(text.split())
    if status == 127 or "not found" in said:
        return Observation(ERROR, f"probe tool missing: {said or 'exit 127'}")
    if p.protocol == TCP:
        if status == 0:
            return Observation(CONNECTED)
        if "refused" in said:
            return Observation(REFUSED, "connection refused (TCP reset)")
        if "No route to host" in said or "unreachable" in said:
            return Observation(REFUSED, f"unreachable (ICMP): {said}")
        if "timed out" in said:
            return Observation(TIMEOUT)
        return Observation(ERROR, f"nc exit {status}: {said or 'no output'}")
    if p.protocol == UDP:
        if status != 0:
            return Observation(ERROR, f"nc exit {status}: {said or 'no output'}")
        if said:
            return Observation(CONNECTED)
        if seconds < _wait(timeout) * udp_wait_factor - _UDP_EARLY:
            return Observation(REFUSED, f"no answer, read error after {seconds:.2f}s (ICMP)")
        return Observation(TIMEOUT)
    if p.protocol == DNS:
        if "connection refused" in said:
            return Observation(REFUSED, "connection refused (ICMP)")
        if "timed out" in said or "no servers could be reached" in said:
            return Observation(TIMEOUT)
        answers = [ln for ln in text.splitlines() if _ADDRESS.match(ln.strip())]
        if status == 0 and answers:
            return Observation(CONNECTED)
        status_word = re.search(r"status: (\w+)", said)
        what = status_word.group(1) if status_word else f"exit {status}"
        return Observation(ERROR, f"DNS answered {what} without an address for {p.query}")
    return Observation(ERROR, f"protocol {p.protocol} cannot be probed")


def parse_output(
    probes: Sequence[Probe],
    out: str,
    timeout: float = 1.0,
    udp_wait_factor: float = UDP_WAIT_FACTOR,
) -> dict[Cell, Observation]:
    if "NPC-END" not in out:
        raise ProbeError(f"probe batch did not finish; output: {out[-300:]!r}")
    status: dict[int, tuple[int, float]] = {}
    texts: dict[int, list[str]] = {}
    for line in out.splitlines():
        m = _LINE.match(line.strip())
        if m:
            i = int(m.group(1))
            status[i] = (int(m.group(2)), float(m.group(4)) - float(m.group(3)))
            continue
        m = _OUT.match(line)
        if m:
            texts.setdefault(int(m.group(1)), []).append(m.group(2))
    obs: dict[Cell, Observation] = {}
    for i, p in enumerate(probes):
        if i not in status:
            obs[p.cell] = Observation(ERROR, "the probe printed no result")
            continue
        code, seconds = status[i]
        text = "\n".join(texts.get(i, []))
        obs[p.cell] = classify(p, code, seconds, text, timeout, udp_wait_factor)
    return obs
