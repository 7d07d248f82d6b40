"""The benchmarks' Markdown table, from their results document."""

from __future__ import annotations

from typing import Any

from npconform.probe.engine import PROBE_BUDGET


def markdown(r: dict[str, Any]) -> str:
    m, s, e, b, c = (
        r["machine"],
        r["startup"],
        r["matrix"]["engine"],
        r["matrix"]["baseline"],
        r["convergence"],
    )
    lines = [
        "# npconform benchmarks",
        "",
        f"Measured {r['date']} with npconform {r['version']} on {m['cpus']} CPUs ({m['cpu']}), "
        f"{m['memory_mib']} MiB RAM, kernel {m['kernel']}; kind cluster of one control plane and "
        f"two workers, Kubernetes {r['kubernetes']}, Calico {r['calico']}, "
        f"Gatekeeper {r['gatekeeper']}, offline images.",
        "Regenerate with `scripts/bench` (or `tox -e bench`).",
        "",
        "## Cluster start-up (seconds since `kind create`)",
        "",
        "| step | seconds |",
        "|---|---|",
        *[f"| {k.replace('_', ' ')} | {v} |" for k, v in s.items()],
        "",
        "## One matrix evaluation",
        "",
        "9 pods x 9 pods x 2 ports x TCP and UDP, namespace x denying all ingress (a third of "
        f"the probes blocked: TCP times out at {e['tcp_timeout_s']:g} s, UDP waits "
        f"{e['udp_wait_s']:g} s for an answer). Each source pod runs its batch in one process "
        "of npconform's probe program (`npcprobe`), every probe concurrently.",
        "",
        "| engine | probes | seconds | probes/s |",
        "|---|---|---|---|",
        f"| npconform, one exec per source pod (median of {e['rounds']}; late answers: "
        f"{e.get('late_answers', '-')}) | {e['probes']} | "
        f"{e['seconds_median']} (min {e['seconds_min']}) | {e['probes_per_second']} |",
        f"| baseline: one exec per probe, {b['workers']} workers (netpol e2e style) | "
        f"{b['probes']} | "
        f"{b['seconds']} | {b['probes_per_second']} |",
        f"| **speed-up** | | **{r['matrix']['speedup']}x** | |",
        "",
        "Where the time goes (same pods, same engine):",
        "",
        "| variant | probes | seconds (median) |",
        "|---|---|---|",
        *[
            f"| {label} | {v['probes']} | {v['seconds_median']} (min {v['seconds_min']}) |"
            for label, v in (
                *(
                    (f"the matrix, UDP waiting {v['udp_wait_s']:g} s ({n} the timeout)", v)
                    for n, v in (
                        ("once", r["matrix"].get("engine_udp_wait_1x")),
                        ("twice", r["matrix"].get("engine_udp_wait_2x")),
                    )
                    if v
                ),
                ("its allowed cells alone (no timeouts)", r["matrix"].get("engine_allowed_only")),
            )
            if v
        ],
        "",
        "## Policy convergence (Calico; seconds until every cell agrees)",
        "",
        "| change | median | max |",
        "|---|---|---|",
        *[f"| {k} policy | {v['median_s']} | {v['max_s']} |" for k, v in c.items()],
        "",
        "## Whole suite on the warm cluster",
        "",
        "| pytest workers | seconds | result |",
        "|---|---|---|",
        *[f"| -n {x['workers']} | {x['seconds']} | {x['summary']} |" for x in r["suite"]],
        "",
        *_coverage(r.get("coverage")),
        *_isolation(r.get("isolation")),
        *_targets(r),
        *_curve(r.get("curve")),
        *_peer(r.get("peer")),
        *_suite_image(r.get("suite_image")),
        "## Peak memory",
        "",
        f"- cluster (sum of the node containers): {r['memory']['cluster_peak_mib']:.0f} MiB",
        "- test processes (largest single process): "
        f"{r['memory']['test_process_peak_mib']:.0f} MiB",
        "",
    ]
    return "\n".join(lines)


#: Time-to-verdict targets: (figure, limit, "max" or "min": how the figure must compare).
TARGETS = (
    ("whole suite, best of -n 1/2/4 (seconds)", 180.0, "max"),
    ("semantics part: upstream netpol e2e time / suite time", 4.0, "min"),
    ("324-probe matrix, median (seconds)", 2.0, "max"),
    ("36-pod matrix, median (seconds)", 4.0, "max"),
)


def _passed(summary: str) -> bool:
    """A pytest summary line of a run in which nothing failed or erred."""
    return "passed" in summary and not any(w in summary for w in ("failed", "error"))


def target_figures(r: dict[str, Any]) -> list[float | None]:
    """The measured figure for each of :data:`TARGETS`, or None when not measured."""
    suite = [x["seconds"] for x in r.get("suite") or [] if _passed(x.get("summary", ""))]
    curve = {x["pods"]: x.get("seconds_median") for x in r.get("curve") or []}
    return [
        min(suite) if suite else None,
        (r.get("peer") or {}).get("ratio"),
        ((r.get("matrix") or {}).get("engine") or {}).get("seconds_median"),
        curve.get(36),
    ]


def _targets(r: dict[str, Any]) -> list[str]:
    rows = []
    for (what, limit, kind), got in zip(TARGETS, target_figures(r), strict=True):
        if got is None:
            verdict = "not measured"
        else:
            met = got <= limit if kind == "max" else got >= limit
            verdict = "met" if met else "**not met**"
        bound = f"at most {limit:g}" if kind == "max" else f"at least {limit:g}"
        rows.append(f"| {what} | {bound} | {'-' if got is None else got} | {verdict} |")
    return [
        "## Time-to-verdict targets",
        "",
        "From the figures on this page (a benchmark, not a timed test).",
        "",
        "| figure | target | measured | |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def _curve(c: list[dict[str, Any]] | None) -> list[str]:
    if not c:
        return []
    return [
        "## Cost curve: one matrix evaluation by size",
        "",
        "Namespaces x, y, z with 3, 6 or 12 pods each, x denying all ingress; every pod to "
        "every pod (itself included), two ports, TCP and UDP (median of 3 rounds); at most "
        f"{PROBE_BUDGET:,} probes in flight (36 pods: {PROBE_BUDGET // 144} of their 36 batches "
        "of 144 at a time).",
        "",
        "| pods | probes | seconds (median) | min | max | probes/s | late answers |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {x['pods']} | {x['probes']} | {x['seconds_median']} | {x['seconds_min']} "
            f"| {x['seconds_max']} | {x['probes_per_second']} | {x.get('late_answers', '-')} |"
            if "error" not in x
            else f"| {x['pods']} | {x.get('probes', '-')} | failed: {x['error']} | | | | |"
            for x in c
        ],
        "",
    ]


def _peer(p: dict[str, Any] | None) -> list[str]:
    if not p:
        return []
    up, ours = p["upstream"], p["semantics"]
    return [
        "## Against upstream's netpol e2e (same cluster, one after the other)",
        "",
        f"Kubernetes {p['kubernetes']}'s `test/e2e/network/netpol`, built from the pinned "
        "module at bench time ("
        + (f"{p['build_seconds']} s" if p.get("built") else "reused from an earlier bench")
        + "), run with `ginkgo "
        f"--procs={up['procs']}` (TCP and UDP; SCTP skipped: no SCTP in this kernel); the "
        f"constraint {up['constraint']}. Then the suite's semantics part with "
        f"`-n {ours['workers']}`. Regenerate with `scripts/bench --upstream-only`.",
        "",
        "| run | result | seconds |",
        "|---|---|---|",
        f"| upstream netpol e2e | {up['summary']} ({up['passed']} passed, {up['failed']} "
        f"failed) | {up['seconds']} |",
        f"| `pytest suites/traffic/test_semantics.py` | {ours['summary']} | {ours['seconds']} |",
        f"| **upstream / suite** | | **{p['ratio']}x** |",
        "",
    ]


def _suite_image(img: dict[str, Any] | None) -> list[str]:
    if not img:
        return []
    return [
        f"## The suite image ({img['ref']})",
        "",
        "`scripts/build-images` with every other image cached: cold (the suite image's own "
        "steps, " + ", ".join(img["steps"]) + ", from nothing in npconform's cache; "
        "Debian's packages downloaded again, pip's own download cache kept), then cached. "
        "Regenerate this figure alone with `scripts/bench --image-only`.",
        "",
        "| build | seconds |",
        "|---|---|",
        f"| cold | {img['cold_seconds']} |",
        f"| cached | {img['cached_seconds']} |",
        "",
        f"Image size: {img['size_mib']} MiB.",
        "",
    ]


def _isolation(iso: dict[str, Any] | None) -> list[str]:
    if not iso:
        return []
    found = ", ".join(f"{n} {k}" for k, n in iso["findings"].items())
    return [
        "## Tenant isolation at scale (no cluster)",
        "",
        "`npconform deployed` on a generated multi-tenant cluster state (tenants of one to "
        "four namespaces, segregation, component, demo-style open, cross-tenant, DNS and "
        f"ipBlock policies), loaded from JSON ({iso['state_mib']} MiB) and computed whole: "
        f"classes, reachability, findings, tenant matrix (median of {iso['rounds']} rounds, in "
        "a process of its own; peak memory is that process's, the generated state included). "
        "Targets: under 60 s, under 2 GiB. Regenerate this figure alone with "
        "`scripts/bench --isolation-only`.",
        "",
        "| namespaces | pods | NetworkPolicies | classes | tenants | seconds (median) | max "
        "| peak MiB | findings |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {iso['namespaces']} | {iso['pods']} | {iso['policies']} | {iso['classes']} | "
        f"{iso['tenants']} | {iso['seconds_median']} | {iso['seconds_max']} | "
        f"{iso['peak_rss_mib']} | {found} |",
        "",
    ]


def _coverage(cv: dict[str, Any] | None) -> list[str]:
    if not cv:
        return []
    rows = ", ".join(f"{n} {k}" for k, n in cv["rows"].items())
    return [
        "## Coverage computation at scale (no cluster)",
        "",
        "`npconform coverage` on a generated Welkin-like cluster state, loaded from JSON",
        f"({cv['snapshot_mib']} MiB) and computed for every namespace (median of "
        f"{cv['rounds']} rounds). Regenerate this figure alone with "
        "`scripts/bench --coverage-only`.",
        "",
        "| namespaces | pods | NetworkPolicies | seconds (median) | max | rows |",
        "|---|---|---|---|---|---|",
        f"| {cv['namespaces']} | {cv['pods']} | {cv['policies']} | {cv['seconds_median']} | "
        f"{cv['seconds_max']} | {rows} |",
        "",
    ]
