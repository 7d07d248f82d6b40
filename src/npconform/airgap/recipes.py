"""The offline image build as a graph of steps: Go builds, Debian root filesystems, images,
the pushes to the local registry mirror.

Every step's inputs are what it really builds from, rendered before anything runs: a Go
build's module, packages and flags; a root filesystem's packages and the commands that make
it; an image's Dockerfile and build-context plan (``context.ImagePlan``). So changing a
recipe changes the keys of exactly that step and its dependants. Third-party files (kind's
node files, Calico's node filesystem) come from the pinned modules in the Go module cache.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

from npconform.airgap import docker, registry
from npconform.airgap.context import FILES, ImagePlan
from npconform.airgap.gobuild import NO_GO, GoBuildError, Wrapper, go_env, module_dir
from npconform.airgap.gotargets import GoTarget, go_targets
from npconform.airgap.imageplans import ROOTFS, SUITE_PYTHON, RootfsSpec, image_plans
from npconform.airgap.steps import Ctx, Graph, Step
from npconform.lock import Lock, Module
from npconform.proc import CommandError, run

PAUSE_SOURCE = "build/pause/linux/pause.c"
#: npconform's own probe program (standard library only), put into the probe image.
PROBE_PROGRAM = "npcprobe"
PROBE_GO_MOD = "module npconform.local/npcprobe\n\ngo 1.24\n"
PROBE_LDFLAGS = "-s -w"


def module_inputs(mod: Module) -> dict[str, Any]:
    return {"path": mod.path, "version": mod.version, "replaces": mod.local_replaces}


def _tool_version(argv: list[str]) -> str:
    try:
        return run(argv).strip()
    except (FileNotFoundError, CommandError):
        return "missing"


def _out_dir(ctx: Ctx, kind: str, name: str) -> Path:
    return ctx.cache / kind / f"{name}-{ctx.key[:16]}"


def _cached_dir(ctx: Ctx, kind: str, name: str) -> Path | None:
    path = _out_dir(ctx, kind, name)
    return path if (path / ".complete").exists() else None


def _publish_dir(tmp: Path, final: Path) -> Path:
    (tmp / ".complete").write_text("")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def _fresh_tmp(ctx: Ctx, kind: str, name: str) -> tuple[Path, Path]:
    final = _out_dir(ctx, kind, name)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp, final


def target_env(lock: Lock, module: str) -> dict[str, str]:
    """The Go environment of a module's build, also used to download its source trees."""
    t = next((t for t in go_targets(lock) if t.key == module), None)
    return dict(t.env) if t else {}


# ---------------------------------------------------------------------------------------
# Go and C builds
# ---------------------------------------------------------------------------------------


def step_outputs(lock: Lock) -> dict[str, set[str]]:
    """Every build step's declared output files, by step name."""
    out = {f"go:{t.key}": t.outputs() for t in go_targets(lock)}
    out["cc:pause"] = {"pause"}
    out[f"go:{PROBE_PROGRAM}"] = {PROBE_PROGRAM}
    return out


def add_go_steps(g: Graph, lock: Lock) -> None:
    gover = _tool_version(["go", "env", "GOVERSION"])
    for t in go_targets(lock):
        mod = lock.module(t.key)

        def build(ctx: Ctx, t: GoTarget = t, mod: Module = mod) -> Path:
            tmp, final = _fresh_tmp(ctx, "go", t.key)
            w = Wrapper(mod, ctx.cache / "wrappers" / t.key, go_env(ctx.cache, dict(t.env)))
            w.prepare(ctx.log(f"go-{t.key}"))
            w.build(
                t.packages,
                tmp,
                ctx.log(f"go-{t.key}"),
                ldflags=t.ldflags_line(),
                tags=t.tags,
                cgo=t.cgo,
            )
            for old, new in t.rename:
                (tmp / old).rename(tmp / new)
            return _publish_dir(tmp, final)

        g.add(
            Step(
                name=f"go:{t.key}",
                inputs={
                    "go": gover,
                    "module": module_inputs(mod),
                    "packages": list(t.packages),
                    "ldflags": t.ldflags_line(),
                    "tags": list(t.tags),
                    "cgo": t.cgo,
                    "env": dict(t.env),
                    "rename": dict(t.rename),
                },
                build=build,
                cached=functools.partial(_cached_dir, kind="go", name=t.key),
                lane="cpu",
                what=f"{mod.path} {mod.display_version}",
            )
        )

    kmod = lock.module("kubernetes")
    pause_version = lock.image("pause").rsplit(":", 1)[1]
    gcc = ["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{pause_version}"]

    def build_pause(ctx: Ctx) -> Path:
        src = module_dir(kmod, go_env(ctx.cache), ctx.log("cc-pause"))
        tmp, final = _fresh_tmp(ctx, "go", "pause")
        try:
            run([*gcc, "-o", str(tmp / "pause"), str(src / PAUSE_SOURCE)], log=ctx.log("cc-pause"))
        except FileNotFoundError:
            raise GoBuildError(
                "no C compiler: install gcc (apt-get install gcc libc6-dev)"
            ) from None
        return _publish_dir(tmp, final)

    g.add(
        Step(
            name="cc:pause",
            inputs={
                "module": module_inputs(kmod),
                "source": PAUSE_SOURCE,
                "command": gcc,
                "gcc": _tool_version(["gcc", "-dumpfullversion"]),
            },
            build=build_pause,
            cached=functools.partial(_cached_dir, kind="go", name="pause"),
            lane="cpu",
            what=f"pause {pause_version} from {kmod.ref}",
        )
    )

    add_probe_step(g, gover)


def add_probe_step(g: Graph, gover: str) -> None:
    """npconform's probe program, built from its one source file with the standard library
    only (no module to download), static."""
    source = (FILES / f"{PROBE_PROGRAM}.go").read_text()

    def build(ctx: Ctx) -> Path:
        tmp, final = _fresh_tmp(ctx, "go", PROBE_PROGRAM)
        work = ctx.cache / "wrappers" / PROBE_PROGRAM
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "go.mod").write_text(PROBE_GO_MOD)
        (work / "main.go").write_text(source)
        argv = ["go", "build", "-trimpath", "-ldflags", PROBE_LDFLAGS, "-o", f"{tmp}/", "."]
        try:
            env = go_env(ctx.cache, {"CGO_ENABLED": "0"})
            run(argv, cwd=work, env=env, log=ctx.log(f"go-{PROBE_PROGRAM}"))
        except FileNotFoundError:
            raise GoBuildError(NO_GO) from None
        return _publish_dir(tmp, final)

    g.add(
        Step(
            name=f"go:{PROBE_PROGRAM}",
            inputs={
                "go": gover,
                "source": hashlib.sha256(source.encode()).hexdigest(),
                "go.mod": PROBE_GO_MOD,
                "ldflags": PROBE_LDFLAGS,
            },
            build=build,
            cached=functools.partial(_cached_dir, kind="go", name=PROBE_PROGRAM),
            lane="cpu",
            what=f"{PROBE_PROGRAM} (npconform's probe program)",
        )
    )


# ---------------------------------------------------------------------------------------
# Debian root filesystems
# ---------------------------------------------------------------------------------------

ROOTFS_CLEANUP = "rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* var/log/*"


def rootfs_ref(name: str, key: str) -> str:
    return f"npconform/rootfs-{name}:{key[:16]}"


def _cached_rootfs(ctx: Ctx, name: str) -> str | None:
    ref = rootfs_ref(name, ctx.key)
    return ref if docker.image_id(ref) else None


def _fill(word: str, values: dict[str, str]) -> str:
    for k, v in values.items():
        word = word.replace(k, v)
    return word


def rootfs_commands(spec: RootfsSpec, lock: Lock) -> list[list[str]]:
    """The commands that make a root filesystem; {root} and {debs} are filled in."""
    cmds = [
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(spec.packages)}",
            "--cache-dir={debs}",
            lock.debian_suite,
            "{root}",
            lock.debian_mirror,
        ]
    ]
    if spec.fixups:
        cmds.append(["chroot", "{root}", "/bin/sh", "-c", spec.fixups])
    cmds.append(["sh", "-c", f"cd {{root}} && {ROOTFS_CLEANUP}"])
    cmds.append(["tar", "--numeric-owner", "-C", "{root}", "-cf", "{root}.tar", "."])
    return cmds


def add_rootfs_steps(g: Graph, lock: Lock) -> None:
    for spec in ROOTFS:
        commands = rootfs_commands(spec, lock)

        def build(ctx: Ctx, name: str = spec.name, commands: list[list[str]] = commands) -> str:
            ref = rootfs_ref(name, ctx.key)
            log = ctx.log(f"rootfs-{name}")
            work = ctx.cache / "rootfs" / f"{name}.tmp"
            debs = ctx.cache / "debs" / name
            debs.mkdir(parents=True, exist_ok=True)
            if work.exists():
                run(["rm", "-rf", str(work)])
            work.mkdir(parents=True)
            fill = {"{root}": str(work / "root"), "{debs}": str(debs)}
            try:
                for argv in commands:
                    run([_fill(w, fill) for w in argv], log=log)
            except FileNotFoundError as e:
                raise GoBuildError(f"{e.filename} is not installed (apt-get install it)") from None
            docker.import_tar(work / "root.tar", ref, log)
            run(["rm", "-rf", str(work)])
            return ref

        g.add(
            Step(
                name=f"rootfs:{spec.name}",
                inputs={"commands": commands},
                build=build,
                cached=functools.partial(_cached_rootfs, name=spec.name),
                lane="io",
                what=f"Debian {lock.debian_suite} {spec.name} root filesystem",
            )
        )


# ---------------------------------------------------------------------------------------
# The suite's Python: npconform's wheel and its pinned dependencies, and the suite's tests
# ---------------------------------------------------------------------------------------

CHECKOUT = Path(__file__).resolve().parents[3]
#: What of the checkout the suite image carries: the package's sources (its wheel is built
#: from them) and the tests pytest runs.
SUITE_SOURCES = ("pyproject.toml", "README.md", "conftest.py", "src/npconform", "suites")
#: Pins of [python] that only develop npconform (linters, type checks, tox): not in the image.
DEV_ONLY = ("ruff", "mypy", "types-PyYAML", "tox")
#: Binary wheels for Debian bookworm's glibc (2.36) on x86-64.
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


PIP = (sys.executable, "-m", "pip")


def _source_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for name in SUITE_SOURCES:
        p = root / name
        if p.is_file():
            out.append(p)
        else:
            out += sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and "__pycache__" not in f.parts
                and not any(part.endswith(".egg-info") for part in f.parts)
            )
    return out


def sources_digest(root: Path = CHECKOUT) -> str:
    """The sha256 over every file the suite image is built from (path and bytes)."""
    h = hashlib.sha256()
    for f in _source_files(root):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def suite_pins(lock: Lock) -> dict[str, str]:
    return {k: v for k, v in lock.python_pins.items() if k not in DEV_ONLY}


def pip_download_argv(lock: Lock, dest: Path) -> list[str]:
    plat = [w for p in WHEEL_PLATFORMS for w in ("--platform", p)]
    abi = "cp" + SUITE_PYTHON.replace(".", "")
    return [
        *PIP,
        "download",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        "--only-binary=:all:",
        "--python-version",
        SUITE_PYTHON,
        "--implementation",
        "cp",
        "--abi",
        abi,
        *plat,
        *(f"{k}=={v}" for k, v in sorted(suite_pins(lock).items())),
    ]


def add_python_step(g: Graph, lock: Lock) -> None:
    def build(ctx: Ctx) -> Path:
        if not (CHECKOUT / "pyproject.toml").is_file():
            raise GoBuildError(
                f"the suite image is built from a checkout of npconform, not {CHECKOUT}"
            )
        log = ctx.log("py-suite")
        tmp, final = _fresh_tmp(ctx, "py", "suite")
        wheels, suite, src = tmp / "wheels", tmp / "suite", tmp / "src"
        for f in _source_files(CHECKOUT):
            rel = f.relative_to(CHECKOUT)
            for base in (src, suite) if rel.parts[0] != "src" else (src,):
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, base / rel)
        run(pip_download_argv(lock, wheels), log=log)
        run(
            [
                *PIP,
                "wheel",
                "--disable-pip-version-check",
                "--no-deps",
                "-w",
                str(wheels),
                str(src),
            ],
            log=log,
        )
        shutil.rmtree(src)
        return _publish_dir(tmp, final)

    g.add(
        Step(
            name="py:suite",
            inputs={
                "python": SUITE_PYTHON,
                "pins": suite_pins(lock),
                "platforms": list(WHEEL_PLATFORMS),
                "sources": sources_digest(),
            },
            build=build,
            cached=functools.partial(_cached_dir, kind="py", name="suite"),
            lane="io",
            what=f"npconform's wheel and {len(suite_pins(lock))} pinned Python packages",
        )
    )


# ---------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------


def _cached_image(ctx: Ctx, ref: str) -> str | None:
    return ref if docker.image_key(ref) == ctx.key else None


def add_image_steps(g: Graph, lock: Lock, plans: list[ImagePlan]) -> None:
    def inputs_of(module: str) -> Any:
        return module_inputs(lock.module(module))

    for plan in plans:
        ref = lock.image(plan.key)

        def build(ctx: Ctx, plan: ImagePlan = plan, ref: str = ref) -> str:
            log = ctx.log(f"image-{plan.key}")
            context = ctx.cache / "contexts" / plan.key

            def source(module: str) -> Path:
                env = go_env(ctx.cache, target_env(lock, module))
                return module_dir(lock.module(module), env, log)

            plan.materialize(context, ctx.deps, source)
            docker.build(context, [ref], ctx.key, log)
            shutil.rmtree(context, ignore_errors=True)
            return ref

        g.add(
            Step(
                name=f"image:{plan.key}",
                inputs={"ref": ref, "plan": plan.inputs(inputs_of)},
                deps=plan.steps(),
                build=build,
                cached=functools.partial(_cached_image, ref=ref),
                lane="io",
                what=ref if plan.role != "node" else f"{ref} (kind {lock.module('kind').version})",
            )
        )


# ---------------------------------------------------------------------------------------
# Serving: the registry mirror and the pushes; the kind binary
# ---------------------------------------------------------------------------------------


def served(lock: Lock, second_cni: bool = False) -> list[str]:
    """The images a conformance cluster pulls from the mirror (lock keys)."""
    roles = {"cluster", "second-cni"} if second_cni else {"cluster"}
    return [p.key for p in image_plans(lock) if p.role in roles]


def _mirror_key(plans: list[ImagePlan]) -> str:
    (host,) = [p.key for p in plans if p.role == "host"]
    return host


def add_push_step(g: Graph, lock: Lock, keys: list[str], mirror: str) -> None:
    refs = [lock.image(k) for k in keys]
    mirror_ref = lock.image(mirror)

    def pushed(ctx: Ctx) -> list[str] | None:
        if registry.running_image() != docker.image_id(mirror_ref):
            return None
        return refs if all(registry.is_pushed(r) for r in refs) else None

    def build(ctx: Ctx) -> list[str]:
        log = ctx.log("push")
        registry.ensure_running(mirror_ref, log)
        for r in refs:
            if not registry.is_pushed(r):
                g.say(f"push: {r}")
                registry.push(r, log)
        return refs

    g.add(
        Step(
            name="push",
            inputs={"refs": refs},
            deps=[f"image:{mirror}", *(f"image:{k}" for k in keys)],
            build=build,
            cached=pushed,
            lane="io",
            what=f"{len(refs)} images to the local registry mirror",
        )
    )


def tools_dir(cache: Path) -> Path:
    return cache / "bin"


def add_tools_step(g: Graph, lock: Lock) -> None:
    """Install the pinned kind binary where the harness looks for it."""
    kind = lock.module("kind")

    def installed(ctx: Ctx) -> Path | None:
        b = tools_dir(ctx.cache)
        stamp = b / ".kind-key"
        return (
            b if stamp.exists() and stamp.read_text() == ctx.key and (b / "kind").exists() else None
        )

    def build(ctx: Ctx) -> Path:
        b = tools_dir(ctx.cache)
        b.mkdir(parents=True, exist_ok=True)
        tmp = b / "kind.tmp"
        shutil.copy2(Path(ctx.deps["go:kind"]) / "kind", tmp)
        tmp.chmod(0o755)
        tmp.rename(b / "kind")
        (b / ".kind-key").write_text(ctx.key)
        return b

    g.add(
        Step(
            name="tools",
            inputs={"kind": module_inputs(kind)},
            deps=["go:kind"],
            build=build,
            cached=installed,
            lane="io",
            what=f"kind {kind.version} in {tools_dir(g.cache)}",
        )
    )


def graph(lock: Lock, cache: Path, with_second_cni: bool = False) -> tuple[Graph, list[str]]:
    g = Graph(cache)
    plans = image_plans(lock)
    add_go_steps(g, lock)
    add_tools_step(g, lock)
    add_rootfs_steps(g, lock)
    add_python_step(g, lock)
    add_image_steps(g, lock, plans)
    add_push_step(g, lock, served(lock, with_second_cni), _mirror_key(plans))
    return g, ["tools", "image:node", "push"]


def problems(lock: Lock) -> list[str]:
    """Inconsistencies of the recipes, found without building anything."""
    outputs: dict[str, set[str]] = {
        **step_outputs(lock),
        **{f"rootfs:{r.name}": set() for r in ROOTFS},
        "py:suite": set(),
    }
    plans = image_plans(lock)
    out = [p for plan in plans for p in plan.problems(outputs, set(lock.modules))]
    keys = [p.key for p in plans]
    out += [
        f"image {k} has {keys.count(k)} recipes" for k in sorted(set(keys)) if keys.count(k) > 1
    ]
    out += [f"[images] {k} has no recipe" for k in sorted(set(lock.images) - set(keys))]
    out += [f"recipe {k} is not in [images]" for k in sorted(set(keys) - set(lock.images))]
    out += [
        f"module {k} has no Go build"
        for k in sorted(set(lock.modules) - {t.key for t in go_targets(lock)})
    ]
    return out
