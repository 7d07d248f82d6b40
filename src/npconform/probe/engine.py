"""The batched probe engine: one exec per source pod runs all its probes at once.

All sources are probed concurrently from a bounded pool, each thread with its own API
client, with at most :data:`PROBE_BUDGET` probes in flight at once; each source's shell
session (:mod:`npconform.probe.session`: in a pod, or in a container outside the
cluster) is opened once and kept, and its probe tools are checked when it opens: a
source with the probe program runs each batch in it (one process); one without it runs
the shell script, and when it lacks one of that script's tools it fails at once, naming
the tool. What a batch runs and how its output reads is :mod:`npconform.probe.script`.

The engine knows nothing of pytest or of expectations: it turns a plan into observations.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client

from npconform.probe.script import (
    PROGRAM,
    PROGRAM_UDP_WAIT_FACTOR,
    SPORT_HIGH,
    SPORT_LOW,
    UDP,
    UDP_WAIT_FACTOR,
    BatchResult,
    Probe,
    ProbeError,
    Source,
    batch_script,
    has_program,
    missing_tools,
    parse_output,
    parse_program_output,
    probe_command,
    program_command,
    tools_check,
)
from npconform.probe.session import DockerSession, PodSession, Shell

#: Sessions a batch may use when one breaks (closed by the API server, the kubelet or a
#: restarted container): the batch only reads, so running it again is safe.
SESSION_ATTEMPTS = 3
SESSION_PAUSE = 1.0  # seconds before the second session; twice that before the third

#: The most probes an engine's batches run at once. A larger matrix waits for batches to
#: end before it starts more: every probe costs the nodes CPU (a connection through the
#: CNI's rules, an answer), and thousands at once on a small cluster delay answers past
#: the probes' waits (late answers, asked again with patient waits) instead of getting
#: the matrix done sooner. A batch larger than the budget runs alone. The budget is the
#: engine's, and each World has its own engine. The budget is held for a whole
#: batch, the opening of its session included, and is not first come, first served:
#: :meth:`ProbeEngine.run` serves one caller at a time (concurrent callers could keep a
#: large batch waiting), and :meth:`ProbeEngine.exec` (one script) does not count.
PROBE_BUDGET = 1500


class SessionWarning(UserWarning):
    """A probe session broke and was replaced; the batch ran again in a new one."""


def _breaks(src: Source, breaks: list[str]) -> str:
    if len(breaks) == 1:
        return breaks[0]
    listed = "; ".join(f"{i}) {b}" for i, b in enumerate(breaks, 1))
    return f"probe batch in {src.id} failed in {len(breaks)} sessions: {listed}"


class ProbeEngine:
    def __init__(
        self,
        api_factory: Callable[[], client.ApiClient],
        timeout: float = 1.0,
        workers: int = 64,
        udp_wait_factor: float = UDP_WAIT_FACTOR,
        program_udp_wait_factor: float = PROGRAM_UDP_WAIT_FACTOR,
        shell_factory: Callable[[Source], Shell] | None = None,
        probe_budget: int = PROBE_BUDGET,
    ) -> None:
        self.api_factory = api_factory
        self.timeout = timeout
        self.udp_wait_factor = udp_wait_factor  # the shell probes'
        self.program_udp_wait_factor = program_udp_wait_factor
        self.workers = workers
        self.probe_budget = probe_budget
        self._in_flight = 0
        self._room = threading.Condition()
        self._open_shell = shell_factory or self._shell
        self._lock = threading.Lock()
        self._next_port: dict[Source, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._sessions: dict[Source, Shell] = {}
        self._opening: dict[Source, threading.Lock] = {}
        self._program: set[Source] = set()  # sources whose container has the probe program
        self._batches = itertools.count(1)

    def _shell(self, src: Source) -> Shell:
        if src.docker:
            return DockerSession(src)
        return PodSession(client.CoreV1Api(self.api_factory()), src)

    def _exec(self, src: Source, render: Callable[[], str], timeout: float) -> str:
        """Run the script ``render`` gives in the source's shell session (opened once per
        source and kept: an exec costs more than the probes it runs). A session that breaks
        is replaced, up to ``SESSION_ATTEMPTS`` sessions in all, a moment apart; every
        break is reported as a warning, and when the last one breaks too the error names
        each break.
        The script is rendered anew for each session (a batch's UDP probes need new
        source ports: the broken session's may still be bound)."""
        stale: Shell | None = None
        breaks: list[str] = []
        for attempt in range(1, SESSION_ATTEMPTS + 1):
            try:
                session = self._session(src, stale)
            except ProbeError as e:
                if attempt == SESSION_ATTEMPTS or not breaks:
                    raise ProbeError(_breaks(src, [*breaks, str(e)])) from None
                breaks.append(str(e))
                time.sleep(SESSION_PAUSE * attempt)
                continue
            try:
                return session.run(render(), timeout * self._longest_udp_factor + 20)
            except ProbeError as e:
                self._drop(src, session)
                stale = session
                breaks.append(str(e))
                warnings.warn(
                    f"probe session in {src.id} broke (attempt {attempt} of "
                    f"{SESSION_ATTEMPTS}): {e}",
                    SessionWarning,
                    stacklevel=1,
                )
                if attempt == SESSION_ATTEMPTS:
                    raise ProbeError(_breaks(src, breaks)) from None
                time.sleep(SESSION_PAUSE * attempt)
        raise AssertionError("unreachable")

    def _session(self, src: Source, stale: Shell | None = None) -> Shell:
        """The source's open session; opened (and its tools checked) by exactly one thread
        when there is none, it is dead, or it is ``stale`` (the one the caller saw fail)."""
        with self._lock:
            opening = self._opening.setdefault(src, threading.Lock())
        with opening:
            with self._lock:
                s = self._sessions.get(src)
            if s is not None and s is not stale and s.alive():
                return s
            if s is not None:
                self._drop(src, s)
            s = self._open_shell(src)
            try:
                self._check_tools(src, s.run(tools_check(), 20))
            except BaseException:
                s.close()
                raise
            with self._lock:
                self._sessions[src] = s
            return s

    def _check_tools(self, src: Source, out: str) -> None:
        if "NPC-TOOLS" not in out:
            raise ProbeError(f"the tool check in {src.id} did not finish: {out[-200:]!r}")
        with self._lock:
            if has_program(out):
                self._program.add(src)
                return
            self._program.discard(src)
        missing = missing_tools(out)
        if missing:
            raise ProbeError(
                f"probe tool(s) missing in {src.id}: {', '.join(missing)} "
                f"(the probe image must provide them, or the probe program {PROGRAM}; "
                "see --probe-image)"
            )

    def _drop(self, src: Source, session: Shell) -> None:
        """Forget ``session`` if it is still the source's current one, and close it."""
        with self._lock:
            if self._sessions.get(src) is session:
                del self._sessions[src]
        session.close()

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

    @property
    def _longest_udp_factor(self) -> float:
        return max(self.udp_wait_factor, self.program_udp_wait_factor)

    def uses_program(self, src: Source) -> bool:
        """Whether the source's batches run in the probe program (known once its tools
        were checked)."""
        with self._lock:
            return src in self._program

    def runs(self, sources: set[Source]) -> dict[str, Any]:
        """How these sources' probes ran: their waits, and how many sources ran them in
        the probe program and how many in the shell script (nc, dig)."""
        with self._lock:
            program = sum(1 for s in sources if s in self._program)
        shell = len(sources) - program
        got: dict[str, Any] = {
            "tcp_wait_s": self.timeout,
            "udp_wait_s": round(
                self.timeout * (self.program_udp_wait_factor if program else self.udp_wait_factor),
                3,
            ),
            "sources_program": program,
            "sources_shell": shell,
        }
        if program and shell:
            got["udp_wait_s_shell"] = round(self.timeout * self.udp_wait_factor, 3)
        return got

    def run_batch(self, src: Source, probes: Sequence[Probe], patience: float = 1.0) -> BatchResult:
        """The source's probes, in one batch; waits ``patience`` times the engine's."""
        timeout = self.timeout * patience
        t0 = time.monotonic()
        sent: list[Probe] = []
        program = False

        def render() -> str:
            # rendered once the session (and so the probe program's presence) is known
            nonlocal program
            sent[:] = self._with_source_ports(src, probes)
            program = self.uses_program(src)
            if program:
                return program_command(sent, timeout, self.program_udp_wait_factor)
            return batch_script(sent, timeout, self.udp_wait_factor, str(next(self._batches)))

        out = self._exec(src, render, timeout)
        if program:
            obs = parse_program_output(sent, out)
        else:
            obs = parse_output(sent, out, timeout, self.udp_wait_factor)
        return BatchResult(src, obs, time.monotonic() - t0)

    def _budgeted(self, src: Source, probes: Sequence[Probe], patience: float) -> BatchResult:
        """``run_batch`` once the batch fits in the probe budget (or nothing else runs)."""
        n = len(probes)
        with self._room:
            self._room.wait_for(
                lambda: self._in_flight == 0 or self._in_flight + n <= self.probe_budget
            )
            self._in_flight += n
        try:
            return self.run_batch(src, probes, patience)
        finally:
            with self._room:
                self._in_flight -= n
                self._room.notify_all()

    def run(
        self, plan: Mapping[Source, Sequence[Probe]], patience: float = 1.0
    ) -> list[BatchResult]:
        """Every source's batch, concurrently (at most ``probe_budget`` probes in flight),
        waits ``patience`` times the engine's. Waits for all of them; then, if any batch
        failed, raises ProbeError naming every failed source."""
        items = [(s, ps) for s, ps in plan.items() if ps]
        if not items:
            return []
        with self._lock:
            if self._pool is None:
                # Kept for the engine's life: its threads keep their clients and sockets.
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="probe"
                )
            pool = self._pool
        futures = [(s, pool.submit(self._budgeted, s, ps, patience)) for s, ps in items]
        results: list[BatchResult] = []
        errors: list[str] = []
        for s, f in futures:
            try:
                results.append(f.result())
            except ProbeError as e:
                errors.append(str(e))
            except Exception as e:
                errors.append(f"{s.id}: {type(e).__name__}: {e}")
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ProbeError(errors[0] + more + ("\n" + "\n".join(errors[1:]) if more else ""))
        return results

    def exec(self, src: Source, script: str) -> str:
        """Run a script of the caller's in the source's session; its output up to
        ``NPC-END``."""
        return self._exec(src, lambda: script, self.timeout)

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
            pool, self._pool = self._pool, None
        for sess in sessions:
            sess.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def repro(self, src: Source, p: Probe) -> str:
        if self.uses_program(src):
            return src.repro(program_command([p], self.timeout, self.program_udp_wait_factor))
        cmd = probe_command(p, self.timeout, udp_wait_factor=self.udp_wait_factor)
        return src.repro(f"{cmd}; echo exit=$?")
