"""``report.html``: the run's evidence as one self-contained, printable HTML page.

No JavaScript, no external resources (fonts, images, styles): it renders offline, and a
Content-Security-Policy in the page forbids anything else. Every string from the results
document is escaped. Reading order: the verdict and the cluster it applies to, the ISO/IEC
27001 controls, then the evidence (admission, reachability grids, convergence, audit),
what could not be tested, every test, and timings.

Reachability cells are told apart by colour *and* by symbol/text (and a hidden text for
screen readers), so a greyscale print or a screen reader loses nothing:

====================  ======  ============================================
cell                  symbol  meaning
====================  ======  ============================================
allowed, as expected  ✓       connection succeeded, policy allows it
blocked, as expected  ⊘       connection refused/timed out, policy denies it
leak                  LEAK    connection succeeded, policy denies it
loss                  LOSS    connection failed, policy allows it
unobserved            ?       no observation for the cell
====================  ======  ============================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from npconform.report.bundle import (
    FAIL,
    INCOMPLETE,
    PASS,
    cell_key,
    compare_step,
    finalize,
    fingerprint,
    plural,
    results_digest,
)

VERDICT_SYMBOL = {PASS: "✓", FAIL: "✗", INCOMPLETE: "⚠"}

#: Reachability cell kinds: (css class, visible symbol, spoken/tooltip text).
CELL_KINDS: dict[str, tuple[str, str, str]] = {
    "allowed": ("c-allow", "✓", "allowed, as expected"),
    "blocked": ("c-block", "⊘", "blocked, as expected"),
    "leak": ("c-leak", "LEAK", "LEAK: allowed, but policy expects it blocked"),
    "loss": ("c-loss", "LOSS", "LOSS: blocked, but policy expects it allowed"),
    "unobserved": ("c-unobs", "?", "unobserved: no result for this probe"),
}

OUTCOME_LABEL = {
    "passed": ("o-pass", "✓ passed"),
    "failed": ("o-fail", "✗ failed"),
    "error": ("o-fail", "✗ error"),
    "skipped": ("o-skip", "○ skipped"),
}

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
html { background: #eef0f3; }
body { margin: 0 auto; max-width: 1240px; padding: 20px 24px 40px; background: #fff;
  color: #1f2328; font: 14px/1.45 "DejaVu Sans", "Liberation Sans", "Segoe UI", Arial,
  Helvetica, sans-serif; }
code, pre, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas,
  monospace; font-size: 12px; }
h1, h2, h3 { line-height: 1.2; margin: 0; }
h2 { font-size: 19px; margin: 30px 0 10px; padding-bottom: 5px; border-bottom: 2px solid #1f2328;
  break-after: avoid; }
h3 { font-size: 15px; margin: 0 0 4px; }
p { margin: 6px 0; }
.muted { color: #59636e; }
.small { font-size: 12px; }
.sr { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

/* verdict banner */
.verdict { border-radius: 8px; padding: 18px 24px; color: #fff; display: grid;
  grid-template-columns: auto 1fr; gap: 4px 28px; align-items: center; }
.verdict.v-pass { background: #1a7f37; }
.verdict.v-fail { background: #b42318; }
.verdict.v-incomplete { background: #8a5300; }
.verdict-word { font-size: 54px; font-weight: 800; letter-spacing: 1px; line-height: 1;
  grid-row: span 2; }
.verdict-word .sym { font-size: 44px; margin-right: 2px; }
.verdict-label { font-size: 12px; text-transform: uppercase; letter-spacing: 1.5px;
  opacity: .9; }
.reason { font-size: 17px; font-weight: 600; margin: 0; }
.runmeta { grid-column: 1 / -1; margin: 10px 0 0; padding-top: 10px;
  border-top: 1px solid rgba(255,255,255,.45); font-size: 13px; display: flex;
  flex-wrap: wrap; gap: 4px 22px; }
.runmeta b { font-weight: 700; }

/* fingerprint */
.fp { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1px; margin: 14px 0 0;
  background: #d0d7de; border: 1px solid #d0d7de; border-radius: 6px; overflow: hidden; }
.fp div { padding: 7px 12px; background: #fff; }
.fp dt { font-size: 11px; text-transform: uppercase; letter-spacing: .8px; color: #59636e; }
.fp dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.fp .wide { grid-column: span 2; }
.fp .full { grid-column: 1 / -1; }
.warn { color: #b42318; }

/* tables */
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; }
th, td { text-align: left; vertical-align: top; padding: 6px 9px;
  border-bottom: 1px solid #d8dee4; }
thead th { background: #f3f5f7; font-size: 12px; text-transform: uppercase;
  letter-spacing: .5px; color: #424a53; border-bottom: 2px solid #8c959f; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.nowrap { white-space: nowrap; }
.nodeid { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
  font-size: 12px; overflow-wrap: break-word; }
.nodeid .why { display: block; font-family: "DejaVu Sans", "Liberation Sans", Arial,
  sans-serif; color: #59636e; margin-top: 2px; }
pre { margin: 4px 0; padding: 8px 10px; background: #f6f8fa; border: 1px solid #d8dee4;
  border-left: 4px solid #8c959f; border-radius: 4px; white-space: pre-wrap;
  overflow-wrap: anywhere; max-width: 100%; }
pre.fail { border-left-color: #b42318; background: #fff5f4; }

/* badges */
.badge { display: inline-block; padding: 2px 9px; border-radius: 12px; font-weight: 700;
  font-size: 12px; white-space: nowrap; border: 1px solid transparent; }
.b-pass { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.b-fail { background: #b42318; color: #fff; }
.b-incomplete { background: #fff1c2; color: #6b3e00; border-color: #d4a72c; }
.o-pass { color: #116329; font-weight: 700; white-space: nowrap; }
.o-fail { color: #b42318; font-weight: 800; white-space: nowrap; }
.o-skip { color: #6e7781; font-weight: 700; white-space: nowrap; }
tr.row-fail > td { background: #fff5f4; }
.controls td.ctl-id { font-weight: 800; white-space: nowrap; font-size: 15px; }
.controls td.ctl-title { font-weight: 600; }

/* reachability grids */
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 6px 0 12px; padding: 8px 12px;
  border: 1px solid #d0d7de; border-radius: 6px; background: #fafbfc; list-style: none; }
.legend li { display: flex; align-items: center; gap: 7px; font-size: 13px; }
.legend .c { display: inline-block; min-width: 44px; height: 24px; line-height: 24px;
  text-align: center; border: 1px solid #d0d7de; }
.step { margin: 16px 0 22px; break-inside: avoid; }
.step-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; }
.gridwrap { overflow-x: auto; max-width: 100%; }
table.grid { width: auto; border-collapse: separate; border-spacing: 0; margin: 8px 0;
  font-size: 12px; }
table.grid th, table.grid td { border: 0; border-right: 1px solid #d8dee4;
  border-bottom: 1px solid #d8dee4; padding: 0; }
table.grid thead th { text-transform: none; letter-spacing: 0; color: #1f2328;
  background: #f3f5f7; border-bottom: 1px solid #8c959f; }
table.grid th.corner { vertical-align: bottom; padding: 4px 8px; font-weight: 400;
  color: #59636e; font-size: 11px; border-right: 2px solid #8c959f; }
table.grid th.dst { text-align: center; padding: 4px 4px; font-size: 11px; font-weight: 700;
  border-left: 2px solid #8c959f; max-width: 1px; overflow-wrap: anywhere; }
table.grid th.dst .ns { display: block; font-weight: 400; color: #59636e; }
table.grid th.port { text-align: center; padding: 2px 3px; font-size: 11px; font-weight: 600;
  min-width: 48px; line-height: 1.2; }
table.grid th.port .proto { display: block; font-weight: 400; color: #59636e; font-size: 10px; }
table.grid th.src { padding: 3px 10px 3px 8px; white-space: nowrap; font-weight: 600;
  background: #f3f5f7; border-right: 2px solid #8c959f; text-align: right; }
table.grid th.src .ns { color: #59636e; font-weight: 400; }
table.grid .g0 { border-left: 2px solid #8c959f; }
table.grid td.c { text-align: center; vertical-align: middle; height: 27px; min-width: 48px;
  font-weight: 700; }
table.grid.dense th.port { min-width: 29px; font-size: 10px; padding: 2px 1px; }
table.grid.dense td.c { min-width: 29px; height: 24px; }
table.grid.dense .c-leak, table.grid.dense .c-loss { font-size: 9px !important;
  letter-spacing: 0; }
.c-allow { background: #e6f4ea; color: #116329; font-size: 15px; }
.c-block { background: #f6f8fa; color: #6e7781; font-size: 15px; }
.c-leak { background: #b42318; color: #fff; font-size: 11px !important; letter-spacing: .5px; }
.c-loss { background: #efe9ff; color: #4c2889; font-size: 11px !important; letter-spacing: .5px;
  box-shadow: inset 0 0 0 2px #6639ba; outline: 1px dashed #6639ba; outline-offset: -5px; }
.c-unobs { background: repeating-linear-gradient(45deg, #fff 0 4px, #d8dee4 4px 6px);
  color: #1f2328; }
.c-none { background: #fff; color: #d0d7de; }
.flap { text-decoration: underline wavy; }
.mismatches { margin: 4px 0; padding-left: 20px; }
.mismatches li { margin: 2px 0; }
.leak-t { color: #b42318; font-weight: 800; }
.loss-t { color: #4c2889; font-weight: 800; }
details { margin: 4px 0; }
summary { cursor: pointer; color: #424a53; }

/* timings */
.bar { display: inline-block; height: 10px; background: #57606a; vertical-align: middle;
  border-radius: 2px; }
footer { margin-top: 34px; padding-top: 10px; border-top: 1px solid #d0d7de; color: #59636e;
  font-size: 12px; }

@page { size: A4; margin: 12mm; }
@media print {
  html { background: #fff; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  .verdict-word { font-size: 40px; }
  .gridwrap { overflow: visible; }
  h2 { break-after: avoid; }
  .step, figure, .verdict, .fp { break-inside: avoid; }
  details { display: none; }
  a { color: inherit; text-decoration: none; }
}
"""


def e(value: object) -> str:
    """Escape anything for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def _verdict_class(verdict: str) -> str:
    return {PASS: "pass", FAIL: "fail"}.get(verdict, "incomplete")


def _badge(verdict: str) -> str:
    sym = VERDICT_SYMBOL.get(verdict, VERDICT_SYMBOL[INCOMPLETE])
    return (
        f'<span class="badge b-{_verdict_class(verdict)}">'
        f'<span aria-hidden="true">{sym}</span> {e(verdict)}</span>'
    )


def _fmt_time(ts: object) -> str:
    if not ts:
        return "—"
    s = str(ts)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return s
    zone = "UTC" if dt.utcoffset() is not None and not dt.utcoffset() else dt.strftime("%z")
    return dt.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def _fmt_seconds(v: object) -> str:
    if v is None or v == "":
        return "—"
    try:
        s = float(str(v))
    except ValueError:
        return str(v)
    if s >= 90:
        m, sec = divmod(round(s), 60)
        return f"{m} min {sec:02d} s"
    return f"{s:.1f} s"


def _nodeid(nodeid: object) -> str:
    """An escaped pytest node id that may break after ``/`` and ``::``."""
    return e(nodeid).replace("::", "::<wbr>").replace("/", "/<wbr>")


def _split_ref(ref: str) -> tuple[str, str]:
    if "/" in ref:
        ns, name = ref.rsplit("/", 1)
        return ns + "/", name
    return "", ref


def _ref_html(ref: str) -> str:
    ns, name = _split_ref(ref)
    return f'<span class="ns">{e(ns)}</span>{e(name)}' if ns else e(name)


# --------------------------------------------------------------------------- sections


def _head(r: Mapping[str, Any]) -> str:
    run = r.get("run") or {}
    title = f"npconform report — {r.get('verdict')} — run {run.get('id', '?')}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="npconform">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    )


def _verdict(r: Mapping[str, Any]) -> str:
    verdict = str(r.get("verdict"))
    run = r.get("run") or {}
    tool = r.get("tool") or {}
    s = r.get("summary") or {}
    sym = VERDICT_SYMBOL.get(verdict, VERDICT_SYMBOL[INCOMPLETE])
    counts = (
        f"{s.get('total', 0)} tests: {s.get('passed', 0)} passed, {s.get('failed', 0)} failed, "
        f"{plural(int(s.get('error', 0)), 'error')}, {s.get('skipped', 0)} skipped"
    )
    return f"""<header class="verdict v-{_verdict_class(verdict)}" id="verdict">
<div class="verdict-word"><span class="sym" aria-hidden="true">{sym}</span> {e(verdict)}</div>
<div class="verdict-label">Conformance verdict · Kubernetes NetworkPolicy safeguards</div>
<p class="reason">{e(r.get("verdict_reason", ""))}</p>
<div class="runmeta">
<span>Run <b class="mono">{e(run.get("id", "?"))}</b></span>
<span>Started <b>{e(_fmt_time(run.get("started")))}</b></span>
<span>Finished <b>{e(_fmt_time(run.get("finished")))}</b></span>
<span>Duration <b>{e(_fmt_seconds(run.get("duration_s")))}</b></span>
<span>{e(counts)}</span>
<span>{e(tool.get("name", "npconform"))} <b>{e(tool.get("version", "?"))}</b></span>
</div>
</header>
"""


def _fingerprint(r: Mapping[str, Any]) -> str:
    env = r.get("environment") or {}
    run = r.get("run") or {}
    constraint = env.get("constraint")
    if constraint:
        action = constraint.get("enforcementAction", "?")
        cls = "" if action == "deny" else ' class="warn"'
        cons = (
            f"{e(constraint.get('name', '?'))} · enforcementAction: <span{cls}>{e(action)}</span>"
        )
    else:
        cons = '<span class="warn">none found: admission is not enforced</span>'
    nodes: list[Mapping[str, Any]] = list(env.get("nodes") or [])
    ready = sum(1 for n in nodes if n.get("ready"))
    cps = sum(1 for n in nodes if n.get("control_plane"))
    node_sum = f"{len(nodes)} ({cps} control plane, {len(nodes) - cps} worker)"
    node_sum += ", all Ready" if nodes and ready == len(nodes) else f", {ready} Ready"
    node_list = ", ".join(
        f"{n.get('name', '?')} ({n.get('internal_ip', '?')}"
        + (", control plane" if n.get("control_plane") else "")
        + ("" if n.get("ready") else ", NOT READY")
        + ")"
        for n in nodes
    )
    offline = env.get("offline")
    network = (
        "offline (air-gapped: no image pulled from the internet)"
        if offline
        else "online"
        if offline is not None
        else "unknown"
    )
    images = env.get("images") or {}
    image_txt = ", ".join(f"{k}: {v}" for k, v in images.items()) or "—"

    def item(label: str, value_html: str, cls: str = "") -> str:
        c = f' class="{cls}"' if cls else ""
        return f"<div{c}><dt>{e(label)}</dt><dd>{value_html}</dd></div>"

    items = [
        item("Target", e(env.get("target", "?"))),
        item("Kubernetes", e(env.get("kubernetes", "?"))),
        item("CNI", e(env.get("cni", "?"))),
        item("Gatekeeper", e(env.get("gatekeeper") or "not installed")),
        item("Constraint", cons, "wide"),
        item("Network", e(network)),
        item("Cluster fingerprint", f'<span class="mono">{e(fingerprint(env))}</span>'),
        item("Nodes", e(node_sum) + f'<br><span class="small muted">{e(node_list)}</span>', "wide"),
        item("Images", f'<span class="small mono">{e(image_txt)}</span>', "wide"),
        item("Command", f'<span class="mono">{e(run.get("command", "—"))}</span>', "full"),
    ]
    return (
        '<section aria-labelledby="h-cluster">\n'
        '<h2 id="h-cluster" class="sr">Cluster under test</h2>\n'
        f'<dl class="fp">{"".join(items)}</dl>\n</section>\n'
    )


def _controls(r: Mapping[str, Any]) -> str:
    rows = []
    for c in r.get("controls") or []:
        counts = c.get("counts") or {}
        ntests = len(c.get("tests") or [])
        tally = (
            f"{ntests} tests: {counts.get('passed', 0)} passed"
            + (f", {counts.get('failed', 0)} failed" if counts.get("failed") else "")
            + (f", {plural(int(counts['error']), 'error')}" if counts.get("error") else "")
            + (f", {counts.get('skipped', 0)} skipped" if counts.get("skipped") else "")
        )
        rowcls = ' class="row-fail"' if c.get("verdict") == FAIL else ""
        claim = c.get("claim")
        claim_html = (
            f'<p class="small muted">Claim: {e(claim)}</p>'
            if claim and claim != c.get("evidence")
            else ""
        )
        rows.append(
            f'<tr{rowcls}><td class="ctl-id">{e(c.get("id"))}</td>'
            f'<td class="ctl-title">{e(c.get("title"))}</td>'
            f"<td>{_badge(str(c.get('verdict')))}</td>"
            f"<td>{e(c.get('evidence'))}{claim_html}</td>"
            f'<td class="small nowrap">{e(tally)}</td></tr>'
        )
    return f"""<section aria-labelledby="h-controls">
<h2 id="h-controls">1. ISO/IEC 27001 controls (Annex A.13.1)</h2>
<table class="controls">
<thead><tr><th scope="col">Control</th><th scope="col">Title</th><th scope="col">Verdict</th>
<th scope="col">Evidence</th><th scope="col">Tests</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
<p class="small muted">A control fails if any of its tests failed or errored; it is incomplete
if none of its tests passed or a required check concerning it could not be tested.
Admission tests count for A.13.1.1 and A.13.1.2, traffic tests for A.13.1.1 and A.13.1.3,
smoke tests for A.13.1.2.</p>
</section>
"""


def _admission(r: Mapping[str, Any]) -> str:
    rows = []
    for a in r.get("admission") or []:
        ok = a.get("ok")
        result = (
            '<span class="o-pass">✓ as expected</span>'
            if ok
            else '<span class="o-fail">✗ MISMATCH</span>'
        )
        rowcls = "" if ok else ' class="row-fail"'
        message = a.get("message")
        msg = f'<span class="mono">{e(message)}</span><br>' if message else ""
        rows.append(
            f"<tr{rowcls}><td>{e(a.get('case'))}</td><td>{e(a.get('kind'))}</td>"
            f"<td>{e(a.get('expected'))}</td><td><b>{e(a.get('observed'))}</b></td>"
            f"<td>{result}</td>"
            f'<td class="small">{msg}<span class="nodeid muted">{_nodeid(a.get("test"))}</span>'
            "</td></tr>"
        )
    env = r.get("environment") or {}
    cons = env.get("constraint") or {}
    intro = (
        f"Requests sent to the API server with constraint <b>{e(cons.get('name'))}</b> "
        f"(enforcementAction <b>{e(cons.get('enforcementAction'))}</b>) in place."
        if cons
        else "No require-networkpolicy constraint was found on the cluster."
    )
    body = (
        f"""<table class="admission">
<thead><tr><th scope="col">Case</th><th scope="col">Kind</th><th scope="col">Expected</th>
<th scope="col">Observed</th><th scope="col">Result</th>
<th scope="col">API server response / test</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>"""
        if rows
        else "<p><b>No admission cases were recorded.</b></p>"
    )
    return f"""<section aria-labelledby="h-admission">
<h2 id="h-admission">2. Admission: require-networkpolicy</h2>
<p>{intro}</p>
{body}
</section>
"""


def _legend() -> str:
    items = []
    for kind in ("allowed", "blocked", "leak", "loss", "unobserved"):
        cls, sym, text = CELL_KINDS[kind]
        items.append(f'<li><span class="c {cls}" aria-hidden="true">{e(sym)}</span>{e(text)}</li>')
    items.append(
        '<li><span class="c c-allow" aria-hidden="true"><span class="flap">✓</span></span>'
        "wavy underline: the cell flapped while converging</li>"
    )
    return (
        '<ul class="legend" aria-label="Legend of the reachability grids">'
        + "".join(items)
        + "</ul>"
    )


def _policy_summary(policies: Sequence[Mapping[str, Any]]) -> str:
    names = []
    for p in policies:
        meta = p.get("metadata") or {}
        spec = p.get("spec") or {}
        types = "/".join(spec.get("policyTypes") or []) or "Ingress"
        names.append(f"{meta.get('namespace', '?')}/{meta.get('name', '?')} ({types})")
    if not names:
        return '<p class="small muted">Policies in force: none.</p>'
    dump = json.dumps(list(policies), indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return (
        f'<p class="small">Policies in force ({len(names)}): '
        f'<span class="mono">{e("; ".join(names))}</span></p>'
        f"<details><summary>NetworkPolicy manifests</summary><pre>{e(dump)}</pre></details>"
    )


def _flap_key(src: str, dst: str, port: int, proto: str) -> str:
    return f"{src} -> {dst}:{port}/{proto}"


def _grid(step: Mapping[str, Any]) -> str:
    expected = list(step.get("expected") or [])
    cmp = compare_step(step)
    kind_of: dict[tuple[str, str, int, str], str] = {}
    for kind, keys in cmp.items():
        for k in keys:
            kind_of[k] = kind
    sources = list(dict.fromkeys(str(c.get("src")) for c in expected))
    dests: dict[str, list[tuple[int, str]]] = {}
    for c in expected:
        _, dst, port, proto = cell_key(c)
        cols = dests.setdefault(dst, [])
        if (port, proto) not in cols:
            cols.append((port, proto))
    flapping = {str(f) for f in step.get("flapping") or []}

    head1 = ['<th scope="col" rowspan="2" class="corner">source ↓<br>destination →</th>']
    head2 = []
    for dst, cols in dests.items():
        ns, name = _split_ref(dst)
        head1.append(
            f'<th scope="colgroup" colspan="{len(cols)}" class="dst" title="{e(dst)}">'
            f'<span class="ns">{e(ns)}</span>{e(name)}</th>'
        )
        for i, (port, proto) in enumerate(cols):
            g0 = " g0" if i == 0 else ""
            head2.append(
                f'<th scope="col" class="port{g0}" title="{e(dst)} port {port}/{e(proto)}">'
                f'{port}<span class="proto">{e(proto)}</span></th>'
            )
    body = []
    for src in sources:
        cells = [f'<th scope="row" class="src" title="{e(src)}">{_ref_html(src)}</th>']
        for dst, cols in dests.items():
            for i, (port, proto) in enumerate(cols):
                g0 = " g0" if i == 0 else ""
                cell_kind = kind_of.get((src, dst, port, proto))
                where = f"{src} → {dst} port {port}/{proto}"
                if cell_kind is None:
                    cells.append(
                        f'<td class="c c-none{g0}" title="{e(where)}: not probed">'
                        '<span aria-hidden="true">·</span><span class="sr">not probed</span></td>'
                    )
                    continue
                cls, sym, text = CELL_KINDS[cell_kind]
                flap = _flap_key(src, dst, port, proto) in flapping
                sym_html = f'<span class="flap">{e(sym)}</span>' if flap else e(sym)
                said = text + ("; flapped while converging" if flap else "")
                cells.append(
                    f'<td class="c {cls}{g0}" title="{e(where)}: {e(said)}">'
                    f'<span aria-hidden="true">{sym_html}</span>'
                    f'<span class="sr">{e(said)}</span></td>'
                )
        body.append("<tr>" + "".join(cells) + "</tr>")

    n = len(expected)
    tally = (
        f"{n} cells: {len(cmp['allowed'])} allowed ✓, {len(cmp['blocked'])} blocked ⊘, "
        f"{len(cmp['leak'])} leak, {len(cmp['loss'])} loss, {len(cmp['unobserved'])} unobserved"
    )
    mism = []
    for kind, cls in (("leak", "leak-t"), ("loss", "loss-t"), ("unobserved", "")):
        for src, dst, port, proto in cmp[kind]:
            label = CELL_KINDS[kind][2]
            mism.append(
                f'<li><span class="{cls}">{e(kind.upper())}</span> '
                f'<span class="mono">{e(src)} → {e(dst)} {port}/{e(proto)}</span>: '
                f"{e(label.split(': ', 1)[-1])}</li>"
            )
    mism_html = f'<ul class="mismatches">{"".join(mism)}</ul>' if mism else ""
    ok = step.get("ok")
    verdict = PASS if ok else FAIL if ok is False else INCOMPLETE
    oracle = step.get("oracle_agrees")
    oracle_txt = (
        "hand-written expectation agrees with the policy model"
        if oracle
        else "hand-written expectation DISAGREES with the policy model"
        if oracle is False
        else "not checked against the policy model"
    )
    oracle_cls = "muted" if oracle else "warn"
    caption = f"{step.get('scenario', '?')} — {step.get('step', '?')}"
    dense = " dense" if sum(len(c) for c in dests.values()) > 16 else ""
    return f"""<div class="step">
<div class="step-head"><h3>{e(caption)}</h3>{_badge(verdict)}
<span class="small">converged in {e(_fmt_seconds(step.get("converge_s")))}
({e(step.get("rounds", "?"))} rounds)</span>
<span class="small {oracle_cls}">{e(oracle_txt)}</span></div>
<p class="small muted">{e(tally)} · test <span class="nodeid">{_nodeid(step.get("test"))}</span></p>
<div class="gridwrap"><table class="grid{dense}" aria-label="Reachability: {e(caption)}">
<thead><tr>{"".join(head1)}</tr><tr>{"".join(head2)}</tr></thead>
<tbody>
{"".join(body)}
</tbody></table></div>
{mism_html}
{_policy_summary(list(step.get("policies") or []))}
</div>
"""


def _grids(r: Mapping[str, Any]) -> str:
    steps = list(r.get("scenarios") or [])
    body = "".join(_grid(s) for s in steps) if steps else "<p><b>No traffic was probed.</b></p>"
    return f"""<section aria-labelledby="h-traffic">
<h2 id="h-traffic">3. Reachability: NetworkPolicy enforced on real traffic</h2>
<p>One grid per scenario step. Rows are sources, columns destinations grouped by pod, one
column per port/protocol. Each cell compares what the policies require (expected) with what
probes between real pods observed.</p>
{_legend()}
{body}
</section>
"""


def _convergence(r: Mapping[str, Any]) -> str:
    rows = []
    for s in r.get("scenarios") or []:
        flapping = list(s.get("flapping") or [])
        flap_txt = (
            f'{len(flapping)}: <span class="mono small">{e("; ".join(map(str, flapping)))}</span>'
            if flapping
            else "none"
        )
        rows.append(
            f"<tr><td>{e(s.get('scenario'))}</td><td>{e(s.get('step'))}</td>"
            f'<td class="num">{e(_fmt_seconds(s.get("converge_s")))}</td>'
            f'<td class="num">{e(s.get("rounds", "—"))}</td><td>{flap_txt}</td></tr>'
        )
    if not rows:
        return ""
    return f"""<section aria-labelledby="h-conv">
<h2 id="h-conv">4. Convergence</h2>
<p class="small muted">Time from applying a step's policies until the probes agreed with the
expectation in consecutive rounds; a flapping cell changed verdict on the way.</p>
<table><thead><tr><th scope="col">Scenario</th><th scope="col">Step</th>
<th scope="col" class="num">Converged in</th><th scope="col" class="num">Rounds</th>
<th scope="col">Flapping cells</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</section>
"""


def _audit(r: Mapping[str, Any]) -> str:
    rows = [
        f"<tr><td>{e(v.get('kind'))}</td><td>{e(v.get('namespace'))}</td>"
        f'<td class="mono">{e(v.get("name"))}</td><td>{e(v.get("enforcementAction"))}</td>'
        f'<td class="small">{e(v.get("message"))}</td></tr>'
        for v in r.get("audit_violations") or []
    ]
    body = (
        f"""<p>Gatekeeper's audit lists {plural(len(rows), "existing resource")} violating the
constraint (created before the constraint was enforced, or exempted at admission).</p>
<table><thead><tr><th scope="col">Kind</th><th scope="col">Namespace</th><th scope="col">Name</th>
<th scope="col">Action</th><th scope="col">Message</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""
        if rows
        else "<p>None: Gatekeeper's audit reported no violations of the constraint.</p>"
    )
    return f"""<section aria-labelledby="h-audit">
<h2 id="h-audit">5. Gatekeeper audit violations</h2>
{body}
</section>
"""


def _not_tested(r: Mapping[str, Any]) -> str:
    rows = []
    for n in r.get("not_tested") or []:
        req = (
            '<span class="o-fail">required: the claim is incomplete</span>'
            if n.get("required")
            else '<span class="o-skip">optional</span>'
        )
        rows.append(
            f"<tr><td><b>{e(n.get('what'))}</b></td><td>{e(n.get('reason'))}</td>"
            f"<td>{req}</td></tr>"
        )
    body = (
        f"""<table><thead><tr><th scope="col">What</th><th scope="col">Why not</th>
<th scope="col">Needed for the verdict?</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""
        if rows
        else "<p>Nothing: every check of the suite ran.</p>"
    )
    return f"""<section aria-labelledby="h-nottested">
<h2 id="h-nottested">6. Not tested</h2>
{body}
</section>
"""


_OUTCOME_ORDER = {"failed": 0, "error": 0, "skipped": 2, "passed": 3}


def _tests(r: Mapping[str, Any]) -> str:
    tests = sorted(
        r.get("tests") or [],
        key=lambda t: (_OUTCOME_ORDER.get(str(t.get("outcome")), 1), str(t.get("nodeid"))),
    )
    rows = []
    for t in tests:
        outcome = str(t.get("outcome"))
        cls, label = OUTCOME_LABEL.get(outcome, ("o-skip", outcome))
        failed = outcome in ("failed", "error")
        rowcls = ' class="row-fail"' if failed else ""
        msg = str(t.get("message") or "")
        multiline = "\n" in msg.strip() or len(msg) > 160
        why = f'<span class="why">{e(msg)}</span>' if msg and not failed and not multiline else ""
        rows.append(
            f'<tr{rowcls}><td><span class="{cls}">{e(label)}</span></td>'
            f'<td class="nodeid">{_nodeid(t.get("nodeid"))}{why}</td><td>{e(t.get("area"))}</td>'
            f'<td class="num">{e(_fmt_seconds(t.get("duration_s")))}</td></tr>'
        )
        if msg and not why:
            pcls = ' class="fail"' if failed else ""
            rows.append(f'<tr{rowcls}><td></td><td colspan="3"><pre{pcls}>{e(msg)}</pre></td></tr>')
    body = (
        f"""<table class="tests"><thead><tr><th scope="col">Outcome</th><th scope="col">Test</th>
<th scope="col">Area</th><th scope="col" class="num">Duration</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""
        if rows
        else "<p><b>No tests ran.</b></p>"
    )
    return f"""<section aria-labelledby="h-tests">
<h2 id="h-tests">7. Tests</h2>
<p class="small muted">Failures and errors first, then skips, then passes. The same results are
in junit.xml and results.json next to this report.</p>
{body}
</section>
"""


def _timings(r: Mapping[str, Any]) -> str:
    timings = list(r.get("timings") or [])
    if not timings:
        return ""
    secs = []
    for t in timings:
        try:
            secs.append(float(t.get("seconds") or 0))
        except (TypeError, ValueError):
            secs.append(0.0)
    top = max(secs) or 1.0
    rows = [
        f'<tr><td>{e(t.get("step"))}</td><td class="num">{e(_fmt_seconds(s))}</td>'
        f'<td style="width:55%"><span class="bar" style="width:{100 * s / top:.1f}%"></span></td>'
        "</tr>"
        for t, s in zip(timings, secs, strict=True)
    ]
    return f"""<section aria-labelledby="h-timings">
<h2 id="h-timings">8. Timings</h2>
<table><thead><tr><th scope="col">Step</th><th scope="col" class="num">Time</th>
<th scope="col"><span class="sr">Relative time</span></th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<p class="small muted">Total of the steps: {e(_fmt_seconds(sum(secs)))}.</p>
</section>
"""


def _footer(r: Mapping[str, Any], digest: str) -> str:
    tool = r.get("tool") or {}
    run = r.get("run") or {}
    options = json.dumps(run.get("options"), indent=2, sort_keys=True, default=str)
    return f"""<section aria-labelledby="h-prov">
<h2 id="h-prov">9. Provenance</h2>
<p>Run options:</p>
<pre>{e(options)}</pre>
</section>
<footer>
<p>Generated by {e(tool.get("name", "npconform"))} {e(tool.get("version", "?"))} from
results.json (sha256 <span class="mono">{e(digest)}</span>), which sits next to this file
with junit.xml. This page is self-contained: it loads nothing and runs no script.</p>
</footer>
"""


def render_html(results: Mapping[str, Any]) -> str:
    """The report for ``results`` as one self-contained HTML document.

    ``results`` is finalized first (verdicts reconciled, see
    :func:`npconform.report.bundle.finalize`); the footer names the sha256 of the
    ``results.json`` the bundle writes for it."""
    r = finalize(results)
    parts: Iterable[str] = (
        _head(r),
        "<main>\n",
        _verdict(r),
        _fingerprint(r),
        _controls(r),
        _admission(r),
        _grids(r),
        _convergence(r),
        _audit(r),
        _not_tested(r),
        _tests(r),
        _timings(r),
        _footer(r, results_digest(r)),
        "</main>\n</body>\n</html>\n",
    )
    return "".join(parts)
