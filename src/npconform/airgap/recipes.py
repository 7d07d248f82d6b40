"""What the offline image build consists of: Go builds, Debian root filesystems, images.

Each function adds steps to a Graph. Step inputs name exactly the lock entries and
generated files an output depends on, so that changing one version rebuilds only its
dependants. Third-party files (kind's node files, Calico's node filesystem) are taken
from the pinned modules in the Go module cache at build time.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npconform.airgap import docker, registry
from npconform.airgap.gobuild import GoBuildError, Wrapper, go_env, install_tree, module_dir
from npconform.airgap.steps import Ctx, Graph, Step
from npconform.lock import Lock, Module
from npconform.proc import CommandError, run

# Bump when a recipe changes in a way that changes its output.
REVISION = 1

NODE_PACKAGES = [
    "systemd",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "util-linux",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "fuse-overlayfs",
    "e2fsprogs",
    "bash",
    "ca-certificates",
    "curl",
    "jq",
    "procps",
]
RUNTIME_PACKAGES = [
    "bash",
    "ca-certificates",
    "iptables",
    "nftables",
    "ipset",
    "iproute2",
    "conntrack",
    "kmod",
    "procps",
    "runit",
    "netcat-openbsd",
    "socat",
    "curl",
    "dnsutils",
    "util-linux",
]

FILES = Path(__file__).parent / "files"
CALICO_BUILDINFO = "github.com/projectcalico/calico/pkg/buildinfo"
STATIC_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class GoTarget:
    """Packages of one module built in one `go build`."""

    key: str  # lock module key
    packages: tuple[str, ...]
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    cgo: bool = False
    env: tuple[tuple[str, str], ...] = ()
    rename: tuple[tuple[str, str], ...] = ()  # built name -> wanted name


def go_targets(lock: Lock) -> list[GoTarget]:
    k8s = lock.module("kubernetes")
    kv = k8s.version
    major, minor = kv.lstrip("v").split(".")[:2]
    k8s_ld = []
    for p in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        k8s_ld += [
            f"-X {p}.gitVersion={kv}",
            f"-X {p}.gitMajor={major}",
            f"-X {p}.gitMinor={minor}",
            f"-X {p}.gitTreeState=clean",
            f"-X {p}.buildDate=1970-01-01T00:00:00Z",
        ]
    calico = lock.module("calico")
    return [
        GoTarget("kind", ("sigs.k8s.io/kind",)),
        GoTarget(
            "kubernetes",
            tuple(
                f"k8s.io/kubernetes/{p}"
                for p in (
                    "cmd/kubeadm",
                    "cmd/kubelet",
                    "cmd/kubectl",
                    "cmd/kube-apiserver",
                    "cmd/kube-controller-manager",
                    "cmd/kube-scheduler",
                    "cmd/kube-proxy",
                    "test/images/agnhost",
                )
            ),
            tuple(k8s_ld),
        ),
        GoTarget(
            "etcd",
            ("go.etcd.io/etcd/server/v3",),
            (f"-X go.etcd.io/etcd/api/v3/version.GitSHA={lock.module('etcd').version}",),
            rename=(("server", "etcd"),),
        ),
        GoTarget(
            "coredns",
            ("github.com/coredns/coredns",),
            (f"-X github.com/coredns/coredns/coremain.GitCommit={lock.module('coredns').version}",),
        ),
        GoTarget(
            "containerd",
            tuple(
                f"github.com/containerd/containerd/v2/cmd/{c}"
                for c in ("containerd", "containerd-shim-runc-v2", "ctr")
            ),
            (
                "-X github.com/containerd/containerd/v2/version.Version="
                + lock.module("containerd").version,
            ),
            tags=("no_aufs", "no_zfs", "no_btrfs", "no_devmapper"),
        ),
        GoTarget(
            "runc",
            ("github.com/opencontainers/runc",),
            (f"-X main.version={lock.module('runc').version.lstrip('v')}",),
            tags=("seccomp",),
            cgo=True,
        ),
        GoTarget(
            "cri-tools",
            ("sigs.k8s.io/cri-tools/cmd/crictl",),
            (f"-X sigs.k8s.io/cri-tools/pkg/version.Version={lock.module('cri-tools').version}",),
        ),
        GoTarget(
            "cni-plugins",
            tuple(
                f"github.com/containernetworking/plugins/plugins/{p}"
                for p in (
                    "ipam/host-local",
                    "main/bridge",
                    "main/loopback",
                    "main/ptp",
                    "meta/portmap",
                    "meta/bandwidth",
                    "meta/tuning",
                )
            ),
            (
                "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion="
                + lock.module("cni-plugins").version,
            ),
        ),
        GoTarget(
            "calico",
            tuple(
                f"github.com/projectcalico/calico/{p}"
                for p in (
                    "node/cmd/calico-node",
                    "node/cmd/mountns",
                    "cni-plugin/cmd/calico",
                    "cni-plugin/cmd/install",
                    "kube-controllers/cmd/kube-controllers",
                    "kube-controllers/cmd/check-status",
                    "kube-controllers/cmd/wrapper",
                )
            ),
            (
                f"-X {CALICO_BUILDINFO}.Version={calico.display_version}",
                f"-X {CALICO_BUILDINFO}.GitRevision={calico.version[-12:]}",
            ),
            env=(("GONOSUMDB", "github.com/projectcalico"),),
        ),
        GoTarget(
            "gatekeeper",
            (
                "github.com/open-policy-agent/gatekeeper/v3",
                "github.com/open-policy-agent/gatekeeper/v3/cmd/gator",
            ),
            (
                "-X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version="
                + lock.module("gatekeeper").version,
            ),
            rename=(("gatekeeper", "manager"),),
        ),
        GoTarget(
            "registry",
            ("github.com/distribution/distribution/v3/cmd/registry",),
            (
                "-X github.com/distribution/distribution/v3/version.version="
                + lock.module("registry").version,
            ),
        ),
        GoTarget(
            "kube-router",
            ("github.com/cloudnativelabs/kube-router/v2/cmd/kube-router",),
            (
                "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version="
                + lock.module("kube-router").version,
            ),
        ),
    ]


def _module_inputs(mod: Module) -> dict[str, Any]:
    return {"path": mod.path, "version": mod.version, "replaces": mod.local_replaces}


def _go_version() -> str:
    try:
        return run(["go", "env", "GOVERSION"]).strip()
    except (FileNotFoundError, CommandError):
        return "missing"


def _out_dir(ctx: Ctx, kind: str, name: str) -> Path:
    return ctx.cache / kind / f"{name}-{ctx.key[:16]}"


def _dir_if_done(path: Path) -> Path | None:
    return path if (path / ".complete").exists() else None


def _cached_dir(ctx: Ctx, kind: str, name: str) -> Path | None:
    return _dir_if_done(_out_dir(ctx, kind, name))


def _publish_dir(tmp: Path, final: Path) -> Path:
    (tmp / ".complete").write_text("")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def add_go_steps(g: Graph, lock: Lock) -> None:
    gover = _go_version()
    for t in go_targets(lock):
        mod = lock.module(t.key)

        def build(ctx: Ctx, t: GoTarget = t, mod: Module = mod) -> Path:
            final = _out_dir(ctx, "go", t.key)
            tmp = final.with_name(final.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            env = go_env(ctx.cache, dict(t.env))
            w = Wrapper(mod, ctx.cache / "wrappers" / t.key, env)
            w.prepare(ctx.log(f"go-{t.key}"))
            w.build(
                t.packages,
                tmp,
                ctx.log(f"go-{t.key}"),
                ldflags=" ".join(["-s", "-w", *t.ldflags]),
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
                    "rev": REVISION,
                    "go": gover,
                    "module": _module_inputs(mod),
                    "target": t.__dict__,
                },
                build=build,
                cached=functools.partial(_cached_dir, kind="go", name=t.key),
                lane="cpu",
                what=f"{mod.path} {mod.display_version}",
            )
        )

    kmod = lock.module("kubernetes")
    pause_version = lock.image("pause").rsplit(":", 1)[1]

    def build_pause(ctx: Ctx) -> Path:
        src = module_dir(kmod, go_env(ctx.cache), ctx.log("cc-pause"))
        final = _out_dir(ctx, "go", "pause")
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            run(
                [
                    "gcc",
                    "-Os",
                    "-Wall",
                    "-Werror",
                    "-static",
                    f"-DVERSION=v{pause_version}",
                    "-o",
                    str(tmp / "pause"),
                    str(src / "build/pause/linux/pause.c"),
                ],
                log=ctx.log("cc-pause"),
            )
        except FileNotFoundError:
            raise GoBuildError(
                "no C compiler: install gcc (apt-get install gcc libc6-dev)"
            ) from None
        return _publish_dir(tmp, final)

    g.add(
        Step(
            name="cc:pause",
            inputs={"rev": REVISION, "module": _module_inputs(kmod), "version": pause_version},
            build=build_pause,
            cached=lambda ctx: _dir_if_done(_out_dir(ctx, "go", "pause")),
            lane="cpu",
            what=f"pause {pause_version} from {kmod.ref}",
        )
    )


# ---------------------------------------------------------------------------------------
# Debian root filesystems
# ---------------------------------------------------------------------------------------

NODE_ROOTFS_FIXUPS = """\
set -e
find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo ReadKMsg=no >> /etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd /sbin/init
"""


def _cached_rootfs(ctx: Ctx, name: str) -> str | None:
    ref = rootfs_ref(name, ctx.key)
    return ref if docker.image_id(ref) else None


def _cached_image(ctx: Ctx, ref: str) -> str | None:
    return ref if docker.image_key(ref) == ctx.key else None


def rootfs_ref(name: str, key: str) -> str:
    return f"npconform/rootfs-{name}:{key[:16]}"


def add_rootfs_steps(g: Graph, lock: Lock) -> None:
    for name, packages in (("node", NODE_PACKAGES), ("runtime", RUNTIME_PACKAGES)):

        def build(ctx: Ctx, name: str = name, packages: list[str] = packages) -> str:
            ref = rootfs_ref(name, ctx.key)
            log = ctx.log(f"rootfs-{name}")
            work = ctx.cache / "rootfs" / f"{name}.tmp"
            debs = ctx.cache / "debs" / name
            debs.mkdir(parents=True, exist_ok=True)
            if work.exists():
                run(["rm", "-rf", str(work)])
            work.mkdir(parents=True)
            root = work / "root"
            try:
                run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={','.join(packages)}",
                        f"--cache-dir={debs}",
                        lock.debian_suite,
                        str(root),
                        lock.debian_mirror,
                    ],
                    log=log,
                )
            except FileNotFoundError:
                raise GoBuildError(
                    "debootstrap is not installed (apt-get install debootstrap)"
                ) from None
            if name == "node":
                run(["chroot", str(root), "/bin/sh", "-c", NODE_ROOTFS_FIXUPS], log=log)
            run(
                ["sh", "-c", "rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* var/log/*"],
                cwd=root,
            )
            tar = work / "rootfs.tar"
            run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tar), "."], log=log)
            docker.import_tar(tar, ref, log)
            run(["rm", "-rf", str(work)])
            return ref

        g.add(
            Step(
                name=f"rootfs:{name}",
                inputs={
                    "rev": REVISION,
                    "suite": lock.debian_suite,
                    "mirror": lock.debian_mirror,
                    "packages": packages,
                    "fixups": NODE_ROOTFS_FIXUPS if name == "node" else "",
                },
                build=build,
                cached=functools.partial(_cached_rootfs, name=name),
                lane="io",
                what=f"Debian {lock.debian_suite} {name} root filesystem",
            )
        )


# ---------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------


@dataclass
class ImageSpec:
    key: str  # lock [images] key
    base: str  # "scratch" | "runtime" | "node"
    files: list[tuple[str, str, str]]  # (dep step, file in its output dir, path in image)
    dockerfile_tail: list[str]
    trees: list[tuple[str, str, str]] | None = None  # (module key, dir in module, path in image)
    deps: list[str] | None = None
    extra_files: tuple[str, ...] = ()  # npconform's own files (airgap/files) in the context


def image_specs(lock: Lock) -> list[ImageSpec]:
    def control_plane(name: str) -> ImageSpec:
        return ImageSpec(
            name,
            "scratch",
            [("go:kubernetes", name, f"/usr/local/bin/{name}")],
            [f"ENV PATH={STATIC_PATH}", f'ENTRYPOINT ["/usr/local/bin/{name}"]'],
        )

    return [
        control_plane("kube-apiserver"),
        control_plane("kube-controller-manager"),
        control_plane("kube-scheduler"),
        ImageSpec(
            "kube-proxy",
            "runtime",
            [("go:kubernetes", "kube-proxy", "/usr/local/bin/kube-proxy")],
            [
                "COPY iptables-wrapper /usr/sbin/iptables-wrapper",
                "RUN chmod 0755 /usr/sbin/iptables-wrapper && for c in iptables iptables-save"
                " iptables-restore ip6tables ip6tables-save ip6tables-restore;"
                " do ln -sf iptables-wrapper /usr/sbin/$c; done",
                'ENTRYPOINT ["/usr/local/bin/kube-proxy"]',
            ],
            extra_files=("iptables-wrapper",),
        ),
        ImageSpec(
            "etcd",
            "scratch",
            [("go:etcd", "etcd", "/usr/local/bin/etcd")],
            [f"ENV PATH={STATIC_PATH}", 'ENTRYPOINT ["/usr/local/bin/etcd"]'],
        ),
        ImageSpec(
            "coredns",
            "scratch",
            [("go:coredns", "coredns", "/coredns")],
            ["USER 65532:65532", "EXPOSE 53 53/udp", 'ENTRYPOINT ["/coredns"]'],
        ),
        ImageSpec(
            "pause",
            "scratch",
            [("cc:pause", "pause", "/pause")],
            ["USER 65535:65535", 'ENTRYPOINT ["/pause"]'],
        ),
        ImageSpec(
            "agnhost",
            "runtime",
            [("go:kubernetes", "agnhost", "/agnhost")],
            [
                "RUN mkdir -p /uploads",
                "EXPOSE 80 8080 8081 9376 5000",
                'ENTRYPOINT ["/agnhost"]',
                'CMD ["pause"]',
            ],
        ),
        ImageSpec(
            "calico-node",
            "runtime",
            [
                ("go:calico", "calico-node", "/bin/calico-node"),
                ("go:calico", "mountns", "/bin/mountns"),
            ],
            [
                "ENV SVDIR=/etc/service/enabled",
                # Built without cgo, so without libbpf: felix must not try to clean up
                # BPF connect-time load balancing (the iptables dataplane never uses it).
                "ENV FELIX_DebugSkipCTLBCleanup=true",
                "RUN chmod 0755 /usr/sbin/start_runit /usr/sbin/restart-calico-confd"
                " /usr/sbin/versions /etc/rc.local"
                " && find /etc/service/available -name run -exec chmod 0755 {} +"
                " && chmod u+s /bin/calico-node /bin/mountns",
                'CMD ["start_runit"]',
            ],
            trees=[
                ("calico", "node/filesystem/etc", "/etc"),
                ("calico", "node/filesystem/sbin", "/usr/sbin"),
            ],
        ),
        ImageSpec(
            "calico-cni",
            "runtime",
            [
                ("go:calico", "calico", "/opt/cni/bin/calico"),
                ("go:calico", "calico", "/opt/cni/bin/calico-ipam"),
                ("go:calico", "install", "/opt/cni/bin/install"),
                ("go:cni-plugins", "bandwidth", "/opt/cni/bin/bandwidth"),
                ("go:cni-plugins", "host-local", "/opt/cni/bin/host-local"),
                ("go:cni-plugins", "loopback", "/opt/cni/bin/loopback"),
                ("go:cni-plugins", "portmap", "/opt/cni/bin/portmap"),
                ("go:cni-plugins", "tuning", "/opt/cni/bin/tuning"),
            ],
            [
                "ENV PATH=/opt/cni/bin:" + STATIC_PATH,
                "WORKDIR /opt/cni/bin",
                'CMD ["/opt/cni/bin/install"]',
            ],
        ),
        ImageSpec(
            "calico-kube-controllers",
            "runtime",
            [
                ("go:calico", "kube-controllers", "/usr/bin/kube-controllers"),
                ("go:calico", "check-status", "/usr/bin/check-status"),
                ("go:calico", "wrapper", "/usr/bin/wrapper"),
            ],
            [
                "RUN mkdir -p /status && chown 999 /status",
                "USER 999",
                'ENTRYPOINT ["/usr/bin/wrapper", "/usr/bin/kube-controllers"]',
            ],
        ),
        ImageSpec(
            "gatekeeper",
            "scratch",
            [("go:gatekeeper", "manager", "/manager")],
            ["WORKDIR /", "USER 65532:65532", 'ENTRYPOINT ["/manager"]'],
        ),
        ImageSpec(
            "registry",
            "scratch",
            [("go:registry", "registry", "/bin/registry")],
            [
                "COPY config.yml /etc/distribution/config.yml",
                'VOLUME ["/var/lib/registry"]',
                "EXPOSE 5000",
                'ENTRYPOINT ["/bin/registry"]',
                'CMD ["serve", "/etc/distribution/config.yml"]',
            ],
        ),
        ImageSpec(
            "kube-router",
            "runtime",
            [
                ("go:kube-router", "kube-router", "/usr/local/bin/kube-router"),
                *[
                    ("go:cni-plugins", name, f"/usr/libexec/cni/{name}")
                    for name in ("bridge", "portmap", "host-local", "loopback")
                ],
            ],
            [
                # kube-router's own installer of those CNI plugins into the node's /opt/cni/bin
                "RUN install -m 0755 /usr/local/share/kube-router/cni-install /usr/local/bin/",
                'ENTRYPOINT ["/usr/local/bin/kube-router"]',
            ],
            trees=[("kube-router", "build/image-assets", "/usr/local/share/kube-router")],
        ),
    ]


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
"""


def _dockerfile(base_ref: str, spec: ImageSpec, lock: Lock) -> str:
    lines = [f"FROM {base_ref}"]
    for i, (_, _, dst) in enumerate(spec.trees or []):
        lines.append(f"COPY tree{i}/ {dst}/")
    for _, _, dst in spec.files:
        lines.append(f"COPY files{dst} {dst}")
    lines.append(f"LABEL org.opencontainers.image.ref.name={lock.image(spec.key)}")
    lines += spec.dockerfile_tail
    return "\n".join(lines) + "\n"


def add_image_steps(g: Graph, lock: Lock) -> None:
    for spec in image_specs(lock):
        ref = lock.image(spec.key)
        deps = sorted({d for d, _, _ in spec.files} | set(spec.deps or []))
        base_step = {"runtime": "rootfs:runtime", "node": "rootfs:node"}.get(spec.base)
        if base_step:
            deps.append(base_step)
        tree_inputs = [(_module_inputs(lock.module(m)), d, dst) for m, d, dst in (spec.trees or [])]

        def build(
            ctx: Ctx, spec: ImageSpec = spec, ref: str = ref, base_step: str | None = base_step
        ) -> str:
            context = ctx.cache / "contexts" / spec.key
            shutil.rmtree(context, ignore_errors=True)
            (context / "files").mkdir(parents=True)
            for dep, name, dst in spec.files:
                target = context / "files" / dst.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(ctx.deps[dep]) / name, target)
                target.chmod(0o755)
            for i, (m, d, _) in enumerate(spec.trees or []):
                src = module_dir(
                    lock.module(m),
                    go_env(ctx.cache, {"GONOSUMDB": "github.com/projectcalico"}),
                    ctx.log(f"image-{spec.key}"),
                )
                install_tree(src / d, context / f"tree{i}")
            if spec.key == "registry":
                (context / "config.yml").write_text(REGISTRY_CONFIG)
            for name in spec.extra_files:
                shutil.copy2(FILES / name, context / name)
            base_ref = "scratch" if base_step is None else str(ctx.deps[base_step])
            (context / "Dockerfile").write_text(_dockerfile(base_ref, spec, lock))
            docker.build(context, [ref], ctx.key, ctx.log(f"image-{spec.key}"))
            shutil.rmtree(context, ignore_errors=True)
            return ref

        g.add(
            Step(
                name=f"image:{spec.key}",
                inputs={
                    "rev": REVISION,
                    "ref": ref,
                    "spec": [spec.files, spec.dockerfile_tail, spec.base],
                    "trees": tree_inputs,
                    "extra": REGISTRY_CONFIG if spec.key == "registry" else "",
                    "files": {n: (FILES / n).read_text() for n in spec.extra_files},
                },
                deps=deps,
                build=build,
                cached=functools.partial(_cached_image, ref=ref),
                lane="io",
                what=ref,
            )
        )


# ---------------------------------------------------------------------------------------
# The kind node image
# ---------------------------------------------------------------------------------------


def _containerd_config(kind_config: str, pause_ref: str) -> str:
    out = []
    for line in kind_config.splitlines():
        if line.strip().startswith("sandbox_image"):
            line = f'  sandbox_image = "{pause_ref}"'
        out.append(line)
    out += [
        "",
        "# npconform: pull through the local registry mirror (see /etc/containerd/certs.d)",
        '[plugins."io.containerd.grpc.v1.cri".registry]',
        '  config_path = "/etc/containerd/certs.d"',
    ]
    return "\n".join(out) + "\n"


def _cri_base_spec(ctr: Path, log: Path) -> str:
    spec = json.loads(run([str(ctr), "oci", "spec"], log=log))
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec["process"].pop("rlimits", None)
    return json.dumps(spec, indent=4) + "\n"


NODE_DOCKERFILE = """\
FROM {base}
COPY kind/ /
COPY bin/ /
RUN chmod 0755 /usr/local/bin/* /kind/bin/* /usr/local/sbin/runc /opt/cni/bin/* \\
      /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests \\
 && containerd --version && runc --version && kubelet --version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
"""


def add_node_step(g: Graph, lock: Lock) -> None:
    kind = lock.module("kind")
    ref = lock.image("node")
    pause_ref = lock.image("pause")
    deps = [
        "rootfs:node",
        "go:kubernetes",
        "go:containerd",
        "go:runc",
        "go:cri-tools",
        "go:cni-plugins",
    ]

    def build(ctx: Ctx) -> str:
        log = ctx.log("image-node")
        context = ctx.cache / "contexts" / "node"
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        kind_src = module_dir(kind, go_env(ctx.cache), log)
        install_tree(kind_src / "images/base/files", context / "kind")
        for junk in ("LICENSES",):
            shutil.rmtree(context / "kind" / junk, ignore_errors=True)
        cfg = context / "kind/etc/containerd/config.toml"
        cfg.write_text(_containerd_config(cfg.read_text(), pause_ref))
        containerd_bin = Path(ctx.deps["go:containerd"])
        (context / "kind/etc/containerd/cri-base.json").write_text(
            _cri_base_spec(containerd_bin / "ctr", log)
        )
        for upstream in registry.MIRRORED:
            d = context / "kind/etc/containerd/certs.d" / upstream
            d.mkdir(parents=True)
            (d / "hosts.toml").write_text(registry.hosts_toml(upstream))
        (context / "kind/kind/version").write_text(lock.kubernetes_version)
        b = context / "bin"
        layout = {
            "go:containerd": [
                (n, "usr/local/bin") for n in ("containerd", "containerd-shim-runc-v2", "ctr")
            ],
            "go:runc": [("runc", "usr/local/sbin")],
            "go:cri-tools": [("crictl", "usr/local/bin")],
            "go:cni-plugins": [
                (n, "opt/cni/bin") for n in ("host-local", "loopback", "ptp", "portmap")
            ],
            "go:kubernetes": [(n, "usr/bin") for n in ("kubeadm", "kubelet", "kubectl")],
        }
        for dep, files in layout.items():
            for name, dst in files:
                (b / dst).mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(ctx.deps[dep]) / name, b / dst / name)
        (context / "Dockerfile").write_text(NODE_DOCKERFILE.format(base=ctx.deps["rootfs:node"]))
        docker.build(context, [ref], ctx.key, log)
        shutil.rmtree(context, ignore_errors=True)
        return ref

    g.add(
        Step(
            name="image:node",
            inputs={
                "rev": REVISION,
                "ref": ref,
                "kind": _module_inputs(kind),
                "pause": pause_ref,
                "dockerfile": NODE_DOCKERFILE,
                "mirrors": [registry.hosts_toml(u) for u in registry.MIRRORED],
                "config": _containerd_config("", pause_ref),
            },
            deps=deps,
            build=build,
            cached=lambda ctx: ref if docker.image_key(ref) == ctx.key else None,
            lane="io",
            what=f"{ref} (kind {kind.version})",
        )
    )


# ---------------------------------------------------------------------------------------
# Serving: the registry mirror and the pushes
# ---------------------------------------------------------------------------------------

SERVED = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "etcd",
    "coredns",
    "pause",
    "agnhost",
    "calico-node",
    "calico-cni",
    "calico-kube-controllers",
    "gatekeeper",
]
SECOND_CNI = ["kube-router"]


def add_push_step(g: Graph, lock: Lock, keys: list[str]) -> None:
    refs = [lock.image(k) for k in keys]

    def pushed(ctx: Ctx) -> list[str] | None:
        if registry.running_image() != docker.image_id(lock.image("registry")):
            return None
        return refs if all(registry.is_pushed(r) for r in refs) else None

    def build(ctx: Ctx) -> list[str]:
        log = ctx.log("push")
        registry.ensure_running(lock.image("registry"), log)
        for r in refs:
            if not registry.is_pushed(r):
                g.say(f"push: {r}")
                registry.push(r, log)
        return refs

    g.add(
        Step(
            name="push",
            inputs={"refs": refs},
            deps=["image:registry", *(f"image:{k}" for k in keys)],
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
            inputs={"kind": _module_inputs(kind)},
            deps=["go:kind"],
            build=build,
            cached=installed,
            lane="io",
            what=f"kind {kind.version} in {tools_dir(g.cache)}",
        )
    )


def graph(lock: Lock, cache: Path, with_second_cni: bool = False) -> tuple[Graph, list[str]]:
    g = Graph(cache)
    add_go_steps(g, lock)
    add_tools_step(g, lock)
    add_rootfs_steps(g, lock)
    add_image_steps(g, lock)
    add_node_step(g, lock)
    keys = SERVED + (SECOND_CNI if with_second_cni else [])
    add_push_step(g, lock, keys)
    return g, ["tools", "image:node", "push"]


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
