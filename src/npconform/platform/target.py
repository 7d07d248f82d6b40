"""The target of a run as discovered once at its start, shared by every worker.

Light by design: scenarios and suites import it without the cluster-creation stack.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npconform.cluster.client import Clients
from npconform.cluster.options import RunOptions
from npconform.platform.capabilities import Capabilities


@dataclass
class RunState:
    """Everything workers and reports need about the run."""

    options: RunOptions
    kubeconfig: Path | None  # None: the pod's service account (--target in-cluster)
    capabilities: Capabilities
    offline: bool = False
    timings: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    workdir: Path = Path(".")
    identity: dict[str, Any] = field(default_factory=dict)  # cluster and user
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # safeguard objects
    cni_version: str | None = None

    @property
    def evidence_dir(self) -> Path:
        return self.workdir / "evidence"

    def to_json(self) -> dict[str, Any]:
        return {
            "options": self.options.to_json(),
            "kubeconfig": None if self.kubeconfig is None else str(self.kubeconfig),
            "capabilities": self.capabilities.to_json(),
            "offline": self.offline,
            "timings": self.timings,
            "started": self.started,
            "workdir": str(self.workdir),
            "identity": self.identity,
            "artifacts": self.artifacts,
            "cni_version": self.cni_version,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunState:
        return cls(
            options=RunOptions.from_json(d["options"]),
            kubeconfig=None if d.get("kubeconfig") is None else Path(d["kubeconfig"]),
            capabilities=Capabilities.from_json(d["capabilities"]),
            offline=bool(d.get("offline")),
            timings=list(d.get("timings", [])),
            started=float(d.get("started", time.time())),
            workdir=Path(d.get("workdir", ".")),
            identity=dict(d.get("identity") or {}),
            artifacts=list(d.get("artifacts") or []),
            cni_version=d.get("cni_version"),
        )

    @contextlib.contextmanager
    def _flock(self, name: str, exclusive: bool) -> Iterator[None]:
        """A lock file of the run, shared by every worker (flock: held per open file, so
        two holders in one process exclude each other too)."""
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def constraint_lock(self, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        """Held exclusively by tests that change the safeguard (the constraint, the webhook,
        Gatekeeper's Config) and shared by every test that takes an admission verdict, so no
        verdict is taken while it is changed. One lock file per run, for every worker."""
        return self._flock("constraint.lock", exclusive)

    def network_lock(self, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        """Held exclusively while a test changes what the whole cluster's network lets
        through (a cluster-wide Calico policy injected as a fault) and shared by every other
        test on the cluster, so no traffic verdict is taken while it is changed."""
        return self._flock("network.lock", exclusive)

    def clients(self) -> Clients:
        return Clients(self.kubeconfig, self.options.context)
