"""The evidence report: verdict and control rules, results.json, report.html, terminal."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from npconform.report import (
    compute_controls,
    compute_verdict,
    finalize,
    render_html,
    summary_table,
    write_bundle,
)
from npconform.report.bundle import compare_step, dumps_results
from report_samples import (
    LEAK,
    LOSS,
    SCRIPT,
    T_ADM_DENY,
    T_SMOKE,
    T_TENANTS,
    UNOBSERVED,
    failing_results,
    passing_results,
)

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


def verdicts(results: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in compute_controls(results)}


# --------------------------------------------------------------------------- rules


def test_passing_run_passes_every_control() -> None:
    r = passing_results()
    assert compute_verdict(r) == "PASS"
    assert verdicts(r) == {"A.13.1.1": "PASS", "A.13.1.2": "PASS", "A.13.1.3": "PASS"}


def test_tests_map_to_controls_by_area() -> None:
    controls = {c["id"]: c for c in compute_controls(passing_results())}
    assert T_SMOKE in controls["A.13.1.2"]["tests"]
    assert T_SMOKE not in controls["A.13.1.1"]["tests"]
    assert T_ADM_DENY in controls["A.13.1.1"]["tests"]
    assert T_ADM_DENY in controls["A.13.1.2"]["tests"]
    assert T_ADM_DENY not in controls["A.13.1.3"]["tests"]
    assert T_TENANTS in controls["A.13.1.3"]["tests"]
    assert T_TENANTS not in controls["A.13.1.2"]["tests"]
    for c in controls.values():
        assert c["title"]
        assert c["evidence"].endswith(".")


def test_failing_run_fails_the_controls_of_its_failed_tests() -> None:
    r = failing_results()
    assert compute_verdict(r) == "FAIL"
    assert verdicts(r) == {"A.13.1.1": "FAIL", "A.13.1.2": "FAIL", "A.13.1.3": "FAIL"}


def test_a_failed_traffic_test_leaves_the_smoke_only_control_alone() -> None:
    r = passing_results()
    next(t for t in r["tests"] if t["nodeid"] == T_TENANTS)["outcome"] = "error"
    assert compute_verdict(r) == "FAIL"
    assert verdicts(r) == {"A.13.1.1": "FAIL", "A.13.1.2": "PASS", "A.13.1.3": "FAIL"}


def test_a_failed_test_of_no_area_still_fails_the_run() -> None:
    r = passing_results()
    r["tests"].append(
        {"nodeid": "t.py::x", "outcome": "failed", "duration_s": 0, "area": "other", "message": ""}
    )
    assert compute_verdict(r) == "FAIL"
    assert set(verdicts(r).values()) == {"PASS"}


def test_skips_neither_pass_nor_fail() -> None:
    r = passing_results()
    r["tests"] = [t for t in r["tests"] if t["outcome"] != "passed" or t["area"] != "traffic"]
    # only skipped traffic tests left: A.13.1.3 has no evidence
    assert verdicts(r)["A.13.1.3"] == "INCOMPLETE"
    assert verdicts(r)["A.13.1.2"] == "PASS"
    assert compute_verdict(r) == "INCOMPLETE"


def test_a_required_check_not_tested_makes_it_incomplete() -> None:
    r = passing_results()
    r["not_tested"].append({"what": "egress", "reason": "offline", "required": True})
    assert compute_verdict(r) == "INCOMPLETE"
    assert set(verdicts(r).values()) == {"INCOMPLETE"}  # names no control: concerns all


def test_a_required_check_concerns_the_controls_of_its_area() -> None:
    r = passing_results()
    r["not_tested"].append(
        {"what": "Calico health", "reason": "x", "required": True, "area": "smoke"}
    )
    assert verdicts(r) == {"A.13.1.1": "PASS", "A.13.1.2": "INCOMPLETE", "A.13.1.3": "PASS"}
    r["not_tested"][-1] = {
        "what": "ipBlock",
        "reason": "x",
        "required": True,
        "controls": ["A.13.1.3"],
    }
    assert verdicts(r) == {"A.13.1.1": "PASS", "A.13.1.2": "PASS", "A.13.1.3": "INCOMPLETE"}
    assert compute_verdict(r) == "INCOMPLETE"


def test_optional_checks_not_tested_do_not_matter() -> None:
    r = passing_results()
    assert r["not_tested"]
    assert not any(n["required"] for n in r["not_tested"])
    assert compute_verdict(r) == "PASS"


def test_nothing_ran_is_incomplete() -> None:
    r = passing_results()
    r["tests"] = []
    r["summary"] = {"passed": 0, "failed": 0, "skipped": 0, "error": 0, "total": 0}
    r["scenarios"] = r["admission"] = []
    assert compute_verdict(r) == "INCOMPLETE"
    assert set(verdicts(r).values()) == {"INCOMPLETE"}


def test_evidence_contradicting_a_passed_test_fails() -> None:
    r = passing_results()
    r["scenarios"][1]["ok"] = False
    assert compute_verdict(r) == "FAIL"
    assert verdicts(r) == {"A.13.1.1": "FAIL", "A.13.1.2": "PASS", "A.13.1.3": "FAIL"}
    r = passing_results()
    r["admission"][0]["ok"] = False
    assert verdicts(r) == {"A.13.1.1": "FAIL", "A.13.1.2": "FAIL", "A.13.1.3": "PASS"}


def test_a_leak_in_the_grid_fails_even_if_the_step_says_ok() -> None:
    r = passing_results()
    step = r["scenarios"][0]
    cell = next(c for c in step["observed"] if not c["allowed"])
    cell["allowed"] = True
    assert step["ok"] is True
    assert compute_verdict(r) == "FAIL"
    assert verdicts(r)["A.13.1.3"] == "FAIL"


def test_unobserved_probes_are_named_in_the_reason() -> None:
    r = passing_results()
    r["scenarios"][0]["observed"].pop()
    f = finalize(r)
    assert f["verdict"] == "PASS"
    assert "1 probe unobserved" in f["verdict_reason"]


def test_finalize_keeps_the_stricter_verdict_and_is_idempotent() -> None:
    r = passing_results()
    r["verdict"] = "INCOMPLETE"
    assert finalize(r)["verdict"] == "INCOMPLETE"
    r = failing_results()
    r["verdict"] = "PASS"  # a producer cannot talk a failure away
    f = finalize(r)
    assert f["verdict"] == "FAIL"
    assert f["summary"] == {"passed": 6, "failed": 2, "skipped": 2, "error": 1, "total": 11}
    assert "leak" in f["verdict_reason"]
    assert "loss" in f["verdict_reason"]
    assert finalize(f) == f
    r = passing_results()
    r["controls"] = [{"id": "A.13.1.3", "verdict": "FAIL", "evidence": "manual review failed."}]
    f = finalize(r)
    assert f["verdict"] == "FAIL"
    assert {c["id"]: c["verdict"] for c in f["controls"]}["A.13.1.3"] == "FAIL"
    assert finalize(f) == f


def test_compare_step_finds_leaks_losses_and_unobserved() -> None:
    step = failing_results()["scenarios"][0]
    cmp = compare_step(step)
    assert cmp["leak"] == [LEAK]
    assert cmp["loss"] == [LOSS]
    assert cmp["unobserved"] == [UNOBSERVED]
    assert len(cmp["allowed"]) + len(cmp["blocked"]) == len(step["expected"]) - 3


# --------------------------------------------------------------------------- bundle


def test_write_bundle(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text("<testsuites/>")
    paths = write_bundle(failing_results(), tmp_path)
    assert set(paths) == {"results.json", "report.html"}
    assert junit.read_text() == "<testsuites/>"
    text = paths["results.json"].read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc == finalize(failing_results())
    assert text == dumps_results(doc)  # sorted keys, indented: stable across runs
    assert list(doc) == sorted(doc)
    assert text.startswith("{\n  ")
    # the report names the exact results.json it was made from
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest in paths["report.html"].read_text(encoding="utf-8")
    # writing again gives the same bytes
    write_bundle(failing_results(), tmp_path)
    assert paths["results.json"].read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "junit.xml",
        "report.html",
        "results.json",
    ]


# --------------------------------------------------------------------------- html


class Checker(HTMLParser):
    """Strict-enough well-formedness: every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.raw: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}, at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "style" not in self.stack and "title" not in self.stack:
            self.raw.append(data)
        if data.strip() and "style" not in self.stack and "title" not in self.stack:
            self.text.append(data.strip())


def visible_text(doc: str) -> str:
    """The document's text as a reader sees it (markup such as <wbr> removed)."""
    return "".join(parse(doc).raw)


def parse(doc: str) -> Checker:
    c = Checker()
    c.feed(doc)
    c.close()
    return c


@pytest.mark.parametrize("sample", [passing_results, failing_results])
def test_html_is_well_formed_and_self_contained(sample: Any) -> None:
    doc = render_html(sample())
    assert doc.startswith("<!DOCTYPE html>")
    c = parse(doc)
    assert c.errors == []
    assert c.stack == []
    tags = {t for t, _ in c.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "form"}
    for _, attrs in c.tags:
        for name in ("src", "href", "action"):
            assert not attrs.get(name), attrs
    assert "@import" not in doc
    assert "url(" not in doc
    assert not re.search(r"https?://", doc.split("<style>")[1].split("</style>")[0])
    ids = [a["id"] for _, a in c.tags if a.get("id")]
    assert len(ids) == len(set(ids))


def test_html_verdict_comes_first() -> None:
    doc = render_html(failing_results())
    c = parse(doc)
    # the first words a reader meets are the verdict and its reason
    assert c.text[1] == "FAIL"
    assert c.text[2].startswith("Conformance verdict")
    assert "tests failed or errored" in c.text[3]
    assert "FAIL" in doc.split("<title>")[1].split("</title>")[0]
    assert doc.index('id="verdict"') < doc.index("A.13.1.1") < doc.index("A.13.1.2")
    assert doc.index("A.13.1.2") < doc.index("A.13.1.3")
    body = doc.split("<body>")[1]
    for text in (
        "v1.37.2",
        "calico",
        "v3.23.1",
        "require-networkpolicy",
        "enforcementAction",
        "deny",
        "f00d42",
        "2026-11-27 13:00:00 UTC",
        "offline",
        "3 (1 control plane",
    ):
        assert text in body.split('id="h-controls"')[0], text


def test_html_escapes_everything() -> None:
    doc = render_html(failing_results())
    assert SCRIPT not in doc
    assert "<script" not in doc
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in doc
    c = parse(doc)
    assert any(SCRIPT in t for t in c.text)  # shown to the reader as text
    # failure messages keep their lines, in <pre>
    assert re.search(
        r"<pre class=\"fail\">AssertionError: reachability differs.*?\n.*?</pre>", doc, re.S
    )


def test_html_grid_cells_are_distinct_and_labelled() -> None:
    doc = render_html(failing_results())
    assert doc.count('<td class="c c-leak') == 1
    assert doc.count('<td class="c c-loss') == 1
    assert doc.count('<td class="c c-unobs') == 1
    leak = re.search(r'<td class="c c-leak[^"]*" title="([^"]*)">(.*?)</td>', doc)
    assert leak is not None
    assert "tenant-a/frontend → tenant-b/database port 5432/TCP" in leak.group(1)
    assert ">LEAK<" in leak.group(2)
    assert "allowed, but policy expects it blocked" in leak.group(2)  # for screen readers
    loss = re.search(r'<td class="c c-loss[^"]*" title="([^"]*)">(.*?)</td>', doc)
    assert loss is not None
    assert ">LOSS<" in loss.group(2)
    assert 'class="legend"' in doc
    assert doc.count('<table class="grid') == 3
    assert '<table class="grid dense"' in doc  # the 9x36 upstream grid
    assert "flapped while converging" in doc
    ok = render_html(passing_results())
    assert '<td class="c c-leak' not in ok
    assert '<td class="c c-loss' not in ok


@pytest.mark.parametrize("sample", [passing_results, failing_results])
def test_html_has_every_section(sample: Any) -> None:
    r = sample()
    doc = visible_text(render_html(r))
    for cid in ("A.13.1.1", "A.13.1.2", "A.13.1.3"):
        assert cid in doc
    for t in r["tests"]:
        assert t["nodeid"] in doc
    for n in r["not_tested"]:
        assert n["what"] in doc
    for step in r["scenarios"]:
        assert step["step"] in doc
    for t in r["timings"]:
        assert t["step"] in doc
    for a in r["admission"]:
        assert a["case"] in doc
    for v in r["audit_violations"]:
        assert v["name"] in doc
    headings = re.findall(r'<h2 id="h-(\w+)"', render_html(r))
    assert headings == [
        "cluster", "controls", "admission", "traffic", "conv", "audit", "nottested", "tests",
        "timings", "prov",
    ]  # fmt: skip


def test_html_without_constraint_or_evidence() -> None:
    r = passing_results()
    r["environment"]["constraint"] = None
    r["scenarios"] = r["admission"] = r["timings"] = r["tests"] = r["not_tested"] = []
    doc = render_html(r)
    assert parse(doc).errors == []
    assert "INCOMPLETE" in doc
    assert "none found" in doc


# --------------------------------------------------------------------------- terminal


@pytest.mark.parametrize("sample", [passing_results, failing_results])
def test_terminal_summary(sample: Any) -> None:
    r = sample()
    out = summary_table(r)
    lines = out.splitlines()
    assert lines[0].startswith(finalize(r)["verdict"] + ": ")
    assert "\x1b" not in out
    for t in r["tests"]:
        assert t["nodeid"] in out
    for step in r["scenarios"]:
        assert step["step"] in out
    for cid in ("A.13.1.1", "A.13.1.2", "A.13.1.3"):
        assert cid in out
    # the test table's columns are aligned: every nodeid starts at the same column
    starts = {line.index(t["nodeid"]) for t in r["tests"] for line in lines
              if line.endswith(t["nodeid"])}  # fmt: skip
    assert len(starts) == 1


def test_terminal_summary_colour_is_optional() -> None:
    plain = summary_table(failing_results())
    coloured = summary_table(failing_results(), color=True)
    assert "\x1b[1;31mFAIL" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert "leak" in plain.splitlines()[0]
    assert re.search(r"FAIL\s+tenants / platform policies\s+40\s+1\s+1\s+30\.0s\s+6", plain)


def test_inputs_are_not_modified() -> None:
    r = failing_results()
    before = copy.deepcopy(r)
    render_html(r)
    summary_table(r)
    finalize(r)
    compute_controls(r)
    assert r == before
