"""Building binaries from pinned Go modules, without cloning anything.

Each build happens in a small wrapper module that requires the pinned module. Replaces
that point into the module's own tree (``=> ./staging/src/k8s.io/api``) do not survive
into a wrapper, so each is re-expressed as the published version of that module, as the
lock file says; the module's other replaces are copied verbatim.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from npconform.lock import Module
from npconform.proc import CommandError, run


class GoBuildError(RuntimeError):
    pass


NO_GO = "no Go toolchain: install Go (https://go.dev/dl) and put it on PATH"


_REPLACE_LINE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+(\S+))?\s+=>\s+(\S+)(?:\s+(\S+))?\s*$")


def go_env(cache_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod -buildvcs=false",
        "GOWORK": "off",
        "GOPROXY": os.environ.get("GOPROXY", "https://proxy.golang.org"),
    }
    if extra:
        env.update(extra)
    return env


def module_dir(mod: Module, env: Mapping[str, str], log: Path) -> Path:
    """Download the module (checking the pinned sum) and return its directory."""
    out = _go(["mod", "download", "-json", mod.ref], cwd=None, env=env, log=log, mod=mod)
    info = json.loads(out[out.index("{") :])
    if "Error" in info:
        raise GoBuildError(_module_error(mod, info["Error"]))
    if mod.sum and info.get("Sum") != mod.sum:
        raise GoBuildError(
            f"module {mod.ref}: checksum {info.get('Sum')} does not match the lock's {mod.sum}"
        )
    return Path(info["Dir"])


def _module_error(mod: Module, text: str) -> str:
    if "not available" in text or "unknown revision" in text or "invalid version" in text:
        return f"module {mod.path} has no version {mod.version} (lock key '{mod.key}')"
    return f"module {mod.ref}: {text.strip().splitlines()[-1]}"


def _go(
    args: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], log: Path, mod: Module
) -> str:
    try:
        return run(["go", *args], cwd=cwd, env=env, log=log)
    except CommandError as e:
        raise GoBuildError(
            _module_error(mod, e.output)
            if args[:2] == ["mod", "download"]
            else f"go {args[0]} for {mod.ref} failed: {e}"
        ) from None
    except FileNotFoundError:
        raise GoBuildError(NO_GO) from None


def parse_replaces(gomod: str) -> list[tuple[str, str | None, str, str | None]]:
    """(old path, old version, new path, new version) of every replace directive."""
    out = []
    in_block = False
    for line in gomod.splitlines():
        s = line.split("//")[0].strip()
        if s.startswith("replace ("):
            in_block = True
            continue
        if in_block and s == ")":
            in_block = False
            continue
        if (in_block or s.startswith("replace ")) and "=>" in s:
            m = _REPLACE_LINE.match(s)
            if m:
                out.append((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


def _local_version(mod: Module, replaced: str) -> str:
    spec = mod.local_replaces
    if isinstance(spec, dict):
        if replaced not in spec:
            raise GoBuildError(
                f"{mod.ref} replaces {replaced} with a local directory; "
                f"the lock file's [modules.{mod.key}.local_replaces] must name its version"
            )
        return spec[replaced]
    if spec == "same":
        return mod.version
    if spec == "v0-minor":
        major_rest = mod.version.lstrip("v").split(".", 1)
        return f"v0.{major_rest[1]}"
    raise GoBuildError(
        f"{mod.ref} replaces {replaced} with a local directory and the lock file gives no "
        f"local_replaces rule for [modules.{mod.key}]"
    )


@dataclass
class Wrapper:
    """A generated module that builds packages of ``mod``."""

    mod: Module
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def prepare(self, log: Path) -> Path:
        src = module_dir(self.mod, self.env, log)
        gomod = (src / "go.mod").read_text()
        go_line = re.search(r"^go\s+(\S+)", gomod, re.M)
        lines = [
            "module npconform.local/build",
            "",
            f"go {go_line.group(1) if go_line else '1.22'}",
            "",
            f"require {self.mod.path} {self.mod.version}",
            "",
            "replace (",
        ]
        stubs = self.root / "stubs"
        for old, old_ver, new, new_ver in parse_replaces(gomod):
            lhs = f"{old} {old_ver}" if old_ver else old
            if new.startswith(("./", "../")):
                version = _local_version(self.mod, old)
                if version == "stub":
                    stub = stubs / old.replace("/", "_")
                    stub.mkdir(parents=True, exist_ok=True)
                    (stub / "go.mod").write_text(f"module {old}\n\ngo 1.22\n")
                    lines.append(f"\t{lhs} => {stub}")
                else:
                    lines.append(f"\t{lhs} => {old} {version}")
            else:
                lines.append(f"\t{lhs} => {new} {new_ver or ''}".rstrip())
        lines.append(")")
        self.root.mkdir(parents=True, exist_ok=True)
        text = "\n".join(lines) + "\n"
        gm = self.root / "go.mod"
        if not gm.exists() or not gm.read_text().startswith(text):
            gm.write_text(text)
            (self.root / "go.sum").unlink(missing_ok=True)
        return src

    def build(
        self,
        packages: Sequence[str],
        out_dir: Path,
        log: Path,
        *,
        ldflags: str = "-s -w",
        tags: Sequence[str] = (),
        cgo: bool = False,
        parallel: int = 2,
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "CGO_ENABLED": "1" if cgo else "0"}
        args = ["build", "-p", str(parallel), "-trimpath", "-ldflags", ldflags]
        if tags:
            args += ["-tags", ",".join(tags)]
        args += ["-o", str(out_dir) + "/", *packages]
        _go(args, cwd=self.root, env=env, log=log, mod=self.mod)
