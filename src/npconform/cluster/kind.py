"""kind clusters through pytest-kind's KindCluster, with npconform's own kind config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from pytest_kind import KindCluster

from npconform.airgap import docker, registry
from npconform.airgap.build import default_cache
from npconform.airgap.recipes import served, tools_dir
from npconform.cluster.options import RunOptions, UsageError
from npconform.lock import Lock
from npconform.proc import CommandError, run
from npconform.resources import MANIFESTS

KIND_CONFIG = MANIFESTS / "kind" / "cluster.yaml"


def host_is_cgroup_v1() -> bool:
    return not Path("/sys/fs/cgroup/cgroup.controllers").exists()


CAP_SYS_RESOURCE = 24


def host_lacks_sys_resource() -> bool:
    """Whether this host's capability bounding set lacks CAP_SYS_RESOURCE (then nested
    runc cannot lower a container's oom_score_adj)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not (int(line.split()[1], 16) >> CAP_SYS_RESOURCE) & 1
    return False


def kind_config(opts: RunOptions) -> dict[str, Any]:
    """The project's kind config with the run's node count and host-specific settings."""
    cfg: dict[str, Any] = yaml.safe_load(KIND_CONFIG.read_text())
    cfg["nodes"] = [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(opts.workers)]
    patches = cfg.setdefault("kubeadmConfigPatches", [])
    if host_is_cgroup_v1():
        # Kubernetes >= 1.35 refuses cgroup v1 unless told otherwise.
        patches.append("kind: KubeletConfiguration\nfailCgroupV1: false\n")
    if host_lacks_sys_resource():
        # containerd then keeps every container's oom_score_adj at or above its own.
        cfg.setdefault("containerdConfigPatches", []).append(
            '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
        )
    return cfg


def find_kind() -> Path | None:
    cached = tools_dir(default_cache()) / "kind"
    if cached.exists():
        return cached
    found = shutil.which("kind")
    return Path(found) if found else None


def images_needed(opts: RunOptions, lock: Lock) -> list[str]:
    return [lock.image(k) for k in served(lock, second_cni=opts.cni == "kube-router")]


def offline_ready(opts: RunOptions, lock: Lock) -> bool:
    """Whether the local mirror serves every image this run needs."""
    node = opts.node_image or lock.image("node")
    return docker.image_id(node) is not None and not registry.missing(images_needed(opts, lock))


class KindTarget:
    """Creates (or re-uses) the run's kind cluster and deletes it at the end."""

    def __init__(self, opts: RunOptions, lock: Lock, workdir: Path) -> None:
        self.opts = opts
        self.lock = lock
        self.workdir = workdir
        self.created = False
        self.cluster: KindCluster | None = None
        self.offline = False

    @property
    def node_image(self) -> str:
        return self.opts.node_image or self.lock.image("node")

    def exists(self, kind: Path) -> bool:
        out = run([str(kind), "get", "clusters"], check=False)
        return self.opts.cluster_name in out.split()

    def preflight(self) -> Path:
        """Check everything before creating anything; return the kind binary."""
        try:
            docker.require_engine()
        except docker.DockerError as e:
            raise UsageError(str(e)) from None
        kind = find_kind()
        if kind is None:
            raise UsageError(
                "kind is not installed: run scripts/build-images (offline) or "
                f"`go install sigs.k8s.io/kind@{self.lock.module('kind').version}`"
            )
        if self.opts.cni == "cilium" and self.opts.images == "offline":
            raise UsageError(
                "cilium cannot run offline (it compiles eBPF programs from images "
                "that are not built here); use --cni calico or kube-router"
            )
        mode = self.opts.images
        if mode == "auto":
            mode = "offline" if offline_ready(self.opts, self.lock) else "online"
        self.offline = mode == "offline"
        if self.offline:
            missing = []
            if docker.image_id(self.node_image) is None:
                missing.append(self.node_image)
            reg_image = self.lock.image("registry")
            if registry.running_image() is None and docker.image_id(reg_image) is None:
                missing.append(reg_image)
            if not missing and registry.running_image() is None:
                registry.ensure_running(reg_image, self.workdir / "registry.log")
            missing += registry.missing(images_needed(self.opts, self.lock))
            if missing:
                build = "scripts/build-images" + (
                    " --second-cni" if self.opts.cni == "kube-router" else ""
                )
                raise UsageError(
                    f"offline images missing: {', '.join(missing)}; build them with {build}"
                )
        return kind

    def up(self) -> Path:
        kind = self.preflight()
        self.workdir.mkdir(parents=True, exist_ok=True)
        kubeconfig = self.workdir / "kubeconfig"
        cfg_file = self.workdir / "kind-config.yaml"
        cfg_file.write_text(yaml.safe_dump(kind_config(self.opts), sort_keys=False))
        existed = self.exists(kind)
        if existed and not self.opts.reuse_cluster:
            raise UsageError(
                f"a kind cluster named '{self.opts.cluster_name}' already exists: pass "
                "--reuse-cluster to run on it, or --cluster-name to create another"
            )
        if self.offline:
            registry.ensure_network(self.workdir / "registry.log")
        self.cluster = KindCluster(
            self.opts.cluster_name,
            kubeconfig=kubeconfig,
            image=self.node_image,
            kind_path=kind,
            kubectl_path=kind,  # never used: npconform talks to the API itself
        )
        self.created = not existed
        try:
            if existed:
                run(
                    [
                        str(kind),
                        "export",
                        "kubeconfig",
                        "--name",
                        self.opts.cluster_name,
                        "--kubeconfig",
                        str(kubeconfig),
                    ]
                )
            else:
                self.cluster.create(config_file=cfg_file)
        except (subprocess.CalledProcessError, CommandError) as e:
            self.down(force=True)
            raise UsageError(
                f"kind could not create cluster '{self.opts.cluster_name}': {e}"
            ) from None
        except BaseException:
            self.down(force=True)
            raise
        return kubeconfig

    def down(self, force: bool = False) -> None:
        """Delete the cluster if this run created it, unless kept (``force``: even if kept,
        for a creation that failed half-way)."""
        if self.cluster is None or not self.created:
            return
        if self.opts.keep_cluster and not force:
            return
        kind = find_kind()
        if kind is not None:
            run([str(kind), "delete", "cluster", "--name", self.opts.cluster_name], check=False)

    def node_names(self) -> list[str]:
        kind = find_kind()
        if kind is None:
            return []
        return run([str(kind), "get", "nodes", "--name", self.opts.cluster_name]).split()
