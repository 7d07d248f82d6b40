"""What each Go build compiles: one ``GoTarget`` per pinned module, and the binaries it
outputs (derived from its packages, so an image recipe that copies a binary can be checked
against them without building anything)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from npconform.lock import Lock

CALICO_BUILDINFO = "github.com/projectcalico/calico/pkg/buildinfo"
_MAJOR = re.compile(r"^v[0-9]+$")


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

    def outputs(self) -> set[str]:
        """The binaries ``go build -o dir/`` writes: each package's last path element (the
        one before a major-version suffix), renamed as the target says."""
        names = set()
        for p in self.packages:
            parts = p.split("/")
            names.add(parts[-2] if _MAJOR.match(parts[-1]) and len(parts) > 1 else parts[-1])
        renamed = dict(self.rename)
        return {renamed.get(n, n) for n in names}

    def ldflags_line(self) -> str:
        return " ".join(["-s", "-w", *self.ldflags])


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
