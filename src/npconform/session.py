"""One conformance run: bring the target up once, share it, tear it down.

The controller process (the only process without xdist, or xdist's controller) calls
``start`` before any test runs and ``finish`` at the end; workers call ``attach`` with
the state file the controller wrote. Nothing here knows about pytest.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from npconform import NAME
from npconform.airgap.build import default_cache
from npconform.cluster.client import Clients
from npconform.cluster.kind import KindTarget
from npconform.cluster.kube import InstallReport
from npconform.cluster.options import RunOptions, UsageError
from npconform.cluster.workload import RUN_LABEL, delete_namespaces
from npconform.gatekeeper import install as gkinstall
from npconform.lock import Lock, load
from npconform.platform import cni, inventory
from npconform.platform.capabilities import Capabilities, discover
from npconform.platform.target import RunState


def say(msg: str, t0: float | None = None) -> None:
    suffix = f" ({time.monotonic() - t0:.1f}s)" if t0 is not None else ""
    print(f"{NAME}: {msg}{suffix}", file=sys.stderr, flush=True)


class Session:
    def __init__(self, opts: RunOptions, workdir: Path, lock: Lock | None = None) -> None:
        self.opts = opts
        self.workdir = workdir
        self.lock = lock or load()
        self.kind: KindTarget | None = None
        self.state: RunState | None = None
        self.cleaned = False
        self._old_term: Any = None

    @property
    def state_file(self) -> Path:
        return self.workdir / "state.json"

    def start(self) -> RunState:
        """Create or connect to the target and make the platform ready. Bad input raises
        UsageError before anything is created."""
        self.opts.validate()
        self._trap_sigterm()
        timings: list[dict[str, Any]] = []
        t0 = time.monotonic()
        offline = False
        if self.opts.target == "kind":
            self.kind = KindTarget(self.opts, self.lock, self.workdir / "kind")
            say(
                f"creating kind cluster '{self.opts.cluster_name}' ({self.opts.workers} workers, "
                f"{self.kind.node_image})"
            )
            kubeconfig = self.kind.up()
            offline = self.kind.offline
            timings.append({"step": "cluster", "seconds": round(time.monotonic() - t0, 1)})
            say("cluster created", t0)
        elif self.opts.target == "in-cluster":
            kubeconfig = None
        else:
            assert self.opts.kubeconfig is not None
            kubeconfig = self.opts.kubeconfig
        clients = Clients(kubeconfig, self.opts.context)
        try:
            version = clients.check_reachable()
            say(f"API server reachable, Kubernetes {version}")
            if self.opts.target == "kind" and self.opts.install_platform:
                rep = InstallReport()
                self._install(clients, offline, rep)
                timings += rep.steps
            caps = discover(clients)
            self._require_platform(caps)
            who = inventory.identity(clients)
            objects = inventory.safeguard_objects(clients)
            cni_version = inventory.cni_version(clients, caps.cni)
        except BaseException:
            self.finish(failed=True)
            raise
        self.state = RunState(
            self.opts,
            kubeconfig,
            caps,
            offline,
            timings,
            workdir=self.workdir,
            identity=who,
            artifacts=objects,
            cni_version=cni_version,
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.state.to_json(), indent=2))
        return self.state

    def _install(self, clients: Clients, offline: bool, rep: InstallReport) -> None:
        cache = default_cache()
        t0 = time.monotonic()
        if self.opts.cni == "calico":
            cni.install_calico(clients, self.lock, cache, offline, rep)
        elif self.opts.cni == "kube-router":
            cni.install_kube_router(clients, self.lock, self.opts.cni_firewall, rep)
        else:
            raise UsageError(f"installing CNI '{self.opts.cni}' needs images this run cannot get")
        say("CNI ready", t0)
        t1 = time.monotonic()
        gkinstall.install_gatekeeper(clients, self.lock, cache, offline, rep)
        say("Gatekeeper ready", t1)
        t2 = time.monotonic()
        expected = self.opts.expect_enforcement
        gkinstall.install_safeguard(clients, rep, "deny" if expected == "any" else expected)
        say("require-networkpolicy constraint enforced", t2)

    def _require_platform(self, caps: Capabilities) -> None:
        if caps.gatekeeper_version is None and not caps.constraint_crd:
            raise UsageError(
                "Gatekeeper is not installed on this cluster (no gatekeeper-controller-manager "
                "in gatekeeper-system and no K8sRequireNetworkPolicy CRD)"
            )
        if not caps.workers:
            raise UsageError("the cluster has no Ready, schedulable node for probe pods")

    def _trap_sigterm(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        try:
            self._old_term = signal.signal(signal.SIGTERM, handler)
        except ValueError:  # not the main thread
            self._old_term = None

    def cleanup(self) -> dict[str, Any]:
        """Remove the run's namespaces (when the cluster outlives the run) and say what
        was removed and what is left: part of the record of how the test was run."""
        self.cleaned = True
        kubeconfig = (
            self.state.kubeconfig
            if self.state
            else (self.workdir / "kind" / "kubeconfig" if self.kind else self.opts.kubeconfig)
        )
        selector = f"{RUN_LABEL}={self.opts.run_id}"
        in_cluster = self.opts.target == "in-cluster"
        if not in_cluster and (not kubeconfig or not Path(kubeconfig).exists()):
            return {"selector": selector, "done": False, "reason": "no kubeconfig"}
        if self.kind and not self.opts.keep_cluster:
            return {"selector": selector, "done": True, "reason": "the kind cluster is deleted"}
        try:
            clients = Clients(None if in_cluster else Path(str(kubeconfig)), self.opts.context)
            # The deletions are not waited for: the API server has accepted them once a
            # namespace is terminating, and its pods (grace period 0) go on their own.
            removed = delete_namespaces(clients, selector)
            found = clients.core().list_namespace(label_selector=selector).items
        except Exception as e:
            say(f"cleanup of run {self.opts.run_id} failed: {e}")
            return {"selector": selector, "done": False, "reason": f"{type(e).__name__}: {e}"}
        left = [n.metadata.name for n in found if n.metadata.deletion_timestamp is None]
        terminating = [n.metadata.name for n in found if n.metadata.deletion_timestamp]
        if removed:
            say(f"removed {len(removed)} namespace(s) of run {self.opts.run_id}")
        return {
            "selector": selector,
            "done": not left,
            "removed": removed,
            "left": left,
            "terminating": terminating,
        }

    def finish(self, failed: bool = False) -> None:
        """Remove the run's namespaces; delete the cluster unless kept."""
        if not self.cleaned:
            self.cleanup()
        if self.kind is not None:
            if self.opts.keep_cluster:
                say(
                    f"keeping cluster '{self.opts.cluster_name}' "
                    f"(kubeconfig: {self.workdir / 'kind' / 'kubeconfig'})"
                )
            else:
                t0 = time.monotonic()
                self.kind.down(force=failed)
                if self.kind.created:
                    say(f"deleted cluster '{self.opts.cluster_name}'", t0)
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)


def attach(state_file: Path) -> RunState:
    return RunState.from_json(json.loads(state_file.read_text()))


def cleanup_leftovers(kubeconfig: Path | None, context: str | None) -> list[str]:
    """Remove every namespace any npconform run left behind (interrupted runs)."""
    clients = Clients(kubeconfig, context)
    clients.check_reachable()
    return delete_namespaces(clients, RUN_LABEL, wait=120)


def workdir_for(report_dir: Path, run_id: str) -> Path:
    return Path(os.environ.get("NPCONFORM_WORKDIR", report_dir / ".run" / run_id))
