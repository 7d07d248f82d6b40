"""The build graph: content keys, reuse, and rebuilding only what depends on a change."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from npconform.airgap.steps import BuildFailed, Ctx, Graph, Step


def make(tmp_path: Path, versions: dict[str, str], built: list[str]) -> Graph:
    store = tmp_path / "store"
    store.mkdir(exist_ok=True)

    def step(name: str, deps: list[str]) -> Step:
        def build(ctx: Ctx) -> str:
            built.append(name)
            (store / ctx.key).write_text(name)
            return ctx.key

        def cached(ctx: Ctx) -> Any:
            return ctx.key if (store / ctx.key).exists() else None

        return Step(name, {"v": versions.get(name, "")}, build, cached, deps)

    g = Graph(tmp_path, out=io.StringIO())
    g.add(step("a", []))
    g.add(step("b", ["a"]))
    g.add(step("c", []))
    g.add(step("d", ["b", "c"]))
    return g


def test_second_run_reuses_everything(tmp_path: Path) -> None:
    built: list[str] = []
    make(tmp_path, {}, built).run(["d"])
    assert sorted(built) == ["a", "b", "c", "d"]
    built.clear()
    g = make(tmp_path, {}, built)
    g.run(["d"])
    assert built == []
    assert all(o.state == "reused" for o in g.outcomes)
    assert "0 built, 4 reused" in g.table()


def test_changing_one_input_rebuilds_only_its_dependants(tmp_path: Path) -> None:
    built: list[str] = []
    make(tmp_path, {}, built).run(["d"])
    built.clear()
    make(tmp_path, {"c": "2"}, built).run(["d"])
    assert sorted(built) == ["c", "d"]


def test_failure_skips_dependants(tmp_path: Path) -> None:
    g = Graph(tmp_path, out=io.StringIO())

    def boom(ctx: Ctx) -> Any:
        raise RuntimeError("no such version")

    g.add(Step("x", {}, boom, lambda ctx: None))
    g.add(Step("y", {}, lambda ctx: 1, lambda ctx: None, ["x"]))
    with pytest.raises(BuildFailed, match="x: no such version"):
        g.run(["y"])
    assert {o.name: o.state for o in g.outcomes} == {"x": "failed", "y": "skipped"}


def test_cycle_is_reported(tmp_path: Path) -> None:
    g = Graph(tmp_path, out=io.StringIO())
    g.add(Step("p", {}, lambda ctx: 1, lambda ctx: None, ["q"]))
    g.add(Step("q", {}, lambda ctx: 1, lambda ctx: None, ["p"]))
    with pytest.raises(ValueError, match="cycle"):
        g.closure(["p"])
