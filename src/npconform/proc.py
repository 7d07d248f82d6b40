"""Running external commands with readable errors."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class CommandError(RuntimeError):
    """A command failed; carries its output for the one-line error."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        lines = [ln for ln in output.strip().splitlines() if ln.strip()]
        tail = lines[-1] if lines else ""
        super().__init__(f"{shlex.join(self.argv)[:160]} exited {returncode}: {tail[:300]}")


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    log: Path | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> str:
    """Run ``argv`` and return its stdout+stderr.

    With ``log`` the output is appended to that file while the command runs, so a long
    step can be followed with ``tail -f``.
    """
    args = [os.fspath(a) for a in argv]
    full_env = None if env is None else {**os.environ, **env}
    data = input.encode() if isinstance(input, str) else input
    if log is None:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            input=data,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
        out = proc.stdout.decode(errors="replace")
        rc = proc.returncode
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as f:
            f.write(f"$ {shlex.join(args)}\n".encode())
            f.flush()
            start = f.tell()
            proc2 = subprocess.run(
                args,
                cwd=cwd,
                env=full_env,
                input=data,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
            rc = proc2.returncode
        with log.open("rb") as f:
            f.seek(start)
            out = f.read().decode(errors="replace")
    if check and rc != 0:
        raise CommandError(args, rc, out)
    return out


def which(name: str) -> str | None:
    return shutil.which(name)
