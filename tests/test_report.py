"""The evidence report of the v2 results document: the verdict rules as ``finalize`` applies
them to the samples, the bundle, report.html and the terminal summary."""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from npconform.model.matrix import OUTCOMES
from npconform.report import html as html_module
from npconform.report.bundle import MANIFEST, verify_manifest, write_bundle
from npconform.report.document import dumps_results, fingerprint, results_digest
from npconform.report.html import render_html
from npconform.report.terminal import summary_table
from npconform.verdict.controls import CONDUCT_CONTROLS, CONTROLS
from npconform.verdict.rules import compare_step, finalize
from report_samples import (
    ERRED,
    INCOMPLETE_CHECKS,
    LEAK,
    LOSS,
    REFUSED,
    SCRIPT,
    T_ACTION,
    T_DNS,
    T_TENANTS,
    failing_results,
    incomplete_results,
    passing_results,
)

Sample = Callable[[], dict[str, Any]]
SAMPLES = [passing_results, failing_results, incomplete_results]
VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
BLOCKS = {"td", "th", "li", "p", "div", "dt", "dd", "br", "tr", "pre", "caption", "summary"}


def controls(r: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in r["controls"]}


def checks(r: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in r["checks"]}


def step_of(r: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in r["scenarios"] if s["step"] == name)


# --------------------------------------------------------------------------- verdict rules


def test_the_passing_sample_passes_every_control() -> None:
    raw = passing_results()
    r = finalize(raw)
    assert r["verdict"] == "PASS", r["verdict_reason"]
    assert controls(r) == {"A.8.20": "PASS", "A.8.21": "PASS", "A.8.22": "PASS"}
    collected = {i["nodeid"]: i["check"] for i in raw["selection"]["collected"]}
    for ctl in CONTROLS:
        for cid in ctl.required:
            tests = [t for t in raw["tests"] if t["check"] == cid]
            assert tests, cid
            assert all(t["outcome"] == "passed" and collected[t["nodeid"]] == cid for t in tests)
    for c in r["controls"]:
        assert c["passed"] == c["required"]
        assert c["missing"] == []
        assert not c["evidence"].startswith("Not proven")
        assert c["iso2013"] and c["scope"]
    assert r["summary"] == {"passed": 23, "failed": 0, "skipped": 1, "error": 0, "total": 24}
    assert "1 skipped, not required" in r["verdict_reason"]


def test_the_failing_sample_fails_naming_the_leak_loss_and_refusal() -> None:
    r = finalize(failing_results())
    assert r["verdict"] == "FAIL"
    for said in (
        "2 tests failed",
        "1 leak: traffic got through that policy blocks",
        "1 loss: traffic blocked that policy allows",
        "1 refusal where a block (timeout) was expected",
    ):
        assert said in r["verdict_reason"]
    # A.8.20's only problem is a probe that could not run (NET-DNS): not proven, not failed
    assert controls(r) == {"A.8.20": "INCOMPLETE", "A.8.21": "FAIL", "A.8.22": "FAIL"}
    st = checks(r)
    assert st["SEG-TENANTS"] == st["ADM-CONTROLLERS"] == "failed"
    assert st["ADM-WEBHOOK"] == "passed"
    tenants = {c["id"]: c for c in r["checks"]}["SEG-TENANTS"]
    assert "contradicted by traffic step tenants / platform policies" in tenants["reason"]
    cmp = compare_step(step_of(r, "platform policies"))
    assert (cmp["leak"], cmp["loss"], cmp["refused"], cmp["unobserved"]) == (
        [LEAK],
        [LOSS],
        [REFUSED],
        [],
    )
    dns = next(s for s in r["scenarios"] if s["test"] == T_DNS)
    assert compare_step(dns)["unobserved"] == [ERRED]  # an error is never a verdict


def test_a_test_that_could_not_measure_is_an_error_not_a_failure() -> None:
    raw = passing_results()
    t = next(t for t in raw["tests"] if t["nodeid"] == T_ACTION)
    t.update(outcome="failed", test_error="ScenarioError", message="E ScenarioError: bad step")
    r = finalize(raw)
    assert checks(r)["ADM-ACTION"] == "error"
    assert controls(r)["A.8.21"] == "INCOMPLETE"
    assert r["verdict"] == "INCOMPLETE"
    assert "1 test could not measure" in r["verdict_reason"]


def test_the_incomplete_sample_names_every_missing_check() -> None:
    r = finalize(incomplete_results())
    assert r["verdict"] == "INCOMPLETE"
    assert "the run was interrupted" in r["verdict_reason"]
    for cid, status in INCOMPLETE_CHECKS.items():
        assert checks(r)[cid] == status
        assert f"{cid} ({status})" in r["verdict_reason"]
    assert controls(r) == {"A.8.20": "INCOMPLETE", "A.8.21": "INCOMPLETE", "A.8.22": "INCOMPLETE"}
    missing = {m["id"] for c in r["controls"] for m in c["missing"]}
    assert missing == set(INCOMPLETE_CHECKS)


def test_an_interrupted_run_is_incomplete() -> None:
    raw = passing_results()
    raw["run"]["interrupted"] = True
    r = finalize(raw)
    assert r["verdict"] == "INCOMPLETE"
    assert r["verdict_reason"] == "the run was interrupted"
    assert set(controls(r).values()) == {"PASS"}
    raw = passing_results()
    raw["run"]["exit_status"] = 3
    assert finalize(raw)["verdict_reason"] == "pytest exited with status 3"


def test_a_leak_in_the_grid_fails_even_if_the_step_says_ok() -> None:
    raw = passing_results()
    step = step_of(raw, "platform policies")
    cell = next(c for c in step["observed"] if c["outcome"] == "timeout")
    cell.update(outcome="connected", allowed=True)
    assert step["ok"] is True
    r = finalize(raw)
    assert r["verdict"] == "FAIL"
    assert checks(r)["SEG-TENANTS"] == "failed"
    assert "1 leak" in r["verdict_reason"]


def test_a_refusal_is_a_block_when_the_run_says_the_cni_rejects() -> None:
    raw = failing_results()
    step = step_of(raw, "platform policies")
    step["blocking"] = ["refused", "timeout"]
    next(c for c in step["observed"] if c["outcome"] == "refused")["allowed"] = False
    cmp = compare_step(step)
    assert cmp["refused"] == []
    assert REFUSED in cmp["blocked"]


@pytest.mark.parametrize("sample", SAMPLES)
def test_finalize_is_idempotent_and_leaves_its_input_alone(sample: Sample) -> None:
    raw = sample()
    before = copy.deepcopy(raw)
    r = finalize(raw)
    assert raw == before
    assert finalize(r) == r
    assert set(r) - set(raw) == {"summary", "checks", "controls", "verdict", "verdict_reason"}


# --------------------------------------------------------------------------- bundle


def test_write_bundle(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text("<testsuites/>")
    paths = write_bundle(failing_results(), tmp_path)
    assert set(paths) == {"results.json", "report.html", MANIFEST}
    text = paths["results.json"].read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc == finalize(failing_results())
    assert text == dumps_results(doc)
    report = paths["report.html"].read_text(encoding="utf-8")
    assert report == render_html(doc)
    assert results_digest(doc) in report  # the report names the results.json it shows
    manifest = paths[MANIFEST].read_text()
    assert {line.split()[1] for line in manifest.splitlines()} == {
        "results.json",
        "report.html",
        "junit.xml",
    }
    assert verify_manifest(tmp_path) == []
    paths["report.html"].write_text(report.replace("FAIL", "PASS"), encoding="utf-8")
    assert verify_manifest(tmp_path) == ["report.html"]


# --------------------------------------------------------------------------- html


class Page(HTMLParser):
    """Well-formedness (every non-void element closed in order), the tags, the visible
    text and the grid cells of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.cells: list[tuple[str, str, str]] = []  # (class, visible text, spoken text)
        self._cell: tuple[str, list[str], list[str]] | None = None
        self._sr = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in BLOCKS:
            self.text.append(" ")  # as a reader sees it: cells and lines apart
        if tag in VOID:
            return
        self.stack.append(tag)
        cls = a.get("class") or ""
        if tag == "td" and cls.startswith("c "):
            self._cell = (cls, [], [])
        if "sr" in cls.split():
            self._sr = len(self.stack)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}, at {self.getpos()}")
            return
        if self._sr == len(self.stack):
            self._sr = 0
        self.stack.pop()
        if tag == "td" and self._cell is not None:
            cls, seen, said = self._cell
            self.cells.append((cls, "".join(seen), "".join(said)))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if {"style", "title"} & set(self.stack):
            return
        self.text.append(data)
        if self._cell is not None:
            (self._cell[2] if self._sr else self._cell[1]).append(data)


def parse(doc: str) -> Page:
    p = Page()
    p.feed(doc)
    p.close()
    return p


def text_of(doc: str) -> str:
    return re.sub(r"\s+", " ", "".join(parse(doc).text))


def page(sample: Sample) -> tuple[dict[str, Any], str]:
    r = finalize(sample())
    return r, render_html(r)


@pytest.mark.parametrize("sample", [*SAMPLES, dict])
def test_html_is_well_formed_and_self_contained(sample: Sample) -> None:
    doc = render_html(sample())
    assert doc.startswith("<!DOCTYPE html>\n")
    p = parse(doc)
    assert p.errors == []
    assert p.stack == []
    tags = {t for t, _ in p.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "form", "base"}
    for _, attrs in p.tags:
        for name in ("src", "action", "srcset", "data"):
            assert name not in attrs, attrs
        assert str(attrs.get("href") or "#").startswith("#")  # links within the page only
        assert not any(name.startswith("on") for name in attrs)
    csp = [a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    assert "default-src 'none'" in str(csp[0]["content"])
    assert "script-src" not in str(csp[0]["content"])
    assert "@import" not in doc
    assert "url(" not in doc
    assert not re.search(r"https?://", doc.split("<style>")[1].split("</style>")[0])
    ids = [a["id"] for _, a in p.tags if a.get("id")]
    assert len(ids) == len(set(ids))
    targets = {str(a["href"])[1:] for t, a in p.tags if t == "a" and a.get("href")}
    assert targets <= set(ids)


def test_html_escapes_everything() -> None:
    _, doc = page(failing_results)
    assert SCRIPT not in doc
    assert "<script" not in doc
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in doc
    text = "".join(parse(doc).text)
    assert text.count(SCRIPT) == 4  # test message, admission, audit, cause: as text
    assert re.search(
        r'<pre class="fail">AssertionError: scenario &#39;tenants&#39;.*?\n.*?</pre>', doc, re.S
    )


@pytest.mark.parametrize("sample", SAMPLES)
def test_html_puts_the_verdict_and_the_run_identity_first(sample: Sample) -> None:
    r, doc = page(sample)
    p = parse(doc)
    words = "".join(p.text).split()
    assert words[:2] == [{"PASS": "✓", "FAIL": "✗"}.get(r["verdict"], "⚠"), r["verdict"]]
    assert r["verdict"] in doc.split("<title>")[1].split("</title>")[0]
    head = text_of(doc.split('id="h-controls"')[0])
    assert r["verdict_reason"] in head
    who, run, tool = r["identity"], r["run"], r["tool"]
    for fact in (
        who["server"],
        who["kube_system_uid"],
        who["context"],
        who["user"]["username"],
        who["user"]["source"],
        "2026-11-27 13:00:00 UTC",
        run["finished"].replace("T", " ").replace("Z", " UTC"),
        tool["version"],
        tool["commit"],
        f"{run['exit_status']} (",
        r["environment"]["target"],
        run["id"],
        fingerprint(r["environment"]),
    ):
        assert str(fact) in head, fact
    assert ("with local changes" in head) is bool(tool["dirty"])
    assert ("Interrupted" in head) is bool(run["interrupted"])


def test_html_controls_come_after_the_verdict_with_their_2013_numbers() -> None:
    r, doc = page(failing_results)
    section = doc.split('<table class="controls">')[1].split("</table>")[0]
    assert doc.index('id="verdict"') < doc.index('<table class="controls">')
    rows = section.split("<tr")[2:]
    assert len(rows) == len(CONTROLS)
    for row, ctl, c in zip(rows, CONTROLS, r["controls"], strict=True):
        text = text_of("<tr" + row)
        assert ctl.id in text
        assert ctl.title in text
        for old in ctl.iso2013:
            assert f"ISO/IEC 27001:2013: {old}" in text
        assert c["evidence"].replace(SCRIPT, "") in text.replace(SCRIPT, "")
        assert ctl.scope in text
        for cid in ctl.required:
            assert re.search(rf"(passed|failed|error|skipped|deselected|narrowed|not run|not "
                             rf"selected) {re.escape(cid)}\b", text), cid  # fmt: skip
    assert text_of("<tr" + rows[0]).count("INCOMPLETE") >= 1
    assert text_of("<tr" + rows[2]).count("FAIL") >= 1


def test_html_checks_and_tests() -> None:
    r, doc = page(incomplete_results)
    checks_html = doc.split('<table class="checks">')[1].split("</table>")[0]
    text = text_of(checks_html)
    for c in r["checks"]:
        assert c["id"] in text
        assert c["reason"] in text
    for cid, status in INCOMPLETE_CHECKS.items():
        assert re.search(rf"{cid} .*? {status} ", text), cid
    tests = text_of(doc.split('id="h-tests"')[1].split("</section>")[0])
    for t in r["tests"]:
        assert t["nodeid"] in tests
        assert t["check"] in tests
    sel = text_of(doc.split('id="h-selection"')[1].split("</section>")[0])
    for n in [*r["selection"]["deselected"], *r["selection"]["not_run"]]:
        assert n in sel
    assert "ADM-SELECTORS" in sel
    assert "-k 'not mode_behaves'" in sel


def test_html_components_and_artifacts() -> None:
    r, doc = page(failing_results)
    text = text_of(doc.split('id="h-components"')[1].split("</section>")[0])
    for fact in ("v1.37.2", "calico v3.31.2", "v3.23.1", "require-networkpolicy",
                 "enforcementAction: deny", "only a timeout counts as blocked"):  # fmt: skip
        assert fact in text, fact
    for a in r["artifacts"]:
        assert a["kind"] in text
        assert a["sha256"] in text
    assert doc.count("<details><summary>content</summary><pre>") == len(r["artifacts"])
    assert "Safeguard objects changed during the run" in text
    assert r["artifacts_changed"][0]["end"] in text
    _, ok = page(passing_results)
    assert "Safeguard objects changed" not in ok
    raw = passing_results()
    raw["environment"]["deny_response"] = "reject"
    assert "a timeout or a refusal counts as blocked" in render_html(raw)


def test_html_admission_cases() -> None:
    r, doc = page(failing_results)
    section = doc.split('<table class="admission">')[1].split("</table>")[0]
    assert section.count('<tr class="bad">') == 1
    assert "MISMATCH" in section
    assert section.count("as expected") == len(r["admission"]) - 1


def kinds_in(p: Page) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for cls, seen, said in p.cells:
        out.setdefault(cls.split()[1], []).append((seen, said))
    return out


@pytest.mark.parametrize("sample", SAMPLES)
def test_html_grid_cells_show_their_outcome_class_and_kind(sample: Sample) -> None:
    r, doc = page(sample)
    p = parse(doc)
    cells = kinds_in(p)
    css = {"allowed": "c-allow", "blocked": "c-block", "leak": "c-leak", "loss": "c-loss",
           "refused": "c-refused", "unobserved": "c-unobs"}  # fmt: skip
    for kind, cls in css.items():
        want = sum(len(compare_step(s)[kind]) for s in r["scenarios"])
        assert len(cells.get(cls, [])) == want, kind
    grids = sum(len({(c["port"], c["protocol"], c.get("via")) for c in s["expected"]})
                for s in r["scenarios"])  # fmt: skip
    assert doc.count('<table class="grid') == grids
    for cls, found in cells.items():
        if cls == "c-none":
            continue
        for seen, said in found:
            outcome = next(o for o in (*OUTCOMES, "no result") if o in seen)
            assert f"observed {outcome}" in said
    assert all(seen.startswith("✓") for seen, _ in cells["c-allow"])
    assert all(seen.startswith("⊘") for seen, _ in cells["c-block"])


def test_html_marks_the_mismatching_cells() -> None:
    _, doc = page(failing_results)
    cells = kinds_in(parse(doc))
    assert [s for s, _ in cells["c-leak"]] == ["LEAKconnected"]
    assert [s for s, _ in cells["c-loss"]] == ["LOSStimeout"]
    assert [s for s, _ in cells["c-refused"]] == ["REFUSEDrefused"]
    assert [s for s, _ in cells["c-unobs"]] == ["?error"]
    assert cells["c-leak"][0][1] == "expected blocked, observed connected: LEAK; flapped"
    leak = re.search(r'<td class="c c-leak" title="([^"]*)"', doc)
    assert leak is not None
    assert (
        leak.group(1)
        == "tenant-a/frontend → tenant-b/database 5432/TCP (connected to 10.244.1.7:5432)"
    )
    text = text_of(doc)
    assert "LEAK tenant-a/frontend → tenant-b/database 5432/TCP: observed connected" in text
    assert "REFUSED ext/host → tenant-b/frontend 8080/TCP: observed refused" in text
    _, ok = page(passing_results)
    assert not {"c-leak", "c-loss", "c-refused", "c-unobs"} & set(kinds_in(parse(ok)))


def test_html_marks_twin_cells_and_explains_them() -> None:
    r, doc = page(passing_results)
    twins = [c for s in r["scenarios"] for c in s["expected"] if c.get("twin")]
    assert twins
    tds = re.findall(r'<td class="c [^"]* twin"[^>]*>(.*?)</td>', doc)
    assert len(tds) == len(twins)
    assert all('<span class="tag">twin</span>' in td and "twin cell" in td for td in tds)
    assert "every blocked target port has an allowed cell to the same pod and port" in doc


def test_html_traffic_steps_state_provenance_policies_and_namespaces() -> None:
    r, doc = page(failing_results)
    text = text_of(doc)
    assert "expectation computed by the engine (generated case)" in text
    assert (
        text.count("expectation written by hand and computed by the engine: they agree")
        == len(r["scenarios"]) - 1
    )
    for s in r["scenarios"]:
        assert s["step"] in text
        for ref, sha in s["policy_sha256"].items():
            assert f"{ref} {sha}" in text
        for logical, real in s["namespaces"].items():
            assert f"{logical} = {real}" in text
    assert "In this step blocked = timeout." in text
    tenants = step_of(r, "platform policies")
    assert tenants["repro"][0] in text
    assert f"Possible causes: {tenants['causes'][0]}" in text
    assert text.count("Repeat a failing probe with") == 1
    assert text.count("its test could not measure (ProbeError)") == 1


@pytest.mark.parametrize("sample", SAMPLES)
def test_html_has_every_record(sample: Sample) -> None:
    r, doc = page(sample)
    text = text_of(doc)
    headings = re.findall(r'<h2 id="h-([\w-]+)"', doc)
    assert headings == [
        "controls", "checks", "components", "admission", "traffic", "convergence", "audit",
        "not-tested", "tests", "selection", "conduct", "timings", "provenance",
    ]  # fmt: skip
    for a in r["admission"]:
        assert a["case"] in text
    for v in r["audit_violations"]:
        assert v["name"] in text
    for n in r["not_tested"]:
        assert n["what"] in text
    for t in r["timings"]:
        assert t["step"] in text
    for cid, title in CONDUCT_CONTROLS:
        assert f"{cid} {title}" in text
    for c in r["conduct"]["cluster_changes"]:
        assert f"{c['object']} {c['change']} ✓ restored" in text
    cleanup = r["conduct"]["cleanup"]
    assert cleanup["selector"] in text
    assert ("Left on the cluster" in text) is bool(cleanup.get("left"))
    assert results_digest(r) in text
    assert "SHA256SUMS next to this report lists the sha256 of every file" in text


def test_render_html_finalizes_only_a_document_without_verdict() -> None:
    raw = failing_results()
    before = copy.deepcopy(raw)
    assert render_html(raw) == render_html(finalize(raw))
    assert raw == before
    r = finalize(passing_results())
    r["verdict"] = "INCOMPLETE"
    assert text_of(render_html(r)).split()[:2] == ["⚠", "INCOMPLETE"]


def test_html_module_does_not_import_the_bundle() -> None:
    tree = ast.parse(Path(html_module.__file__).read_text())
    names = [
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    ]
    assert not [m for m in names if m and m.startswith("npconform.report.bundle")]


# --------------------------------------------------------------------------- terminal


@pytest.mark.parametrize("sample", SAMPLES)
def test_terminal_summary(sample: Sample) -> None:
    raw = sample()
    before = copy.deepcopy(raw)
    r = finalize(raw)
    out = summary_table(raw)
    assert raw == before
    assert out == summary_table(r)
    lines = out.splitlines()
    assert lines[0].startswith(f"{r['verdict']}: {r['verdict_reason']}")
    assert "\x1b" not in out
    for ctl in CONTROLS:
        assert re.search(rf"^\S+\s+{re.escape(ctl.id)}\s+{re.escape(ctl.iso2013[0])}\s+", out, re.M)
    for s in r["scenarios"]:
        assert f"{s['scenario']} / {s['step']}" in out
    for c in r["checks"]:
        if c["status"] != "passed" and c["required_by"]:
            assert re.search(rf"^{c['status']}\s+{c['id']}\s", out, re.M), c["id"]
    for t in r["tests"]:
        assert (t["nodeid"] in out) is (t["outcome"] in ("failed", "error"))


def test_terminal_summary_counts_outcome_classes_and_colours_on_request() -> None:
    plain = summary_table(failing_results())
    coloured = summary_table(failing_results(), color=True)
    assert "\x1b[1;31mFAIL" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    # cells, connected, timeout, refused, error, leaks, losses, refusals, convergence
    assert re.search(
        r"FAIL\s+tenants / platform policies\s+32\s+8\s+23\s+1\s+0\s+1\s+1\s+1\s+30\.0s", plain
    )
    assert re.search(r"FAIL\s+dns / .*\s+4\s+2\s+1\s+0\s+1\s+0\s+0\s+0\s+1\.2s", plain)
    assert f"failed   NET-DNS          {T_DNS}  (could not measure: ProbeError)" in plain
    assert T_TENANTS in plain
    assert "WARNING: safeguard objects changed during the run" in plain
    assert "INTERRUPTED" in summary_table(incomplete_results())


def test_report_shows_coverage_and_who_can_switch_it_off() -> None:
    from npconform.report.html import render_html

    raw = passing_results()
    page = render_html(raw)
    assert (
        "Coverage of the cluster&#39;s namespaces" in page
        or "Coverage of the cluster's namespaces" in page
    )
    assert "Who can switch the safeguard off" in page
    assert "ClusterRoleBinding cluster-admin -&gt; ClusterRole cluster-admin" in page
    from npconform.model.rbac import Finding

    tenant = Finding(
        "ServiceAccount tenant/ci", "ServiceAccount", "ci", "tenant",
        "label or annotate namespaces", "patch", "namespace tenant",
        "RoleBinding tenant/ci -> Role x", platform=False, confirmed=True, tenant=True,
    )  # fmt: skip
    raw["coverage"]["switch_off"]["findings"].append(tenant.to_json())
    page = render_html(raw)
    assert '<tr class="bad"><td class="mono">ServiceAccount tenant/ci</td>' in page
