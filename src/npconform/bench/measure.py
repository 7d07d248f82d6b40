"""What the benchmarks measure: start-up, one matrix (the engine and a one-exec-per-probe
baseline), policy convergence, the whole suite, peak memory."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.stream import stream

from npconform.cluster.options import RunOptions
from npconform.model.matrix import Cell, Matrix, Readings
from npconform.platform.target import RunState
from npconform.probe.converge import ask_patiently, observe
from npconform.probe.script import ProbeError
from npconform.scenario.world import PodDef, World
from npconform.session import Session

ROOT = Path(__file__).resolve().parents[3]
PORTS = [(8080, "TCP"), (8081, "TCP"), (8080, "UDP"), (8081, "UDP")]


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_mib": mem,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def _iso_to_epoch(ts: Any) -> float:
    if isinstance(ts, datetime):
        return ts.timestamp()
    return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()


def startup(opts: RunOptions, workdir: Path) -> tuple[Session, RunState, dict[str, float]]:
    t0 = time.time()
    s = Session(opts, workdir)
    state = s.start()
    nodes = json.loads(
        subprocess.run(
            [
                "docker",
                "inspect",
                *[f"{opts.cluster_name}-control-plane"]
                + [
                    f"{opts.cluster_name}-worker{'' if i == 0 else i + 1}"
                    for i in range(opts.workers)
                ],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    started = max(_iso_to_epoch(n["State"]["StartedAt"][:26] + "+00:00") for n in nodes)
    api_nodes = state.clients().core().list_node().items
    cp = [
        n for n in api_nodes if "node-role.kubernetes.io/control-plane" in (n.metadata.labels or {})
    ]
    workers = [n for n in api_nodes if n not in cp]
    out = {
        "node_containers_started": round(started - t0, 1),
        "control_plane_up": round(_iso_to_epoch(cp[0].metadata.creation_timestamp) - t0, 1),
        "workers_joined": round(
            max(_iso_to_epoch(n.metadata.creation_timestamp) for n in workers) - t0, 1
        ),
    }
    acc = 0.0
    for step in state.timings:
        acc += float(step["seconds"])
        out[f"{step['step']}_done"] = round(acc, 1)
    out["total"] = round(time.time() - t0, 1)
    return s, state, out


def matrix_world(state: RunState, per_namespace: int = 3) -> tuple[World, Matrix]:
    """Namespaces x, y, z with ``per_namespace`` pods each, namespace x denying all
    ingress; every pod to every pod (itself included) on two ports, TCP and UDP."""
    w = World(state, state.clients(), "bench", f"bench{per_namespace * 3}")
    names = [chr(ord("a") + i) for i in range(per_namespace)]
    for ns in ("x", "y", "z"):
        w.namespace(ns, {"ns": ns})
    w.add_pods([PodDef(ns, p, {"pod": p}) for ns in ("x", "y", "z") for p in names])
    # Namespace x denies all ingress: a third of the probes are blocked and time out.
    w.apply(
        {
            "metadata": {"name": "deny-ingress", "namespace": "x"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
    )
    ids = [f"{ns}/{p}" for ns in ("x", "y", "z") for p in names]
    m = Matrix()
    for s in ids:
        for d in ids:
            for port, proto in PORTS:
                m[Cell(s, d, port, proto)] = s == d or not d.startswith("x/")
    w.expect("bench matrix", m)  # converged before timing
    return w, m


def cost_curve(state: RunState, sizes: tuple[int, ...] = (3, 6, 12)) -> list[dict[str, Any]]:
    """One matrix evaluation for 9, 18 and 36 pods (median of 3 rounds each). A size whose
    matrix could not be evaluated correctly is recorded with its error; the next size is
    still measured."""
    out: list[dict[str, Any]] = []
    for n in sizes:
        row: dict[str, Any] = {"pods": 3 * n}
        w: World | None = None
        try:
            w, m = matrix_world(state, n)
            row["probes"] = len(m)
            row.update(time_engine(w, m, rounds=3))
        except (AssertionError, ProbeError) as e:
            row["error"] = " ".join(str(e).split())[:300]
        finally:
            if w is not None:
                w.close(wait=60)
        out.append(row)
    return out


def time_engine(
    w: World, m: Matrix, rounds: int = 5, udp_wait_factor: float | None = None
) -> dict[str, Any]:
    """Median wall time of evaluating every cell of ``m`` in one engine pass (UDP waiting
    ``udp_wait_factor`` timeouts, if given; the wait reported is the one that ran). An allowed
    cell that reads as blocked is asked again with patient waits, as a confirmation pass
    does; the round's time includes that, and the cells it rescued are counted."""
    probes = w.probes_for(m)
    allowed = [c for c, v in m.items() if v]
    late = 0
    defaults = (w.engine.program_udp_wait_factor, w.engine.udp_wait_factor)
    if udp_wait_factor is not None:
        w.engine.program_udp_wait_factor = w.engine.udp_wait_factor = udp_wait_factor
    times = []
    try:
        for _ in range(rounds):
            t0 = time.monotonic()
            got = observe(w.engine, probes, list(m))
            late += len(ask_patiently(w.engine, probes, got, allowed))
            times.append(time.monotonic() - t0)
            readings = Readings({c: o.outcome for c, o in got.items()})
            wrong = readings.mismatches(m)
            assert not wrong, "the benchmark matrix changed under the engine: " + "; ".join(
                f"{c} expected {'allowed' if m[c] else 'blocked'}, got {got[c].outcome} "
                f"{got[c].detail}".strip()
                for c in wrong[:5]
            )
    finally:
        how = w.engine.runs({src for src, _ in probes.values()})
        w.engine.program_udp_wait_factor, w.engine.udp_wait_factor = defaults
    med = statistics.median(times)
    return {
        "probes": len(m),
        "rounds": rounds,
        "seconds_median": round(med, 2),
        "seconds_min": round(min(times), 2),
        "seconds_max": round(max(times), 2),
        "probes_per_second": round(len(m) / med, 1),
        "udp_wait_s": how["udp_wait_s"],
        "tcp_timeout_s": w.engine.timeout,
        "late_answers": late,
    }


def time_baseline(w: World, m: Matrix, workers: int = 3) -> dict[str, Any]:
    """Kubernetes' netpol e2e way: one exec per probe running `agnhost connect`, 3 workers."""
    api_local = threading.local()

    def one(cell: Cell) -> bool:
        if not hasattr(api_local, "core"):
            api_local.core = client.CoreV1Api(w.clients.new())
        src = w.source(cell.src)
        host = w.host_of(cell)
        cmd = [
            "/agnhost",
            "connect",
            f"{host}:{cell.port}",
            "--timeout=1s",
            f"--protocol={cell.protocol.lower()}",
        ]
        resp = stream(
            api_local.core.connect_get_namespaced_pod_exec,
            src.pod,
            src.namespace,
            container=src.container,
            command=cmd,
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        resp.run_forever(timeout=20)
        code = resp.returncode
        resp.close()
        return bool(code == 0)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = dict(zip(list(m), pool.map(one, list(m)), strict=True))
    secs = time.monotonic() - t0
    wrong = sum(1 for c, v in results.items() if v != m[c])
    return {
        "probes": len(m),
        "workers": workers,
        "seconds": round(secs, 1),
        "probes_per_second": round(len(m) / secs, 2),
        "disagreements_with_expected": wrong,
    }


def convergence(w: World, repeats: int = 3) -> dict[str, Any]:
    ids = [f"{ns}/{p}" for ns in ("x", "y", "z") for p in ("a", "b", "c")]
    cols = [(8080, "TCP"), (8081, "TCP")]

    def m(allowed: Any) -> Matrix:
        return Matrix(
            {
                Cell(s, d, port, proto): bool(allowed(s, d, port))
                for s in ids
                for d in ids
                if s != d
                for port, proto in cols
            }
        )

    out: dict[str, list[float]] = {"new": [], "changed": [], "deleted": []}
    w.delete_all_policies()
    w.expect("baseline", m(lambda s, d, p: True))
    for _ in range(repeats):
        w.apply(
            {
                "metadata": {"name": "deny-y", "namespace": "y"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            }
        )
        out["new"].append(
            w.expect("new", m(lambda s, d, p: not d.startswith("y/"))).outcome.converge_seconds
        )
        w.apply(
            {
                "metadata": {"name": "deny-y", "namespace": "y"},
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"port": 8080}]}],
                },
            }
        )
        out["changed"].append(
            w.expect(
                "changed", m(lambda s, d, p: not d.startswith("y/") or p == 8080)
            ).outcome.converge_seconds
        )
        w.delete("y", "deny-y")
        out["deleted"].append(w.expect("deleted", m(lambda s, d, p: True)).outcome.converge_seconds)
    return {
        k: {"median_s": round(statistics.median(v), 2), "max_s": round(max(v), 2), "samples": v}
        for k, v in out.items()
    }


class MemorySampler:
    """Peak memory of the cluster's node containers (docker stats), sampled every 2 s."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(2):
            out = subprocess.run(
                ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            total = 0.0
            for line in out.splitlines():
                name, _, usage = line.partition(" ")
                if name.startswith(self.prefix):
                    total += _mib(usage.split("/")[0].strip())
            self.peak_mib = max(self.peak_mib, total)

    def __enter__(self) -> MemorySampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def _mib(text: str) -> float:
    units = {
        "KiB": 1 / 1024,
        "MiB": 1,
        "GiB": 1024,
        "B": 1 / 2**20,
        "kB": 1 / 1024,
        "MB": 1,
        "GB": 1024,
    }
    for u in sorted(units, key=len, reverse=True):
        if text.endswith(u):
            return float(text[: -len(u)]) * units[u]
    return 0.0


def pytest_run(args: list[str], workers: int, report: Path) -> dict[str, Any]:
    """Time ``pytest ARGS -n WORKERS`` from the checkout; its summary line and status."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *args,
            "-n",
            str(workers),
            "-q",
            "-p",
            "no:cacheprovider",
            "--report-dir",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    secs = time.monotonic() - t0
    tail = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln][-1:]
    return {
        "workers": workers,
        "seconds": round(secs, 1),
        "exit": proc.returncode,
        "summary": tail[0].strip("= ") if tail else "",
    }


def whole_suite(cluster: str, workers: int, report: Path) -> dict[str, Any]:
    reuse = ["--cluster-name", cluster, "--reuse-cluster", "--keep-cluster"]
    return pytest_run(["suites", "--dist", "loadgroup", *reuse], workers, report)
