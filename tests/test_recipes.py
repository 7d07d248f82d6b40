"""The image recipes, checked without building anything: every file an image copies is an
output of the step it depends on, and a change to one recipe changes the cache keys of
exactly that step and its dependants."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from npconform.airgap import imageplans, recipes
from npconform.airgap.context import Derived, ImagePlan, ModuleTree, StepFile, Text
from npconform.airgap.gotargets import GoTarget
from npconform.lock import Lock, load

LOCK = load()


def keys(tmp_path: Path) -> dict[str, str]:
    g, targets = recipes.graph(LOCK, tmp_path, with_second_cni=True)
    return {n: g.key(n) for n in g.closure(targets)}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {n for n in before if before[n] != after[n]}


def with_plan(monkeypatch: pytest.MonkeyPatch, key: str, **change: object) -> None:
    real = imageplans.image_plans

    def plans(lock: Lock) -> list[ImagePlan]:
        return [dataclasses.replace(p, **change) if p.key == key else p for p in real(lock)]

    monkeypatch.setattr(recipes, "image_plans", plans)


def test_the_recipes_are_consistent() -> None:
    assert recipes.problems(LOCK) == []


def test_the_served_images_are_the_cluster_images_of_the_recipes() -> None:
    served = recipes.served(LOCK)
    assert "registry" not in served and "node" not in served and "kube-router" not in served
    assert "gatekeeper" in served and "pause" in served
    assert recipes.served(LOCK, second_cni=True) == [*served, "kube-router"]


def test_go_outputs_follow_the_packages() -> None:
    t = GoTarget(
        "x", ("example.com/a/cmd/tool", "example.com/b/v3", "example.com/c"), rename=(("b", "bee"),)
    )
    assert t.outputs() == {"tool", "bee", "c"}
    etcd = next(t for t in recipes.go_targets(LOCK) if t.key == "etcd")
    assert etcd.outputs() == {"etcd"}


def test_a_binary_no_step_outputs_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    agnhost = next(p for p in imageplans.image_plans(LOCK) if p.key == "agnhost")
    context = [
        (path, StepFile("go:kubernetes", "agnhostt") if path == "files/agnhost" else src)
        for path, src in agnhost.context
    ]
    with_plan(monkeypatch, "agnhost", context=context)
    assert recipes.problems(LOCK) == [
        "agnhost: files/agnhost copies 'agnhostt', not an output of go:kubernetes"
    ]


def test_copies_and_context_paths_must_match() -> None:
    plan = ImagePlan(
        "x",
        None,
        [("a", Text("1")), ("dir", ModuleTree("kind", "d")), ("unused", Text("2"))],
        "FROM {base}\nCOPY a /a\nCOPY dir/ /d/\nCOPY --chmod=0755 missing /m\n",
    )
    assert plan.problems({}, {"kind"}) == [
        "x: the Dockerfile copies 'missing', not in the context",
        "x: context path 'unused' is copied by no COPY",
    ]


def test_one_image_recipe_changes_only_that_image_and_the_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keys(tmp_path)
    agnhost = next(p for p in imageplans.image_plans(LOCK) if p.key == "agnhost")
    with_plan(monkeypatch, "agnhost", dockerfile=agnhost.dockerfile + "LABEL x=y\n")
    assert changed(before, keys(tmp_path)) == {"image:agnhost", "push"}


def test_an_own_file_changes_only_the_images_that_copy_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keys(tmp_path)
    proxy = next(p for p in imageplans.image_plans(LOCK) if p.key == "kube-proxy")
    context = [(n, Text(s.content + "#\n") if isinstance(s, Text) else s) for n, s in proxy.context]
    with_plan(monkeypatch, "kube-proxy", context=context)
    assert changed(before, keys(tmp_path)) == {"image:kube-proxy", "push"}


def test_the_code_of_a_derived_file_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keys(tmp_path)
    node = imageplans.node_plan(LOCK)

    def other_config(context: Path, outputs: Mapping[str, Path], pause_ref: str) -> str:
        return "version = 2\n"

    context = [
        (n, dataclasses.replace(s, fn=other_config) if n.endswith("config.toml") else s)
        for n, s in node.context
    ]
    with_plan(monkeypatch, "node", context=context)
    assert changed(before, keys(tmp_path)) == {"image:node"}


def test_node_binaries_and_a_rootfs_package_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keys(tmp_path)
    node = imageplans.node_plan(LOCK)
    assert set(node.steps()) == {s for s, _, _ in imageplans.NODE_BINARIES} | {"rootfs:node"}
    (old,) = [r for r in imageplans.ROOTFS if r.name == "runtime"]
    runtime = dataclasses.replace(old, packages=("bash",))
    monkeypatch.setattr(recipes, "ROOTFS", [runtime if r is old else r for r in imageplans.ROOTFS])
    moved = changed(before, keys(tmp_path))
    on_runtime = {
        f"image:{p.key}" for p in imageplans.image_plans(LOCK) if p.base == "rootfs:runtime"
    }
    assert moved == {"rootfs:runtime", "push", *on_runtime}
    assert not any(n.startswith("go:") for n in moved)


def test_a_plan_is_materialized_the_same_way_for_every_image(tmp_path: Path) -> None:
    built = tmp_path / "out"
    built.mkdir()
    (built / "tool").write_text("binary")
    module = tmp_path / "module"
    (module / "files/sub").mkdir(parents=True)
    (module / "files/sub/conf").write_text("a=1\n")
    (module / "files/LICENSES").mkdir()
    os.chmod(module / "files/sub/conf", 0o444)

    def upper(context: Path, outputs: Mapping[str, Path], suffix: str) -> str:
        return (
            (context / "tree/sub/conf").read_text().upper()
            + (outputs["go:x"] / "tool").read_text()
            + suffix
        )

    plan = ImagePlan(
        "x",
        "rootfs:runtime",
        [
            ("tree", ModuleTree("m", "files", exclude=("LICENSES",))),
            ("tree/sub/conf2", Derived(upper, ("!",), steps=("go:x",))),
            ("bin/tool", StepFile("go:x", "tool")),
            ("note", Text("hi\n")),
        ],
        "FROM {base}\nCOPY tree/ /etc/\nCOPY bin/tool /tool\nCOPY note /note\n",
    )
    assert plan.steps() == ["go:x", "rootfs:runtime"]
    ctx = tmp_path / "ctx"
    plan.materialize(ctx, {"go:x": built, "rootfs:runtime": "base:1"}, lambda m: module)
    assert (ctx / "Dockerfile").read_text().startswith("FROM base:1\n")
    assert (ctx / "tree/sub/conf2").read_text() == "A=1\nbinary!"
    assert not (ctx / "tree/LICENSES").exists()
    assert os.stat(ctx / "bin/tool").st_mode & 0o777 == 0o755
    assert os.stat(ctx / "tree/sub/conf").st_mode & 0o777 == 0o644
    assert (ctx / "note").read_text() == "hi\n"
