"""Every test of the conformance suite and of the end-to-end tests names a registered check,
so that a verdict can say which checks ran (read from the sources: no collection needed)."""

from __future__ import annotations

import ast
from pathlib import Path

from npconform.verdict.checks import BY_ID

ROOT = Path(__file__).resolve().parents[1]


def _check_ids(node: ast.AST) -> list[str]:
    """Every ``check("<id>")`` call (``pytest.mark.check``) inside ``node``."""
    out = []
    for n in ast.walk(node):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "check"
            and n.args
            and isinstance(n.args[0], ast.Constant)
        ):
            out.append(str(n.args[0].value))
    return out


def _marks_by_name(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level names bound to a check mark (``IPBLOCK = pytest.mark.check(...)``)."""
    out = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            ids = _check_ids(n.value)
            if ids and n.targets[0].id != "pytestmark":
                out[n.targets[0].id] = ids
    return out


def test_every_test_names_exactly_one_registered_check() -> None:
    files = sorted(ROOT.glob("suites/**/test_*.py")) + sorted(ROOT.glob("tests/e2e/test_*.py"))
    assert files
    problems = []
    for path in files:
        tree = ast.parse(path.read_text())
        module = [
            cid
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)
            for cid in _check_ids(n.value)
        ]
        named = _marks_by_name(tree)
        for fn in tree.body:
            if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
                continue
            ids = list(module)
            for d in fn.decorator_list:
                ids += _check_ids(d)
                if isinstance(d, ast.Name) and d.id in named:
                    ids += named[d.id]
            where = f"{path.relative_to(ROOT)}::{fn.name}"
            if len(ids) != 1:
                problems.append(f"{where}: {len(ids)} check ids {ids}")
            elif ids[0] not in BY_ID:
                problems.append(f"{where}: unregistered check {ids[0]!r}")
    assert not problems, "\n".join(problems)
