"""A long-lived shell in a source's container, fed one batch script at a time (an exec
costs more than the probes it runs): in a pod through the API server, in a container
outside the cluster (an external host) through one ``docker exec``. When it closes, it
says how: the exit status, the shell's stderr, and a pod container's last termination."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from kubernetes import client
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

from npconform.probe.script import ProbeError, Source


class Shell(Protocol):
    """What the engine needs of a long-lived shell in a source container."""

    def alive(self) -> bool: ...

    def run(self, script: str, timeout: float) -> str: ...

    def close(self) -> None: ...


class PodSession:
    """A shell in the source pod's probe container, fed one batch script at a time."""

    _ids = itertools.count(1)

    def __init__(self, core: client.CoreV1Api, src: Source) -> None:
        self.src = src
        self.core = core
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
        out = err = ""
        while time.monotonic() < deadline:
            self.ws.update(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            out += str(self.ws.read_stdout(timeout=0))
            err += str(self.ws.read_stderr(timeout=0))
            if marker in out:
                return out.replace(marker, "NPC-END")
            if not self.ws.is_open():
                raise ProbeError(
                    f"exec session in {self.src.id} closed; "
                    + closed_detail(out, err, str(self.ws.read_channel(ERROR_CHANNEL)))
                    + self._container_state()
                )
        raise ProbeError(f"probe batch in {self.src.id} did not finish within {timeout:.0f}s")

    def _container_state(self) -> str:
        """The probe container's restarts and last termination, when it has any: a
        session also closes when its container is killed (out of memory, evicted)."""
        try:
            pod = self.core.read_namespaced_pod(self.src.pod, self.src.namespace)
        except Exception as e:  # the session's failure is the error; this only explains
            return f"; pod state unreadable: {type(e).__name__}"
        return container_state(pod.status, self.src.container)

    def close(self) -> None:
        # Under the session's lock: never while another thread is reading from it.
        with self._lock, contextlib.suppress(Exception):  # closing a dead socket
            self.ws.close()


class DockerSession:
    """A shell in a container the suite started outside the cluster, over one
    ``docker exec -i`` kept open and fed one batch script at a time: a ``docker exec``
    per batch costs a CLI start and a runtime exec (about a tenth of a CPU second) for
    every round of every step."""

    _ids = itertools.count(1)

    def __init__(self, src: Source, argv: Sequence[str] | None = None) -> None:
        self.src = src
        self._lock = threading.Lock()
        cmd = list(argv) if argv is not None else ["docker", "exec", "-i", src.docker, "sh"]
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
            )
        except OSError as e:
            raise ProbeError(f"cannot exec in {src.id}: {e}") from None
        self._err = b""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, script: str, timeout: float) -> str:
        with self._lock:
            return self._run(script, timeout)

    def _run(self, script: str, timeout: float) -> str:
        proc = self.proc
        assert proc.stdin and proc.stdout and proc.stderr
        if proc.stdin.closed or proc.poll() is not None:
            raise ProbeError(f"exec session in {self.src.id} is closed")
        marker = f"NPC-END-{next(self._ids)}".encode()
        self._err = b""
        try:
            proc.stdin.write(script.encode() + b"\necho " + marker + b"\n")
            proc.stdin.flush()
        except (OSError, ValueError) as e:
            raise ProbeError(
                f"exec session in {self.src.id} broke: {e}; " + self._ended("")
            ) from None
        deadline = time.monotonic() + timeout
        out = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                for key, _ in sel.select(min(1.0, max(0.0, deadline - time.monotonic()))):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                    elif key.fileobj is proc.stderr:
                        self._err = (self._err + chunk)[-4096:]
                    else:
                        out += chunk
                if marker in out:
                    return out.decode(errors="replace").replace(marker.decode(), "NPC-END")
                if not sel.get_map():  # both pipes closed: the shell ended
                    raise ProbeError(
                        f"exec session in {self.src.id} closed; "
                        + self._ended(out.decode(errors="replace"))
                    )
        raise ProbeError(f"probe batch in {self.src.id} did not finish within {timeout:.0f}s")

    def _ended(self, out: str) -> str:
        """How the session's process ended: its stderr (what is left of it read now),
        its output and its exit status."""
        try:
            code: int | str = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = "none (still running)"
        stderr = self.proc.stderr
        if stderr is not None and not stderr.closed:
            with contextlib.suppress(OSError, ValueError):
                os.set_blocking(stderr.fileno(), False)
                self._err = (self._err + (stderr.read() or b""))[-4096:]
        return closed_detail(out, self._err.decode(errors="replace"), "") + f"; exit status {code}"

    def close(self) -> None:
        with self._lock:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError, ValueError):  # a broken pipe
                    self.proc.stdin.close()  # the shell's end of input: it exits
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for f in (self.proc.stdout, self.proc.stderr):
                with contextlib.suppress(OSError, ValueError):
                    f.close()  # type: ignore[union-attr]


def closed_detail(out: str, err: str, status: str) -> str:
    """What a closed exec session left behind: the exit status the API server sent on
    its error channel, the shell's stderr, the end of its stdout."""
    parts = []
    try:
        st = json.loads(status) if status.strip() else {}
    except ValueError:
        st = {"message": status.strip()}
    if isinstance(st, dict) and st:
        msg = st.get("message") or st.get("status") or ""
        parts.append(f"status: {' '.join(str(msg).split())}")
    if err.strip():
        parts.append(f"stderr: {' '.join(err.split())[-200:]!r}")
    parts.append(f"output: {out[-200:]!r}")
    return "; ".join(parts)


def container_state(status: Any, container: str) -> str:
    """``; container <name> restarted N time(s), last: <reason> (exit <code>)``, or
    ``""`` when the container never restarted."""
    for cs in getattr(status, "container_statuses", None) or []:
        if cs.name != container or not cs.restart_count:
            continue
        last = cs.last_state.terminated if cs.last_state else None
        why = f", last: {last.reason} (exit {last.exit_code})" if last else ""
        return f"; container {container} restarted {cs.restart_count} time(s){why}"
    return ""
