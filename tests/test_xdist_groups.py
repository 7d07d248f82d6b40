"""The suite's e2e model is built once per xdist group (each half of the semantics cases,
the generated cases joining the second) and the tests that switch the constraint's mode
run together: ``--dist loadgroup`` must keep a group on
one worker with the pinned pytest and pytest-xdist. (pytest 9.2's structured node ids
made xdist 3.8 drop the groups without a word: pytest-dev/pytest-xdist#1386.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULE = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("{group}")


@pytest.mark.parametrize("i", range(6))
def test_case(i):
    with open(os.path.join(os.environ["WHERE"], "{group}-%d" % i), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_loadgroup_keeps_each_group_on_one_worker(tmp_path: Path) -> None:
    for group in ("one", "two"):
        (tmp_path / f"test_{group}.py").write_text(MODULE.format(group=group))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # no ini or conftest from above
    where = tmp_path / "where"
    where.mkdir()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:npconform",
            "-p",
            "no:pytest-kind-ng",
            "-o",
            "addopts=",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={"WHERE": str(where), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    workers: dict[str, set[str]] = {}
    for f in where.iterdir():
        workers.setdefault(f.name.split("-")[0], set()).add(f.read_text())
    assert len(list(where.iterdir())) == 12, run.stdout
    assert set().union(*workers.values()) == {"gw0", "gw1"}, f"one worker ran both: {workers}"
    assert {g: len(ws) for g, ws in workers.items()} == {"one": 1, "two": 1}, (
        f"an xdist group ran on more than one worker: {workers}"
    )
