"""Entry point of the offline image build: ``scripts/build-images``."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from npconform.airgap import docker, recipes
from npconform.airgap.gobuild import GoBuildError
from npconform.airgap.steps import BuildFailed
from npconform.lock import LockError, load

MIN_FREE_GB = 20


def default_cache() -> Path:
    return Path(os.environ.get("NPCONFORM_CACHE", Path.home() / ".cache" / "npconform"))


def check_host() -> list[str]:
    """Host prerequisites of an offline build; each missing one is a readable line."""
    problems = []
    for tool, pkg in (
        ("go", "Go toolchain (https://go.dev/dl)"),
        ("debootstrap", "debootstrap (apt-get install debootstrap)"),
        ("gcc", "gcc (apt-get install gcc libc6-dev)"),
        ("pkg-config", "pkg-config (apt-get install pkg-config)"),
    ):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is missing: install {pkg}")
    if (
        shutil.which("pkg-config")
        and subprocess.run(["pkg-config", "--exists", "libseccomp"], check=False).returncode != 0
    ):
        problems.append(
            "libseccomp headers are missing (apt-get install libseccomp-dev), runc needs them"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="build-images",
        description="Build every image a conformance cluster needs from Go modules and Debian "
        "packages, tag each with its upstream name and serve them from a local registry mirror.",
    )
    ap.add_argument("--lock", type=Path, help="lock file (default: versions.toml)")
    ap.add_argument("--cache", type=Path, default=default_cache(), help="build cache directory")
    ap.add_argument("--second-cni", action="store_true", help="also build kube-router")
    ap.add_argument("--only", nargs="*", help="build only these steps (and their dependencies)")
    ap.add_argument("--list", action="store_true", help="list steps and their keys, build nothing")
    args = ap.parse_args(argv)

    try:
        lock = load(args.lock)
        g, targets = recipes.graph(lock, args.cache, with_second_cni=args.second_cni)
        if args.list:
            for name in g.closure(targets):
                print(f"{name:32} {g.key(name)[:16]}  {g.steps[name].what}")
            return 0
        problems = check_host()
        if problems:
            print(f"build-images: {problems[0]}", file=sys.stderr)
            return 2
        docker.require_engine()
        args.cache.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(args.cache).free / 2**30
        if free < MIN_FREE_GB:
            print(
                f"build-images: only {free:.1f} GiB free under {args.cache}; "
                f"a cold build needs {MIN_FREE_GB} GiB",
                file=sys.stderr,
            )
            return 2
        g.run(args.only or targets)
    except (LockError, GoBuildError, docker.DockerError, BuildFailed) as e:
        print(f"build-images: {e}", file=sys.stderr)
        if "g" in locals():
            print(g.table(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build-images: interrupted; nothing was tagged for unfinished steps", file=sys.stderr)
        return 130
    print(g.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
