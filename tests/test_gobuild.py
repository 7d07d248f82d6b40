"""Wrapper modules re-express a module's local replaces as published versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from npconform.airgap import gobuild
from npconform.airgap.gobuild import GoBuildError, Wrapper, parse_replaces
from npconform.lock import Module

GOMOD = """module example.com/big

go 1.26.0

require (
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ../client-go // a comment
\tgopkg.in/x.v2 => gopkg.in/x.v2 v2.0.0
)

replace example.com/one v1.0.0 => example.com/fork v1.0.1
"""


def test_parse_replaces() -> None:
    assert parse_replaces(GOMOD) == [
        ("k8s.io/api", None, "./staging/src/k8s.io/api", None),
        ("k8s.io/client-go", None, "../client-go", None),
        ("gopkg.in/x.v2", None, "gopkg.in/x.v2", "v2.0.0"),
        ("example.com/one", "v1.0.0", "example.com/fork", "v1.0.1"),
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("same", "v1.37.2"),
        ("v0-minor", "v0.37.2"),
        ({"k8s.io/api": "v0.1.0", "k8s.io/client-go": "v0.2.0"}, "v0.1.0"),
    ],
)
def test_local_replace_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rule: object, expected: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text(GOMOD)
    monkeypatch.setattr(gobuild, "module_dir", lambda mod, env, log: src)
    mod = Module("big", "example.com/big", "v1.37.2", local_replaces=rule)  # type: ignore[arg-type]
    w = Wrapper(mod, tmp_path / "w")
    w.prepare(tmp_path / "log")
    text = (tmp_path / "w" / "go.mod").read_text()
    assert "require example.com/big v1.37.2" in text
    assert f"k8s.io/api => k8s.io/api {expected}" in text
    assert "gopkg.in/x.v2 => gopkg.in/x.v2 v2.0.0" in text
    assert "example.com/one v1.0.0 => example.com/fork v1.0.1" in text


def test_local_replace_without_rule_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text(GOMOD)
    monkeypatch.setattr(gobuild, "module_dir", lambda mod, env, log: src)
    with pytest.raises(GoBuildError, match="local_replaces"):
        Wrapper(Module("big", "example.com/big", "v1.0.0"), tmp_path / "w").prepare(
            tmp_path / "log"
        )


def test_stub_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "go.mod").write_text("module m\n\ngo 1.24\n\nreplace example.com/lib => ./lib\n")
    monkeypatch.setattr(gobuild, "module_dir", lambda mod, env, log: src)
    mod = Module("m", "m", "v1.0.0", local_replaces={"example.com/lib": "stub"})
    Wrapper(mod, tmp_path / "w").prepare(tmp_path / "log")
    stub = tmp_path / "w" / "stubs" / "example.com_lib" / "go.mod"
    assert stub.read_text().startswith("module example.com/lib")


def test_unknown_version_names_module_and_version() -> None:
    msg = gobuild._module_error(
        Module("k", "example.com/x", "v9.9.9"), "reading ...: 404 Not Found: not available"
    )
    assert msg == "module example.com/x has no version v9.9.9 (lock key 'k')"
