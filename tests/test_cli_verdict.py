"""``npconform diff`` and ``npconform verdict``: files only, no cluster, no kubeconfig.

diff: 0 unchanged or better, 1 worse, 2 a file missing, not JSON or not a results
document. verdict: 0 PASS, 1 FAIL, 3 INCOMPLETE, 4 a file listed in SHA256SUMS was edited.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from npconform import cli
from npconform.report.document import dumps_results
from test_schema import as_json, make_run, no_cluster_run


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No kubeconfig anywhere, and any attempt to reach a cluster fails the test."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)

    def no_clients(args: Any) -> Any:
        raise AssertionError("diff and verdict must not need a cluster")

    monkeypatch.setattr(cli, "_clients", no_clients)


@pytest.fixture
def bundle(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """npconform.report.bundle. While report.html is being rewritten it may not import:
    then the bundle is loaded over a stand-in renderer, for this test only."""
    try:
        return importlib.import_module("npconform.report.bundle")
    except ImportError:
        pass
    for name in ("npconform.report.bundle", "npconform.report.html"):
        monkeypatch.setitem(sys.modules, name, None)  # undone: removed again afterwards
        del sys.modules[name]
    stub = types.ModuleType("npconform.report.html")
    stub.render_html = lambda results: "<!doctype html><title>report</title>\n"  # type: ignore[attr-defined]
    sys.modules["npconform.report.html"] = stub
    return importlib.import_module("npconform.report.bundle")


def write_report(directory: Path, doc: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    path.write_text(dumps_results(doc))
    return path


def bundle_dir(bundle: types.ModuleType, directory: Path, doc: dict[str, Any]) -> Path:
    """A report directory as a run leaves it: results.json, report.html, junit.xml and
    SHA256SUMS (by write_bundle; by write_manifest when rendering the HTML fails)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "junit.xml").write_text('<?xml version="1.0"?><testsuites/>\n')
    try:
        bundle.write_bundle(doc, directory)
    except Exception:  # report.html is being rewritten: write the rest ourselves
        write_report(directory, doc)
        (directory / "report.html").write_text("<!doctype html><title>report</title>\n")
        bundle.write_manifest(directory)
    listed = [ln.split()[1] for ln in (directory / "SHA256SUMS").read_text().splitlines()]
    assert "results.json" in listed and "junit.xml" in listed
    return directory


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# -- diff -------------------------------------------------------------------------------


def test_diff_worse_exits_1(
    tmp_path: Path,
    healthy: dict[str, Any],
    leaking: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = write_report(tmp_path / "old", healthy)
    new = write_report(tmp_path / "new", leaking)
    code, out, err = run(["diff", str(old), str(new)], capsys)
    assert (code, err) == (1, "")
    assert "verdict: PASS -> FAIL (worse)" in out
    assert "x/a -> y/b:80/TCP: timeout (blocked) -> connected (allowed) [blocked -> leak]" in out


def test_diff_better_or_unchanged_exits_0_and_takes_directories(
    tmp_path: Path,
    healthy: dict[str, Any],
    leaking: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_report(tmp_path / "old", leaking)
    write_report(tmp_path / "new", healthy)
    code, out, _ = run(["diff", str(tmp_path / "old"), str(tmp_path / "new")], capsys)
    assert code == 0
    assert "verdict: FAIL -> PASS (better)" in out
    code, out, _ = run(["diff", str(tmp_path / "new"), str(tmp_path / "new")], capsys)
    assert code == 0
    assert out.rstrip().endswith("no changes")


def test_diff_accepts_the_global_options_without_using_them(
    tmp_path: Path, healthy: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_report(tmp_path / "r", healthy)
    argv = ["--kubeconfig", str(tmp_path / "nowhere"), "diff", str(path), str(path)]
    assert run(argv, capsys)[0] == 0


def one_line_error(err: str) -> str:
    assert err.startswith("npconform: ") and err.endswith("\n"), err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("broken", ["missing", "empty dir", "not json", "not a document"])
def test_diff_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    healthy: dict[str, Any],
    broken: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = write_report(tmp_path / "good", healthy)
    bad = tmp_path / "bad" / "results.json"
    bad.parent.mkdir()
    expect = {
        "missing": "no such file",
        "empty dir": "a directory without a results.json",
        "not json": "not JSON",
        "not a document": "not a valid results document: $.verdict: 'MAYBE' is not one of",
    }[broken]
    if broken == "not json":
        bad.write_text("{oops")
    elif broken == "not a document":
        bad.write_text(json.dumps({**healthy, "verdict": "MAYBE"}))
    arg = str(bad.parent if broken == "empty dir" else bad)
    code, out, err = run(["diff", str(good), arg], capsys)
    assert (code, out) == (2, "")
    assert expect in one_line_error(err)


def test_diff_schema_error_count_is_summarised(
    tmp_path: Path, healthy: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_report(tmp_path / "bad", {**healthy, "verdict": "MAYBE", "tests": "none"})
    good = write_report(tmp_path / "good", healthy)
    code, _, err = run(["diff", str(bad), str(good)], capsys)
    assert code == 2
    assert "(and 1 more)" in one_line_error(err)


# -- verdict ----------------------------------------------------------------------------


def test_verdict_pass_exits_0(
    tmp_path: Path, healthy: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["verdict", str(write_report(tmp_path / "r", healthy))], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"PASS: {healthy['verdict_reason']}"
    assert lines[1:] == [
        "  A.8.20 Networks security: PASS",
        "  A.8.21 Security of network services: PASS",
        "  A.8.22 Segregation of networks: PASS",
    ]


def test_verdict_fail_exits_1(
    tmp_path: Path, leaking: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    write_report(tmp_path / "r", leaking)
    code, out, _ = run(["verdict", str(tmp_path / "r")], capsys)
    assert code == 1
    assert out.startswith("FAIL: 1 test failed; 1 leak")
    assert "  A.8.20 Networks security: FAIL" in out.splitlines()


def test_verdict_incomplete_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    incomplete = as_json(make_run(tmp_path, "inc", deselect=("NET-DNS",)))
    code, out, _ = run(["verdict", str(write_report(tmp_path / "r1", incomplete))], capsys)
    assert code == 3
    assert out.startswith("INCOMPLETE: A.8.20 incomplete: NET-DNS (deselected)")
    never = as_json(no_cluster_run())
    code, out, _ = run(["verdict", str(write_report(tmp_path / "r2", never))], capsys)
    assert code == 3 and out.startswith("INCOMPLETE: ")


def test_verdict_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["verdict", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "no such file" in one_line_error(err)
    (tmp_path / "results.json").write_text("[]")
    code, _, err = run(["verdict", str(tmp_path)], capsys)
    assert code == 2 and "$: [] is not of type 'object'" in one_line_error(err)


def test_verdict_of_an_intact_bundle(
    tmp_path: Path,
    bundle: types.ModuleType,
    leaking: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = bundle_dir(bundle, tmp_path / "report", leaking)
    code, out, err = run(["verdict", str(d)], capsys)
    assert (code, err) == (1, "")
    assert out.startswith("FAIL: ")


@pytest.mark.parametrize("edited", ["results.json", "junit.xml", "report.html"])
def test_verdict_names_an_edited_file_and_exits_4(
    tmp_path: Path,
    bundle: types.ModuleType,
    healthy: dict[str, Any],
    edited: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = bundle_dir(bundle, tmp_path / "report", healthy)
    path = d / edited
    path.write_text(path.read_text().replace("PASS", "FAIL") + " ")
    code, out, err = run(["verdict", str(d / "results.json")], capsys)
    assert (code, out) == (4, "")
    assert (
        one_line_error(err)
        .rstrip()
        .endswith(f"edited or missing since the bundle was written: {edited}")
    )


def test_verdict_names_a_removed_file_and_exits_4(
    tmp_path: Path,
    bundle: types.ModuleType,
    healthy: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = bundle_dir(bundle, tmp_path / "report", healthy)
    (d / "junit.xml").unlink()
    code, _, err = run(["verdict", str(d)], capsys)
    assert code == 4
    assert "junit.xml" in one_line_error(err)


def test_verdict_edit_that_breaks_json_is_still_reported_as_edited(
    tmp_path: Path,
    bundle: types.ModuleType,
    healthy: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = bundle_dir(bundle, tmp_path / "report", healthy)
    (d / "results.json").write_text("{")
    code, _, err = run(["verdict", str(d)], capsys)
    assert code == 4 and "results.json" in one_line_error(err)


def test_verdict_with_a_malformed_manifest_exits_2(
    tmp_path: Path,
    bundle: types.ModuleType,
    healthy: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = bundle_dir(bundle, tmp_path / "report", healthy)
    (d / "SHA256SUMS").write_text("no-digest-here\n")
    code, _, err = run(["verdict", str(d)], capsys)
    assert code == 2 and "SHA256SUMS: cannot be checked" in one_line_error(err)
