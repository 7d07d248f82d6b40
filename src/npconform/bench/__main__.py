"""``python -m npconform.bench``: run every benchmark on one cluster and write
benchmarks/results.json and its table, benchmarks/README.md."""

from __future__ import annotations

import argparse
import json
import resource
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from npconform import NAME, __version__, bench
from npconform.airgap.build import default_cache
from npconform.bench.coverage import scale as coverage_scale
from npconform.bench.image import suite_image
from npconform.bench.isolation import in_own_process as isolation_scale
from npconform.bench.measure import (
    ROOT,
    MemorySampler,
    convergence,
    cost_curve,
    machine,
    matrix_world,
    startup,
    time_baseline,
    time_engine,
    whole_suite,
)
from npconform.bench.table import markdown
from npconform.bench.upstream import peer
from npconform.cluster.options import RunOptions
from npconform.lock import load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench", description=bench.__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    ap.add_argument("--cluster-name", default=f"{NAME}-bench")
    ap.add_argument(
        "--skip-suite",
        action="store_true",
        help="skip the whole-suite runs (their figures in --out/results.json are kept)",
    )
    ap.add_argument(
        "--coverage-only",
        action="store_true",
        help="only the coverage computation at scale (no cluster); the other figures in "
        "--out/results.json are kept",
    )
    ap.add_argument(
        "--isolation-only",
        action="store_true",
        help="only the tenant isolation computation at scale (no cluster); the other "
        "figures in --out/results.json are kept",
    )
    ap.add_argument(
        "--image-only",
        action="store_true",
        help="only the suite image's build time, cold and cached (no cluster); the other "
        "figures in --out/results.json are kept",
    )
    ap.add_argument(
        "--upstream-only",
        action="store_true",
        help="only upstream's netpol e2e beside the suite's semantics part, on a cluster of "
        "its own; the other figures in --out/results.json are kept",
    )
    ap.add_argument(
        "--curve-only",
        action="store_true",
        help="only the matrix cost curve (9, 18, 36 pods), on a cluster of its own (with "
        "--upstream-only: the same cluster); the other figures in --out/results.json are kept",
    )
    args = ap.parse_args(argv)
    parts = args.upstream_only or args.curve_only
    if parts or args.coverage_only or args.isolation_only or args.image_only:
        previous = args.out / "results.json"
        if not previous.is_file():
            print(
                f"bench: {previous} does not exist: run the whole benchmark first", file=sys.stderr
            )
            return 2
        kept: dict[str, Any] = json.loads(previous.read_text())
    if parts:
        opts = RunOptions(cluster_name=args.cluster_name, images="auto")
        workdir = (ROOT / "reports" / ".bench").resolve()
        session, state, _ = startup(opts, workdir)
        try:
            assert state.kubeconfig is not None
            if args.curve_only:
                kept["curve"] = cost_curve(state)
            if args.upstream_only:
                kept["peer"] = peer(
                    load(), default_cache(), state.clients(), state.kubeconfig, workdir
                )
        finally:
            opts.keep_cluster = False
            session.finish()
        return _write(args.out, kept)
    if args.coverage_only or args.isolation_only or args.image_only:
        if args.coverage_only:
            kept["coverage"] = coverage_scale()
        if args.isolation_only:
            kept["isolation"] = isolation_scale()
        if args.image_only:
            kept["suite_image"] = suite_image()
        return _write(args.out, kept)
    opts = RunOptions(cluster_name=args.cluster_name, images="auto")
    workdir = (ROOT / "reports" / ".bench").resolve()
    session, state, start = startup(opts, workdir)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "version": __version__,
        "machine": machine(),
        "kubernetes": state.capabilities.kubernetes_version,
        "gatekeeper": state.capabilities.gatekeeper_version,
        "calico": load().module("calico").display_version,
        "startup": start,
        "coverage": coverage_scale(),
        "isolation": isolation_scale(),
        "suite_image": suite_image(),
    }
    try:
        w, m = matrix_world(state)
        try:
            eng = time_engine(w, m)
            base = time_baseline(w, m)
            results["matrix"] = {
                "engine": eng,
                "baseline": base,
                "speedup": round(base["seconds"] / eng["seconds_median"], 1),
                # where the time goes: the same matrix with UDP waiting twice the timeout
                # (as the shell probes do), and its allowed cells alone (no probe waits for
                # a timeout at all)
                "engine_udp_wait_2x": time_engine(w, m, udp_wait_factor=2),
                "engine_allowed_only": time_engine(w, m.restrict(c for c, v in m.items() if v)),
            }
            results["convergence"] = convergence(w)
        finally:
            w.close(wait=60)
        results["curve"] = cost_curve(state)
        assert state.kubeconfig is not None
        results["peer"] = peer(load(), default_cache(), state.clients(), state.kubeconfig, workdir)
        suite = []
        with MemorySampler(args.cluster_name) as mem:
            if not args.skip_suite:
                for n in (1, 2, 4):
                    suite.append(whole_suite(args.cluster_name, n, workdir / f"suite-n{n}"))
        previous = args.out / "results.json"
        if args.skip_suite and previous.is_file():
            # keep the whole-suite figures (and the memory they peaked at) of the last run
            old = json.loads(previous.read_text())
            suite = old.get("suite", [])
            mem.peak_mib = max(mem.peak_mib, old.get("memory", {}).get("cluster_peak_mib", 0))
        results["suite"] = suite
        results["memory"] = {
            "cluster_peak_mib": round(mem.peak_mib, 1),
            "test_process_peak_mib": round(
                max(
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                )
                / 1024,
                1,
            ),
        }
    finally:
        opts.keep_cluster = False
        session.finish()
    return _write(args.out, results)


def _write(out: Path, results: dict[str, Any]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "README.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
