"""`npconform fleet`: the newest report of each cluster (told by its kube-system UID) in
one table, cluster x control, the worst first; what changed since each cluster's previous
report; the page escapes what it shows; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import cli

from npconform.report.fleet import fleet, render_fleet
from test_schema import as_json, make_run

ROOT = Path(__file__).resolve().parents[1]


def _at(doc: dict[str, Any], when: str, run_id: str) -> dict[str, Any]:
    doc["run"]["finished"] = when
    doc["run"]["id"] = run_id
    return doc


def _fleet_docs(tmp_path: Path) -> list[tuple[str, dict[str, Any]]]:
    a_old = _at(
        as_json(make_run(tmp_path, "a1", kube_system_uid="uid-a")), "2026-12-01T02:00:00Z", "a1"
    )
    a_new = _at(
        as_json(make_run(tmp_path, "a2", leak=True, kube_system_uid="uid-a")),
        "2026-12-02T02:00:00Z",
        "a2",
    )
    b = _at(
        as_json(make_run(tmp_path, "b1", server="https://b.example:6443", kube_system_uid="uid-b")),
        "2026-12-02T03:00:00Z",
        "b1",
    )
    # given out of order, and one of them twice
    return [("a2.json", a_new), ("b1.json", b), ("a1.json", a_old), ("a2-copy.json", a_new)]


def test_newest_per_cluster_worst_first_with_the_change_since_the_previous(
    tmp_path: Path,
) -> None:
    f = fleet(_fleet_docs(tmp_path))
    assert [(r.key, r.run_id, r.verdict, r.reports) for r in f.rows] == [
        ("uid-a", "a2", "FAIL", 2),
        ("uid-b", "b1", "PASS", 1),
    ]
    a, b = f.rows
    assert a.controls["A.8.20"] == "FAIL" and a.controls["A.8.21"] == "PASS"
    assert a.worse and a.previous == "run a1 (2026-12-01T02:00:00Z)"
    assert "verdict: PASS -> FAIL (worse)" in a.changes
    assert not b.previous and b.changes == ""
    assert f.verdict == "FAIL"
    text = f.text()
    assert "fleet: 2 cluster(s), worst verdict FAIL" in text
    assert text.splitlines()[1].split()[-1] == "worse"
    assert text.splitlines()[2].split()[-1] == "report"  # "first report"


def test_the_page_shows_each_cluster_and_escapes_what_it_shows(tmp_path: Path) -> None:
    docs = _fleet_docs(tmp_path)
    docs[1][1]["identity"]["context"] = '<script>alert("x")</script>'
    page = render_fleet(fleet(docs))
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert page.count('<tr class="bad">') == 1  # cluster a: FAIL and worse
    assert "first report of this cluster" in page and "WORSE since run a1" in page
    for cid in ("A.8.20", "A.8.21", "A.8.22"):
        assert f">{cid}</th>" in page


def test_the_command_writes_the_page_and_exits_with_the_worst_verdict(tmp_path: Path) -> None:
    paths = []
    for name, doc in _fleet_docs(tmp_path)[:3]:
        d = tmp_path / "reports" / name.removesuffix(".json")
        d.mkdir(parents=True)
        (d / "results.json").write_text(json.dumps(doc))
        paths.append(str(d))
    out = tmp_path / "fleet.html"
    p = cli("fleet", *paths, "--out", str(out))
    assert p.returncode == 1, p.stdout + p.stderr
    assert out.is_file() and "npconform fleet" in out.read_text()
    p = cli("fleet", paths[1], "--out", str(out))
    assert p.returncode == 0, p.stdout + p.stderr


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    p = cli("fleet", str(tmp_path / "nope.json"), "--out", str(tmp_path / "f.html"))
    assert (
        p.returncode == 2
        and p.stderr.strip() == f"npconform: {tmp_path / 'nope.json'}: no such file"
    )
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    p = cli("fleet", str(bad), "--out", str(tmp_path / "f.html"))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "not a valid results document" in p.stderr
    assert not (tmp_path / "f.html").exists()
    p = cli("fleet", str(bad), "--out", str(tmp_path / "no" / "f.html"))
    assert p.returncode == 2 and "no such directory" in p.stderr
