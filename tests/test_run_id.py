"""`--run-id` is part of every namespace name of a run: it must be a short DNS label
fragment, and the names built from it must fit in 63 characters without truncation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from npconform import NAME
from npconform.cluster.options import MAX_RUN_ID, RunOptions, UsageError, namespace_name
from npconform.scenario.spec import Scenario

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"


@pytest.mark.parametrize("run_id", ["abc123", "a", "a-b", "0", "x" * MAX_RUN_ID])
def test_valid_run_ids(run_id: str) -> None:
    RunOptions(run_id=run_id).validate()


def test_default_run_id_is_valid() -> None:
    for _ in range(50):
        RunOptions().validate()


@pytest.mark.parametrize(
    "run_id", ["ABC", "a_b", "-a", "a-", "a" * (MAX_RUN_ID + 1), "", "a.b", "a b", "ab\n"]
)
def test_invalid_run_ids(run_id: str) -> None:
    with pytest.raises(UsageError) as e:
        RunOptions(run_id=run_id).validate()
    msg = str(e.value)
    assert msg.startswith(f"--run-id {run_id!r}: ")
    assert f"1-{MAX_RUN_ID} lowercase letters, digits or '-'" in msg
    assert len(msg.splitlines()) == 1


def test_the_message_names_the_value_and_the_rule() -> None:
    with pytest.raises(UsageError) as e:
        RunOptions(run_id="ABC_1").validate()
    assert str(e.value) == (
        "--run-id 'ABC_1': must be 1-12 lowercase letters, digits or '-', "
        "starting and ending with a letter or digit"
    )


def test_namespace_name_never_truncates() -> None:
    assert namespace_name("a" * 61, "b") == "a" * 61 + "-b"  # 63: unchanged
    with pytest.raises(UsageError) as e:
        namespace_name("a" * 62, "b")  # 64
    msg = str(e.value)
    assert "a" * 62 + "-b" in msg
    assert "64 characters" in msg
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize("parts", [("Upper",), ("a_b",), ("a", ""), ("", "a"), ("",)])
def test_namespace_name_must_be_a_dns_label(parts: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match="is not a DNS label"):
        namespace_name(*parts)


# -- the longest namespace name the suites build -----------------------------------------


def _str(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def suite_scenarios() -> set[str]:
    """Scenario names of the World()s the suites build, read from their sources:
    ``make_world("<name>")``, ``World(state, clients, "<name>", worker)`` and the dynamics'
    ``make_world("dyn-" + request.node.originalname.split("_")[1])`` (one per test)."""
    names: set[str] = set()
    for path in SUITES.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        dyn_prefix: str | None = None
        tests: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                tests.append(node.name)
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id == "make_world" and node.args:
                arg = node.args[0]
            elif node.func.id == "World" and len(node.args) > 2:
                arg = node.args[2]
            else:
                continue
            if isinstance(arg, ast.Name | ast.Attribute):
                continue  # passed through (make_world's World(...), play_scenario's make_world)
            if (name := _str(arg)) is not None:
                names.add(name)
            elif isinstance(arg, ast.BinOp) and (prefix := _str(arg.left)) is not None:
                assert "originalname" in ast.unparse(arg.right), ast.unparse(arg)
                dyn_prefix = prefix
            else:
                pytest.fail(f"{path}: scenario name not understood: {ast.unparse(arg)}")
        if dyn_prefix is not None:
            names.update(dyn_prefix + t.split("_")[1] for t in tests)
    return names | {sc.name for sc in data_scenarios()}


def data_scenarios() -> list[Scenario]:
    """The scenarios written as data (suites/traffic/scenarios.py), played by
    ``play_scenario``."""
    from suites.traffic import scenarios

    return [v for v in vars(scenarios).values() if isinstance(v, Scenario)]


# The logical namespaces the scenarios create. Spelled out: those of the data scenarios
# (suites/traffic/scenarios.py: tenant-a, tenant-b, ingress, outside, shop, x, y; checked
# above), "open"/"closed" in test_dns.py, "x", "y", "z" in the e2e model of
# test_semantics.py, test_generated.py and test_sctp.py (suites/traffic/e2e_model.py).
LOGICAL_NAMESPACES = (
    "tenant-a",
    "tenant-b",
    "ingress",
    "outside",
    "shop",
    "open",
    "closed",
    "x",
    "y",
    "z",
)
WORKER = "gw10"  # a two-digit pytest-xdist worker id (PYTEST_XDIST_WORKER, suites/conftest.py)


def test_the_suites_scenarios_are_found() -> None:
    names = suite_scenarios()
    assert {"components", "semantics", "tenants", "dyn-policy", "dyn-pod"} <= names
    assert {ns.name for sc in data_scenarios() for ns in sc.namespaces} <= set(LOGICAL_NAMESPACES)


def test_the_longest_namespace_name_fits() -> None:
    run_id = "r" * MAX_RUN_ID
    RunOptions(run_id=run_id).validate()
    scenario = max(suite_scenarios(), key=len)
    logical = max(LOGICAL_NAMESPACES, key=len)
    # the longest scenario with the longest logical namespace, paired or not
    name = namespace_name(NAME, run_id, WORKER, scenario, logical)
    assert len(name) <= 63
    # the admission suite's own namespaces (suites/admission: -adm-<n>, -audit, -platform)
    namespace_name(NAME, run_id, WORKER, "platform")
    namespace_name(NAME, run_id, WORKER, "adm", "999")
