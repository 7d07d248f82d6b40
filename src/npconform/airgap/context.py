"""A docker build context as data: what each path in it is made from.

An image recipe is an ``ImagePlan``: its Dockerfile text and, in order, every path of its
build context with the source that path is made from. The plan is complete before anything
is built, and the build step's cache key is the digest of the rendered plan (``inputs``):
the Dockerfile, the bytes of every literal file, which dependency output or module directory
every other file comes from, and the source code of each function that derives a file at
build time. Materializing a plan is the same code for every image; ``problems`` checks a
plan against the outputs its dependencies declare, without building anything.
"""

from __future__ import annotations

import hashlib
import inspect
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES = Path(__file__).parent / "files"


@dataclass(frozen=True)
class StepFile:
    """A file of a dependency step's output directory (a built binary)."""

    step: str
    name: str
    mode: int = 0o755


@dataclass(frozen=True)
class StepTree:
    """A directory of a dependency step's output, copied whole (files not known when the
    plan is made: a wheelhouse)."""

    step: str
    dir: str


@dataclass(frozen=True)
class ModuleTree:
    """A directory of a pinned module's source, copied as a writable tree."""

    module: str  # lock module key
    dir: str
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Text:
    """A file whose bytes are known when the plan is made."""

    content: str
    mode: int = 0o644

    @classmethod
    def own(cls, name: str, mode: int = 0o644) -> Text:
        """One of npconform's own files (``airgap/files``)."""
        return cls((FILES / name).read_text(), mode)


@dataclass(frozen=True)
class Derived:
    """A file computed at build time: ``fn(context, outputs, *args)`` returns its text.
    ``context`` is the context built so far (earlier entries), ``outputs`` maps each of
    ``steps`` to its output directory."""

    fn: Callable[..., str]
    args: tuple[Any, ...] = ()
    steps: tuple[str, ...] = ()


Source = StepFile | StepTree | ModuleTree | Text | Derived


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def source_inputs(src: Source) -> dict[str, Any]:
    """What a source contributes to the cache key."""
    if isinstance(src, Text):
        return {"text": _sha(src.content), "mode": src.mode}
    if isinstance(src, Derived):
        return {
            "derived": f"{src.fn.__module__}.{src.fn.__qualname__}",
            "code": _sha(inspect.getsource(src.fn)),
            "args": list(src.args),
            "steps": list(src.steps),
        }
    if isinstance(src, StepFile):
        return {"step": src.step, "name": src.name, "mode": src.mode}
    if isinstance(src, StepTree):
        return {"step": src.step, "dir": src.dir}
    return {"module": src.module, "dir": src.dir, "exclude": list(src.exclude)}


@dataclass
class ImagePlan:
    """One image: its lock key, the rootfs step it starts from (None: scratch), its build
    context and its Dockerfile, in which ``{base}`` stands for the base image."""

    key: str
    base: str | None
    context: list[tuple[str, Source]]
    dockerfile: str
    # cluster: pulled by every conformance cluster from the mirror; second-cni: only by
    # runs with the second CNI; host: runs on the host (the mirror itself); node: the
    # kind node image.
    role: str = "cluster"
    labels: dict[str, str] = field(default_factory=dict)

    def steps(self) -> list[str]:
        """The steps whose outputs the context reads, and the base: the step's deps."""
        deps: set[str] = {self.base} if self.base else set()
        for _, src in self.context:
            if isinstance(src, StepFile | StepTree):
                deps.add(src.step)
            elif isinstance(src, Derived):
                deps.update(src.steps)
        return sorted(deps)

    def modules(self) -> list[str]:
        return sorted({s.module for _, s in self.context if isinstance(s, ModuleTree)})

    def inputs(self, module_inputs: Callable[[str], Any]) -> dict[str, Any]:
        return {
            "dockerfile": self.dockerfile,
            "labels": self.labels,
            "context": [[path, source_inputs(src)] for path, src in self.context],
            "modules": {m: module_inputs(m) for m in self.modules()},
        }

    def render_dockerfile(self, base_ref: str) -> str:
        return self.dockerfile.replace("{base}", base_ref)

    def materialize(
        self, root: Path, outputs: Mapping[str, Any], module_dir: Callable[[str], Path]
    ) -> None:
        """Write the context under ``root`` (emptied first) and its Dockerfile."""
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for path, src in self.context:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(src, ModuleTree):
                _copy_tree(module_dir(src.module) / src.dir, target, src.exclude)
                continue
            if isinstance(src, StepTree):
                _copy_tree(Path(outputs[src.step]) / src.dir, target, ())
                continue
            if isinstance(src, StepFile):
                shutil.copyfile(Path(outputs[src.step]) / src.name, target)
                mode = src.mode
            elif isinstance(src, Text):
                target.write_text(src.content)
                mode = src.mode
            else:
                dirs = {s: Path(outputs[s]) for s in src.steps}
                target.write_text(src.fn(root, dirs, *src.args))
                mode = 0o644
            target.chmod(mode)
        base = "scratch" if self.base is None else str(outputs[self.base])
        (root / "Dockerfile").write_text(self.render_dockerfile(base))

    def problems(self, outputs: Mapping[str, set[str]], modules: set[str]) -> list[str]:
        """What is inconsistent, each a readable line: a file copied from a step that does
        not declare it, an unknown module, a COPY of a path the context lacks, a context
        path no COPY uses."""
        out = []
        for path, src in self.context:
            if isinstance(src, StepFile) and src.name not in outputs.get(src.step, set()):
                out.append(f"{self.key}: {path} copies {src.name!r}, not an output of {src.step}")
            if isinstance(src, StepTree) and src.step not in outputs:
                out.append(f"{self.key}: {path} copies a tree of unknown step {src.step}")
            if isinstance(src, ModuleTree) and src.module not in modules:
                out.append(f"{self.key}: {path} comes from unknown module {src.module!r}")
            for s in src.steps if isinstance(src, Derived) else ():
                if s not in outputs:
                    out.append(f"{self.key}: {path} is derived from unknown step {s}")
        if self.base is not None and self.base not in outputs:
            out.append(f"{self.key}: base {self.base} is not a step")
        paths = [p for p, _ in self.context]
        used: set[str] = set()
        for copied in copy_sources(self.dockerfile):
            hit = [p for p in paths if _covers(copied, p)]
            if not hit:
                out.append(f"{self.key}: the Dockerfile copies {copied!r}, not in the context")
            used.update(hit)
        for p in paths:
            if p not in used:
                out.append(f"{self.key}: context path {p!r} is copied by no COPY")
        return out


def copy_sources(dockerfile: str) -> list[str]:
    """The context paths the Dockerfile's COPY and ADD instructions read."""
    out = []
    for line in dockerfile.splitlines():
        words = line.split()
        if words and words[0].upper() in ("COPY", "ADD"):
            args = [w for w in words[1:] if not w.startswith("--")]
            out += [a.rstrip("/") or "." for a in args[:-1]]
    return out


def _covers(copied: str, path: str) -> bool:
    """Whether ``COPY copied`` takes the context path ``path``."""
    return copied == "." or path == copied or path.startswith(copied + "/")


def _copy_tree(src: Path, dst: Path, exclude: tuple[str, ...]) -> None:
    """Copy a directory out of the module cache (read-only files) as a writable tree."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(
        src, dst, copy_function=shutil.copyfile, ignore=shutil.ignore_patterns(*exclude)
    )
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
