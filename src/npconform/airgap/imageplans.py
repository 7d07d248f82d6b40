"""What each image is made of: the Debian root filesystems and one ``ImagePlan`` per image
in the lock's [images], the kind node image included."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from npconform.airgap import registry
from npconform.airgap.context import (
    Derived,
    ImagePlan,
    ModuleTree,
    Source,
    StepFile,
    StepTree,
    Text,
)
from npconform.lock import Lock
from npconform.proc import run

STATIC_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RootfsSpec:
    name: str
    packages: tuple[str, ...]
    fixups: str = ""  # a shell script run in the chroot


NODE_ROOTFS_FIXUPS = """\
set -e
find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo ReadKMsg=no >> /etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd /sbin/init
"""

ROOTFS = [
    RootfsSpec(
        "node",
        (
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
        ),
        NODE_ROOTFS_FIXUPS,
    ),
    # The suite image's base: Debian's Python (its version is SUITE_PYTHON) and venv.
    RootfsSpec("python", ("python3", "python3-venv", "ca-certificates")),
    RootfsSpec(
        "runtime",
        (
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
        ),
    ),
]


def simple(
    lock: Lock,
    key: str,
    base: str | None,
    files: list[tuple[StepFile, str]],
    tail: list[str],
    trees: list[tuple[ModuleTree | StepTree, str]] = (),  # type: ignore[assignment]
    own: Mapping[str, Source] | None = None,
    role: str = "cluster",
) -> ImagePlan:
    """An image made of binaries (``files``: source, path in the image), module trees and
    npconform's own files (``own``: context name -> source, copied by ``tail``)."""
    context: list[tuple[str, Source]] = []
    lines = ["FROM {base}"]
    for i, (tree, dst) in enumerate(trees):
        context.append((f"tree{i}", tree))
        lines.append(f"COPY tree{i}/ {dst}/")
    for src, dst in files:
        context.append((f"files{dst}", src))
        lines.append(f"COPY files{dst} {dst}")
    context += list((own or {}).items())
    lines.append(f"LABEL org.opencontainers.image.ref.name={lock.image(key)}")
    lines += tail
    return ImagePlan(key, base, context, "\n".join(lines) + "\n", role=role)


def _k8s(name: str) -> StepFile:
    return StepFile("go:kubernetes", name)


def image_plans(lock: Lock) -> list[ImagePlan]:
    def control_plane(name: str) -> ImagePlan:
        return simple(
            lock,
            name,
            None,
            [(_k8s(name), f"/usr/local/bin/{name}")],
            [f"ENV PATH={STATIC_PATH}", f'ENTRYPOINT ["/usr/local/bin/{name}"]'],
        )

    calico = "go:calico"
    cni = "go:cni-plugins"
    return [
        suite_plan(lock),
        control_plane("kube-apiserver"),
        control_plane("kube-controller-manager"),
        control_plane("kube-scheduler"),
        simple(
            lock,
            "kube-proxy",
            "rootfs:runtime",
            [(_k8s("kube-proxy"), "/usr/local/bin/kube-proxy")],
            [
                "COPY iptables-wrapper /usr/sbin/iptables-wrapper",
                "RUN chmod 0755 /usr/sbin/iptables-wrapper && for c in iptables iptables-save"
                " iptables-restore ip6tables ip6tables-save ip6tables-restore;"
                " do ln -sf iptables-wrapper /usr/sbin/$c; done",
                'ENTRYPOINT ["/usr/local/bin/kube-proxy"]',
            ],
            own={"iptables-wrapper": Text.own("iptables-wrapper")},
        ),
        simple(
            lock,
            "etcd",
            None,
            [(StepFile("go:etcd", "etcd"), "/usr/local/bin/etcd")],
            [f"ENV PATH={STATIC_PATH}", 'ENTRYPOINT ["/usr/local/bin/etcd"]'],
        ),
        simple(
            lock,
            "coredns",
            None,
            [(StepFile("go:coredns", "coredns"), "/coredns")],
            ["USER 65532:65532", "EXPOSE 53 53/udp", 'ENTRYPOINT ["/coredns"]'],
        ),
        simple(
            lock,
            "pause",
            None,
            [(StepFile("cc:pause", "pause"), "/pause")],
            ["USER 65535:65535", 'ENTRYPOINT ["/pause"]'],
        ),
        simple(
            lock,
            "agnhost",
            "rootfs:runtime",
            # npconform's probe program beside agnhost: one process runs a source's
            # whole batch of probes (the shell tools stay, for any other probe image).
            [
                (_k8s("agnhost"), "/agnhost"),
                (StepFile("go:npcprobe", "npcprobe"), "/usr/local/bin/npcprobe"),
            ],
            [
                "RUN mkdir -p /uploads",
                "EXPOSE 80 8080 8081 9376 5000",
                'ENTRYPOINT ["/agnhost"]',
                'CMD ["pause"]',
            ],
        ),
        simple(
            lock,
            "calico-node",
            "rootfs:runtime",
            [
                (StepFile(calico, "calico-node"), "/bin/calico-node"),
                (StepFile(calico, "mountns"), "/bin/mountns"),
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
                (ModuleTree("calico", "node/filesystem/etc"), "/etc"),
                (ModuleTree("calico", "node/filesystem/sbin"), "/usr/sbin"),
            ],
        ),
        simple(
            lock,
            "calico-cni",
            "rootfs:runtime",
            [
                (StepFile(calico, "calico"), "/opt/cni/bin/calico"),
                (StepFile(calico, "calico"), "/opt/cni/bin/calico-ipam"),
                (StepFile(calico, "install"), "/opt/cni/bin/install"),
                *[
                    (StepFile(cni, n), f"/opt/cni/bin/{n}")
                    for n in ("bandwidth", "host-local", "loopback", "portmap", "tuning")
                ],
            ],
            [
                "ENV PATH=/opt/cni/bin:" + STATIC_PATH,
                "WORKDIR /opt/cni/bin",
                'CMD ["/opt/cni/bin/install"]',
            ],
        ),
        simple(
            lock,
            "calico-kube-controllers",
            "rootfs:runtime",
            [
                (StepFile(calico, n), f"/usr/bin/{n}")
                for n in ("kube-controllers", "check-status", "wrapper")
            ],
            [
                "RUN mkdir -p /status && chown 999 /status",
                "USER 999",
                'ENTRYPOINT ["/usr/bin/wrapper", "/usr/bin/kube-controllers"]',
            ],
        ),
        simple(
            lock,
            "gatekeeper",
            None,
            [(StepFile("go:gatekeeper", "manager"), "/manager")],
            ["WORKDIR /", "USER 65532:65532", 'ENTRYPOINT ["/manager"]'],
        ),
        simple(
            lock,
            "registry",
            None,
            [(StepFile("go:registry", "registry"), "/bin/registry")],
            [
                "COPY config.yml /etc/distribution/config.yml",
                'VOLUME ["/var/lib/registry"]',
                "EXPOSE 5000",
                'ENTRYPOINT ["/bin/registry"]',
                'CMD ["serve", "/etc/distribution/config.yml"]',
            ],
            own={"config.yml": Text.own("registry-config.yml")},
            role="host",
        ),
        simple(
            lock,
            "kube-router",
            "rootfs:runtime",
            [
                (StepFile("go:kube-router", "kube-router"), "/usr/local/bin/kube-router"),
                *[
                    (StepFile(cni, n), f"/usr/libexec/cni/{n}")
                    for n in ("bridge", "portmap", "host-local", "loopback")
                ],
            ],
            [
                # kube-router's own installer of those CNI plugins into the node's /opt/cni/bin
                "RUN install -m 0755 /usr/local/share/kube-router/cni-install /usr/local/bin/",
                'ENTRYPOINT ["/usr/local/bin/kube-router"]',
            ],
            trees=[
                (ModuleTree("kube-router", "build/image-assets"), "/usr/local/share/kube-router")
            ],
            role="second-cni",
        ),
        node_plan(lock),
    ]


# ---------------------------------------------------------------------------------------
# The suite itself, for runs inside the cluster (`npconform install-cronjob`)
# ---------------------------------------------------------------------------------------

#: The Python of the "python" root filesystem (Debian bookworm's python3): the wheels of
#: the suite image are downloaded for it.
SUITE_PYTHON = "3.11"
SUITE_HOME = "/opt/npconform"
#: The suite image's user: not root, and not any of the cluster images' users.
SUITE_UID = 65532


def suite_plan(lock: Lock) -> ImagePlan:
    """npconform and its pinned Python dependencies (the wheels of step py:suite) in a
    virtual environment on Debian's Python, the suite's tests beside it; non-root, and
    writing nothing outside its volumes (a read-only root filesystem)."""
    venv = f"{SUITE_HOME}/venv"
    return simple(
        lock,
        "npconform",
        "rootfs:python",
        [],
        [
            f"RUN python3 -m venv {venv}"
            f" && {venv}/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheels"
            " npconform"
            f" && python3 -m compileall -q {SUITE_HOME}/suite"
            f" && ls /tmp/wheels > {SUITE_HOME}/wheels.txt"
            " && rm -rf /tmp/wheels",
            f"ENV PATH={venv}/bin:{STATIC_PATH} HOME=/tmp PYTHONDONTWRITEBYTECODE=1"
            " PYTHONUNBUFFERED=1 HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis",
            f"WORKDIR {SUITE_HOME}/suite",
            f"USER {SUITE_UID}:{SUITE_UID}",
            'ENTRYPOINT ["npconform", "job"]',
        ],
        trees=[
            (StepTree("py:suite", "wheels"), "/tmp/wheels"),
            (StepTree("py:suite", "suite"), f"{SUITE_HOME}/suite"),
        ],
    )


# ---------------------------------------------------------------------------------------
# The kind node image
# ---------------------------------------------------------------------------------------


def containerd_config(context: Path, outputs: Mapping[str, Path], pause_ref: str) -> str:
    """kind's containerd configuration, with the pinned pause image and the mirror."""
    kind_config = (context / "kind/etc/containerd/config.toml").read_text()
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


def cri_base_spec(context: Path, outputs: Mapping[str, Path]) -> str:
    """containerd's default OCI spec with kind's product-files hook and no rlimits."""
    spec = json.loads(run([str(outputs["go:containerd"] / "ctr"), "oci", "spec"]))
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

# Binaries of the node image: (step, binary, directory in the node).
NODE_BINARIES = [
    *[
        ("go:containerd", n, "usr/local/bin")
        for n in ("containerd", "containerd-shim-runc-v2", "ctr")
    ],
    ("go:runc", "runc", "usr/local/sbin"),
    ("go:cri-tools", "crictl", "usr/local/bin"),
    *[("go:cni-plugins", n, "opt/cni/bin") for n in ("host-local", "loopback", "ptp", "portmap")],
    *[("go:kubernetes", n, "usr/bin") for n in ("kubeadm", "kubelet", "kubectl")],
]


def node_plan(lock: Lock) -> ImagePlan:
    etc = "kind/etc/containerd"
    context: list[tuple[str, Source]] = [
        ("kind", ModuleTree("kind", "images/base/files", exclude=("LICENSES",))),
        (f"{etc}/config.toml", Derived(containerd_config, (lock.image("pause"),))),
        (f"{etc}/cri-base.json", Derived(cri_base_spec, steps=("go:containerd",))),
        *[
            (f"{etc}/certs.d/{u}/hosts.toml", Text(registry.hosts_toml(u)))
            for u in registry.MIRRORED
        ],
        ("kind/kind/version", Text(lock.kubernetes_version)),
        *[(f"bin/{d}/{n}", StepFile(step, n)) for step, n, d in NODE_BINARIES],
    ]
    return ImagePlan("node", "rootfs:node", context, NODE_DOCKERFILE, role="node")
