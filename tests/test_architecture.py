"""The import graph of src/npconform follows the layers of docs/architecture.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "npconform"
DOC = ROOT / "docs" / "architecture.md"


def layers() -> dict[str, int]:
    block = re.search(r"```layers\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/architecture.md has no ```layers block"
    out: dict[str, int] = {}
    for line in block.group(1).splitlines():
        level, *names = line.split()
        for n in names:
            out[n] = int(level)
    return out


def module_name(path: Path) -> str:
    parts = ["npconform", *path.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every npconform module ``path`` imports, at module level or in a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "npconform"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "npconform":
                continue
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (PKG / Path(*sub.split(".")[1:])).with_suffix(".py").exists() or (
                    PKG / Path(*sub.split(".")[1:]) / "__init__.py"
                ).exists()
                out.add(sub if is_module else node.module)
    return out


def unit(module: str) -> str:
    """The unit the layer table names: a package, a top-level module, or the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "npconform"


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PKG.rglob("*.py"))}


def test_every_package_has_a_layer() -> None:
    table = layers()
    missing = sorted({unit(m) for m in graph()} - set(table))
    assert not missing, f"not in docs/architecture.md's layer table: {missing}"


def test_no_import_reaches_up_or_sideways() -> None:
    table = layers()
    wrong = []
    for mod, deps in graph().items():
        src = unit(mod)
        for dep in sorted(deps):
            dst = unit(dep)
            if dst == src or table[dst] == 0 == table[src]:
                continue  # a package's own modules; the base modules use each other
            if table[dst] > table[src]:
                wrong.append(f"{mod} imports {dep}: layer {table[src]} reaches up to {table[dst]}")
            elif table[dst] == table[src]:
                wrong.append(f"{mod} imports {dep}: {src} and {dst} share layer {table[src]}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    g = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if dep not in g:
                continue
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for n in sorted(g):
        if n not in state:
            visit(n, [n])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """A model module importing the cluster layer is reported (the test can fail)."""
    probe = tmp_path / "bad.py"
    probe.write_text("from npconform.cluster import kube\nimport npconform.scenario.world\n")
    deps = imports(probe)
    table = layers()
    assert {"npconform.cluster.kube", "npconform.scenario.world"} <= deps
    assert all(table[unit(d)] > table["model"] for d in deps)


def test_data_files_ship_inside_the_package() -> None:
    """versions.toml and manifests/ are package data; the checkout's copies are links."""
    from npconform import lock, resources

    assert resources.DATA.is_relative_to(PKG)
    assert lock.DEFAULT_LOCK == resources.VERSIONS
    assert (ROOT / "versions.toml").resolve() == resources.VERSIONS.resolve()
    assert (ROOT / "manifests").resolve() == resources.MANIFESTS.resolve()
    assert (resources.MANIFESTS / "gatekeeper" / "constraint.yaml").is_file()
