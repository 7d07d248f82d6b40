"""The run's settings, read from pytest options (or built directly by scripts)."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npconform import NAME, run_prefix

if TYPE_CHECKING:
    from npconform.model.tenants import TenantModel

TARGETS = ("kind", "existing", "in-cluster")
#: Seconds a TCP connect or DNS query may take before it reads as a timeout; a UDP probe
#: waits twice that. The probe program honours fractions (the shell probes round up to
#: whole seconds). An allowed cell whose answer comes later than this in a confirmation
#: pass is asked again with longer waits (``probe.converge.PATIENCE``), not called a flap.
PROBE_TIMEOUT = 0.5
#: Where a pod finds its service account's token (``--target in-cluster``).
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
CNIS = ("calico", "kube-router", "cilium")
ENFORCEMENT = ("deny", "warn", "dryrun", "any")
IMAGE_SOURCES = ("auto", "offline", "online")
PROBE_TARGETS = ("pod", "service", "both")
#: What a CNI does with traffic a policy denies: drop it (the probe times out: Calico's
#: and Cilium's default) or reject it (a reset or an ICMP unreachable: kube-router's
#: REJECT rule). Only with "reject" does a refused probe read as blocked.
DENY_RESPONSES = ("drop", "reject")
#: The documented behaviour of the CNIs the suite installs itself.
CNI_DENY_RESPONSE = {"calico": "drop", "cilium": "drop", "kube-router": "reject"}

#: Longest ``--run-id``: it is part of every namespace name of the run
#: (``npconform-<run>-<worker>-<scenario>-<logical>``), which must fit in 63 characters.
MAX_RUN_ID = 12
MAX_DNS_LABEL = 63
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


#: The options of the coverage check's platform rule, shared by pytest and ``npconform
#: coverage``: (flag, metavar, help); each is repeatable.
PLATFORM_OPTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "--platform-label",
        "KEY=VALUE",
        "a label that marks a platform namespace (repeatable; default: owner=operator, Welkin's)",
    ),
    (
        "--platform-namespace",
        "NAME",
        "a platform namespace: a name, NAME* or *NAME (repeatable)",
    ),
    (
        "--platform-subject",
        "KIND:NAME",
        "a platform subject that may switch the safeguard off: User:NAME, Group:NAME or "
        "ServiceAccount:NS/NAME (repeatable)",
    ),
)


class UsageError(ValueError):
    """Bad input: reported as one line, non-zero exit, nothing created."""


def read_tenants(path: Path) -> TenantModel:
    """A tenants file read into its model; UsageError (one line) on any fault."""
    from npconform.model.tenants import TenantsError, load

    try:
        return load(path.read_text(encoding="utf-8"), str(path))
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"tenants file {path}: not UTF-8 text") from None
    except TenantsError as e:
        raise UsageError(str(e)) from None


def namespace_name(*parts: str) -> str:
    """The parts joined with ``-``: a namespace name, which must be an RFC 1123 DNS label
    of at most 63 characters. Never truncated (two names cut to the same prefix would
    collide): a name that does not fit raises UsageError."""
    name = "-".join(parts)
    if len(name) > MAX_DNS_LABEL:
        raise UsageError(
            f"namespace name {name!r} is {len(name)} characters long: "
            f"a namespace name may have at most {MAX_DNS_LABEL}"
        )
    if not _DNS_LABEL.fullmatch(name):
        raise UsageError(
            f"namespace name {name!r} ({len(name)} characters) is not a DNS label: "
            "lowercase letters, digits or '-', starting and ending with a letter or digit"
        )
    return name


@dataclass
class RunOptions:
    target: str = "kind"
    kubeconfig: Path | None = None
    context: str | None = None
    cni: str = "calico"
    cni_firewall: bool = True  # False: the CNI ignores NetworkPolicies (fault injection)
    node_image: str | None = None
    workers: int = 2
    cluster_name: str = NAME
    keep_cluster: bool = False
    reuse_cluster: bool = False
    images: str = "auto"
    probe_image: str | None = None
    probe_timeout: float = PROBE_TIMEOUT
    probe_target: str = "pod"
    deny_response: str = "drop"
    report_dir: Path = Path("reports")
    expect_enforcement: str = "deny"
    allow_cluster_changes: bool = False
    install_platform: bool = True
    generated_cases: int = 5
    seed: int = 0
    #: the platform rule of the coverage check: KEY=VALUE labels (none: owner=operator)
    #: and namespace names or NAME*/*NAME patterns
    platform_labels: list[str] = field(default_factory=list)
    platform_namespaces: list[str] = field(default_factory=list)
    #: subjects that may switch the safeguard off: User:NAME, Group:NAME, ServiceAccount:NS/NAME
    platform_subjects: list[str] = field(default_factory=list)
    #: the tenants file of the cluster's own workloads ("" : none)
    tenants: str = ""
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))

    def validate(self) -> None:
        if self.target not in TARGETS:
            raise UsageError(f"unknown target '{self.target}' (choose from {', '.join(TARGETS)})")
        if self.cni not in CNIS:
            raise UsageError(f"unknown CNI '{self.cni}' (choose from {', '.join(CNIS)})")
        if self.expect_enforcement not in ENFORCEMENT:
            raise UsageError(
                f"unknown enforcement action '{self.expect_enforcement}' "
                f"(choose from {', '.join(ENFORCEMENT)})"
            )
        if self.images not in IMAGE_SOURCES:
            raise UsageError(f"unknown image source '{self.images}'")
        if self.probe_target not in PROBE_TARGETS:
            raise UsageError(f"unknown probe target '{self.probe_target}'")
        if self.deny_response not in DENY_RESPONSES:
            raise UsageError(
                f"--deny-response {self.deny_response!r}: choose from {', '.join(DENY_RESPONSES)}"
            )
        if not 0 <= self.workers <= 10:
            raise UsageError("--kind-workers must be between 0 and 10")
        if self.probe_timeout <= 0:
            raise UsageError("--probe-timeout must be positive")
        if len(self.run_id) > MAX_RUN_ID or not _DNS_LABEL.fullmatch(self.run_id):
            raise UsageError(
                f"--run-id {self.run_id!r}: must be 1-{MAX_RUN_ID} lowercase letters, digits "
                "or '-', starting and ending with a letter or digit"
            )
        from npconform.model.coverage import platform_rule
        from npconform.model.rbac import check_subject

        try:
            platform_rule(self.platform_labels, self.platform_namespaces)
            for subject in self.platform_subjects:
                check_subject(subject)
        except ValueError as e:
            raise UsageError(str(e)) from None
        if self.tenants:
            read_tenants(Path(self.tenants))
        if self.target == "in-cluster":
            if self.kubeconfig is not None:
                raise UsageError(
                    "--target in-cluster authenticates with the pod's service account: "
                    "--kubeconfig is for --target existing"
                )
            if not os.environ.get("KUBERNETES_SERVICE_HOST") or not SERVICE_ACCOUNT_TOKEN.is_file():
                raise UsageError(
                    "--target in-cluster runs inside a pod (KUBERNETES_SERVICE_HOST and "
                    f"{SERVICE_ACCOUNT_TOKEN}); from outside, use --target existing"
                )
        if self.target == "existing":
            if self.kubeconfig is None:
                env = os.environ.get("KUBECONFIG")
                self.kubeconfig = (
                    Path(env.split(os.pathsep)[0]) if env else Path.home() / ".kube/config"
                )
            if not self.kubeconfig.is_file():
                raise UsageError(f"kubeconfig {self.kubeconfig} does not exist")

    @property
    def namespace_prefix(self) -> str:
        return run_prefix(self.run_id)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunOptions:
        d = dict(d)
        for k in ("kubeconfig", "report_dir"):
            if d.get(k) is not None:
                d[k] = Path(d[k])
        return cls(**d)
