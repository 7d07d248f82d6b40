"""A small content-addressed build graph with progress and a summary table.

Every step has a key: the hash of its inputs (lock entries, generated files, recipe
revision) and of its dependencies' keys. A step whose output for its key exists is
reused; changing one version changes the keys of exactly the steps that depend on it.
Steps run in dependency order; CPU-heavy steps (Go builds) one at a time, others (Debian
downloads, image builds) beside them.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass
class Ctx:
    """What a step's functions see."""

    cache: Path
    logs: Path
    key: str
    deps: dict[str, Any]  # dependency name -> its output

    def log(self, name: str) -> Path:
        return self.logs / f"{name.replace(':', '-')}.log"


@dataclass
class Step:
    name: str
    inputs: dict[str, Any]
    build: Callable[[Ctx], Any]
    # Returns the step's output if present for the key, else None.
    cached: Callable[[Ctx], Any]
    deps: list[str] = field(default_factory=list)
    lane: str = "io"  # "cpu": one at a time; "io": up to two beside it
    what: str = ""


@dataclass
class StepReport:
    name: str
    state: str  # built | reused | failed | skipped
    seconds: float
    what: str
    error: str = ""


class BuildFailed(RuntimeError):
    pass


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class Graph:
    def __init__(self, cache: Path, out: TextIO = sys.stderr) -> None:
        self.cache = cache
        self.logs = cache / "logs"
        self.steps: dict[str, Step] = {}
        self.keys: dict[str, str] = {}
        self.outputs: dict[str, Any] = {}
        self.outcomes: list[StepReport] = []
        self.out = out
        self._lock = threading.Lock()
        self._t0 = time.monotonic()

    def add(self, step: Step) -> Step:
        if step.name in self.steps:
            raise ValueError(f"duplicate step {step.name}")
        self.steps[step.name] = step
        return step

    def key(self, name: str) -> str:
        if name not in self.keys:
            s = self.steps[name]
            self.keys[name] = _digest(
                {"name": name, "inputs": s.inputs, "deps": {d: self.key(d) for d in s.deps}}
            )
        return self.keys[name]

    def closure(self, targets: list[str]) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()

        def visit(n: str, path: tuple[str, ...]) -> None:
            if n in path:
                raise ValueError(f"dependency cycle: {' -> '.join((*path, n))}")
            if n in seen:
                return
            if n not in self.steps:
                raise ValueError(f"unknown step {n}")
            for d in self.steps[n].deps:
                visit(d, (*path, n))
            seen.add(n)
            order.append(n)

        for t in targets:
            visit(t, ())
        return order

    def say(self, msg: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self._t0:7.1f}s] {msg}", file=self.out, flush=True)

    def _ctx(self, name: str) -> Ctx:
        s = self.steps[name]
        return Ctx(
            cache=self.cache,
            logs=self.logs,
            key=self.key(name),
            deps={d: self.outputs.get(d) for d in s.deps},
        )

    def _run_one(self, name: str) -> StepReport:
        s = self.steps[name]
        t0 = time.monotonic()
        ctx = self._ctx(name)
        found = s.cached(ctx)
        if found is not None:
            self.outputs[name] = found
            return StepReport(name, "reused", time.monotonic() - t0, s.what)
        self.say(f"{name}: building {s.what} (log: {ctx.log(name)})")
        ticker = _Ticker(self, name, t0)
        try:
            self.outputs[name] = s.build(ctx)
        finally:
            ticker.stop()
        secs = time.monotonic() - t0
        self.say(f"{name}: built in {secs:.1f}s")
        return StepReport(name, "built", secs, s.what)

    def run(self, targets: list[str], io_workers: int = 2) -> list[StepReport]:
        order = self.closure(targets)
        pending = list(order)
        running: dict[Future[StepReport], str] = {}
        done: set[str] = set()
        failed: dict[str, str] = {}
        cpu_busy = False
        self.logs.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=io_workers + 1) as pool:
            while pending or running:
                for name in list(pending):
                    s = self.steps[name]
                    if any(d in failed for d in s.deps):
                        pending.remove(name)
                        failed[name] = "dependency failed"
                        self.outcomes.append(
                            StepReport(name, "skipped", 0.0, s.what, "dependency failed")
                        )
                        continue
                    if not all(d in done for d in s.deps):
                        continue
                    io_running = sum(1 for n in running.values() if self.steps[n].lane != "cpu")
                    if s.lane == "cpu" and cpu_busy:
                        continue
                    if s.lane != "cpu" and io_running >= io_workers:
                        continue
                    pending.remove(name)
                    if s.lane == "cpu":
                        cpu_busy = True
                    running[pool.submit(self._run_one, name)] = name
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = running.pop(fut)
                    if self.steps[name].lane == "cpu":
                        cpu_busy = False
                    try:
                        outcome = fut.result()
                        done.add(name)
                    except BaseException as e:
                        msg = str(e) or type(e).__name__
                        failed[name] = msg
                        outcome = StepReport(name, "failed", 0.0, self.steps[name].what, msg)
                        self.say(f"{name}: FAILED: {msg}")
                        if isinstance(e, KeyboardInterrupt):
                            raise
                    self.outcomes.append(outcome)
        if failed:
            first = next(o for o in self.outcomes if o.state == "failed")
            raise BuildFailed(f"{first.name}: {first.error}")
        return self.outcomes

    def table(self) -> str:
        rows = [("step", "result", "seconds", "what")]
        for o in self.outcomes:
            rows.append((o.name, o.state, f"{o.seconds:.1f}", o.what))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = []
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(widths[j]) for j, c in enumerate(r)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        built = sum(1 for o in self.outcomes if o.state == "built")
        reused = sum(1 for o in self.outcomes if o.state == "reused")
        total = time.monotonic() - self._t0
        lines.append(f"{built} built, {reused} reused, total {total:.1f}s")
        return "\n".join(lines)


class _Ticker:
    """Prints a still-running line every minute for long steps."""

    def __init__(self, graph: Graph, name: str, t0: float, every: float = 60.0) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(graph, name, t0, every), daemon=True
        )
        self._thread.start()

    def _loop(self, graph: Graph, name: str, t0: float, every: float) -> None:
        while not self._stop.wait(every):
            graph.say(f"{name}: still building ({time.monotonic() - t0:.0f}s)")

    def stop(self) -> None:
        self._stop.set()
