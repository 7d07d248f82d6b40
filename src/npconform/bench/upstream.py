"""The peer: Kubernetes' own NetworkPolicy e2e tests, built at bench time from the pinned
k8s.io/kubernetes module (``files/netpol_e2e_test.go``: the e2e entry point with only the
netpol specs), run with ginkgo on the bench's cluster right before the suite's semantics
part, so that both times and their ratio come from one cluster in one run.

Upstream's pods carry no NetworkPolicy, which the require-networkpolicy constraint in deny
refuses: while upstream runs, the constraint is set to dryrun, and restored after (also on
failure); the record says so.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from npconform.airgap.gobuild import Wrapper, go_env
from npconform.airgap.recipes import target_env
from npconform.bench.measure import pytest_run
from npconform.cluster import kube
from npconform.cluster.client import Clients
from npconform.gatekeeper.admission import set_enforcement
from npconform.gatekeeper.install import constraint_enforced
from npconform.gatekeeper.state import find_constraint
from npconform.lock import Lock
from npconform.proc import run

SOURCE = Path(__file__).parent / "files" / "netpol_e2e_test.go"
#: Upstream's TCP and UDP specs; SCTP needs a kernel module this machine's kernel lacks.
FOCUS = r"\[sig-network\] Netpol"
SKIP = r"SCTP"
PROCS = 2


def build(lock: Lock, cache: Path) -> tuple[Path, Path]:
    """(netpol.test, ginkgo), built once per Kubernetes version and source."""
    mod = lock.module("kubernetes")
    key = hashlib.sha256(f"{mod.ref}\n{SOURCE.read_text()}".encode()).hexdigest()[:16]
    out = cache / "bench" / f"netpol-e2e-{key}"
    test, ginkgo = out / "netpol.test", out / "ginkgo"
    if test.is_file() and ginkgo.is_file():
        return test, ginkgo
    env = go_env(cache, target_env(lock, "kubernetes"))
    w = Wrapper(mod, cache / "wrappers" / "netpol-e2e", env)
    log = cache / "logs" / "netpol-e2e.log"
    w.prepare(log)
    pkg = w.root / "netpole2e"
    pkg.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, pkg / SOURCE.name)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    run(
        ["go", "test", "-c", "-o", str(tmp / "netpol.test"), "./netpole2e"],
        cwd=w.root,
        env=env,
        log=log,
    )
    run(
        ["go", "build", "-o", str(tmp) + "/", "github.com/onsi/ginkgo/v2/ginkgo"],
        cwd=w.root,
        env=env,
        log=log,
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return test, ginkgo


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _ginkgo_summary(output: str) -> tuple[str, int, int]:
    """("Ran 46 of 52 Specs ... SUCCESS!/FAIL!" line, passed, failed)."""
    output = _ANSI.sub("", output)
    ran = [ln.strip() for ln in output.splitlines() if re.match(r"\s*Ran \d+ of \d+ Specs", ln)]
    m = re.search(r"(\d+) Passed \| (\d+) Failed", output)
    return (ran[-1] if ran else ""), int(m.group(1)) if m else 0, int(m.group(2)) if m else 0


def run_upstream(
    clients: Clients, kubeconfig: Path, test: Path, ginkgo: Path, log: Path
) -> dict[str, Any]:
    constraint = find_constraint(clients)
    if constraint is None:
        raise RuntimeError("no require-networkpolicy constraint on the bench cluster")
    name = constraint["metadata"]["name"]
    action = str(constraint["spec"].get("enforcementAction", "deny"))

    def switch(to: str) -> None:
        set_enforcement(clients, name, to)
        kube.wait_until(
            f"constraint {name} in {to}", lambda: constraint_enforced(clients, name), 120
        )

    switch("dryrun")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [
                str(ginkgo),
                f"--procs={PROCS}",
                "--no-color",
                f"--focus={FOCUS}",
                f"--skip={SKIP}",
                "--timeout=2h",
                str(test),
                "--",
                f"--kubeconfig={kubeconfig}",
                "--provider=local",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        secs = time.monotonic() - t0
    finally:
        switch(action)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    ran, passed, failed = _ginkgo_summary(proc.stdout + proc.stderr)
    return {
        "seconds": round(secs, 1),
        "procs": PROCS,
        "summary": ran,
        "passed": passed,
        "failed": failed,
        "exit": proc.returncode,
        "constraint": f"{name} set to dryrun while it ran (its pods carry no NetworkPolicy), "
        f"then restored to {action}",
    }


def run_semantics(kubeconfig: Path, report: Path) -> dict[str, Any]:
    args = ["suites/traffic/test_semantics.py", "--target", "existing"]
    return pytest_run([*args, "--kubeconfig", str(kubeconfig)], PROCS, report)


def peer(
    lock: Lock, cache: Path, clients: Clients, kubeconfig: Path, workdir: Path
) -> dict[str, Any]:
    t0 = time.monotonic()
    test, ginkgo = build(lock, cache)
    built = round(time.monotonic() - t0, 1)
    up = run_upstream(clients, kubeconfig, test, ginkgo, workdir / "upstream-netpol.log")
    ours = run_semantics(kubeconfig, workdir / "semantics")
    return {
        "kubernetes": lock.module("kubernetes").version,
        "build_seconds": built,
        "built": built > 5,  # False: the binaries of an earlier bench were reused
        "upstream": up,
        "semantics": ours,
        "ratio": round(up["seconds"] / ours["seconds"], 2) if ours["seconds"] else None,
    }
