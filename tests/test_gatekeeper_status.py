"""Reading Gatekeeper's status while it is still starting: the API server writes an empty
list as null (a constraint's ``status.byPod`` before any pod has reported), and waiting
must go on instead of failing the run's set-up."""

from __future__ import annotations

from typing import Any

import pytest

from npconform.cluster import kube
from npconform.gatekeeper import install
from npconform.gatekeeper import state as gkstate

PODS = ["gatekeeper-controller-manager-a", "gatekeeper-controller-manager-b"]


def constraint(by_pod: Any, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": "c", "generation": generation}, "status": {"byPod": by_pod}}


def entry(pod: str, generation: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": pod, "observedGeneration": generation, "enforced": True, **extra}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    monkeypatch.setattr(install, "webhook_pods", lambda clients: list(PODS))
    monkeypatch.setattr(install, "_cluster_object", lambda clients, gvp, name: objects.get(name))
    return objects


def test_dig_treats_null_like_a_missing_key() -> None:
    obj = {"status": {"byPod": None, "created": True}, "spec": None}
    assert kube.dig(obj, "status", "byPod", default=[]) == []
    assert kube.dig(obj, "spec", "match", default={}) == {}
    assert kube.dig(obj, "status", "created") is True
    assert kube.dig(obj, "status", "created", "deeper") is None
    assert kube.dig(None, "status", default=0) == 0


@pytest.mark.parametrize("by_pod", [None, []])
def test_a_constraint_no_pod_has_reported_on_is_not_enforced_yet(
    cluster: dict[str, Any], by_pod: Any
) -> None:
    cluster["c"] = constraint(by_pod)
    assert install.constraint_enforced(None, "c") is False  # type: ignore[arg-type]
    cluster["c"] = {"metadata": {"name": "c", "generation": 1}, "status": None}
    assert install.constraint_enforced(None, "c") is False  # type: ignore[arg-type]


def test_a_constraint_is_enforced_when_every_webhook_pod_reports_its_generation(
    cluster: dict[str, Any],
) -> None:
    cluster["c"] = constraint([entry(PODS[0]), entry(PODS[1], operations=None)])
    assert install.constraint_enforced(None, "c") is True  # type: ignore[arg-type]
    cluster["c"] = constraint([entry(PODS[0]), entry(PODS[1], generation=0)])
    assert install.constraint_enforced(None, "c") is False  # type: ignore[arg-type]
    cluster["c"] = constraint([entry(PODS[0]), entry(PODS[1], operations=["audit"])])
    assert install.constraint_enforced(None, "c") is False  # type: ignore[arg-type]


def test_a_template_with_null_status_lists_is_not_ready_yet(cluster: dict[str, Any]) -> None:
    name = "k8srequirenetworkpolicy"
    cluster[name] = {"metadata": {"generation": 1}, "status": {"created": True, "byPod": None}}
    assert install.template_ready(None, name) is False  # type: ignore[arg-type]
    cluster[name]["status"]["byPod"] = [{"id": p, "observedGeneration": 1} for p in PODS]
    assert install.template_ready(None, name) is True  # type: ignore[arg-type]
    cluster[name]["status"]["byPod"][0]["errors"] = [{"message": "rego parse error"}]
    assert install.template_ready(None, name) is False  # type: ignore[arg-type]


def test_null_selector_and_sync_lists_read_as_empty() -> None:
    c = {"spec": {"match": {"namespaceSelector": {"matchExpressions": None}}}}
    assert gkstate.exemption_label(c) is None
    c = {"spec": {"match": {"namespaceSelector": None}}}
    assert gkstate.exemption_label(c) is None


def test_the_audit_lists_only_matched_kinds_every_audit_interval() -> None:
    """The install replaces the manifest's audit flags: Compliant Kubernetes' kind-only
    audit, and the short interval."""
    audit = {
        "kind": "Deployment",
        "metadata": {"name": "gatekeeper-audit"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"args": ["--operation=audit", "--audit-interval=60", "--logtostderr"]}
                    ]
                }
            }
        },
    }
    other = {"kind": "Deployment", "metadata": {"name": "gatekeeper-controller-manager"}}
    install._tune([audit, other])
    args = audit["spec"]["template"]["spec"]["containers"][0]["args"]  # type: ignore[index]
    assert args == [
        "--operation=audit",
        "--logtostderr",
        f"--audit-interval={install.AUDIT_INTERVAL}",
        "--audit-match-kind-only=true",
    ]
    assert "spec" not in other


def test_the_webhooks_are_sent_only_writes_of_the_constraints_kinds() -> None:
    """Both webhooks get CREATE and UPDATE of the matched kinds, in any API group (a
    Deployment of apps/v1 included); other webhooks of the configurations are left alone."""
    assert install.matched_resources() == [
        "pods",
        "replicationcontrollers",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "jobs",
        "cronjobs",
    ]
    for kinds in (["*"], ["Pod", "NetworkPolicy"], []):
        odd = {"spec": {"match": {"kinds": [{"apiGroups": ["*"], "kinds": kinds}]}}}
        with pytest.raises(ValueError, match="no webhook resource"):
            install.matched_resources(odd)
    every = [{"apiGroups": ["*"], "resources": ["*"], "operations": ["CREATE", "UPDATE"]}]
    validating = {
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "gatekeeper-validating-webhook-configuration"},
        "webhooks": [
            {"name": "validation.gatekeeper.sh", "rules": every},
            {"name": "check-ignore-label.gatekeeper.sh", "rules": every},
        ],
    }
    mutating = {
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "gatekeeper-mutating-webhook-configuration"},
        "webhooks": [{"name": "mutation.gatekeeper.sh", "rules": every}],
    }
    install._tune([validating, mutating])
    for hook in (validating["webhooks"][0], mutating["webhooks"][0]):  # type: ignore[index]
        (rule,) = hook["rules"]
        assert rule["apiGroups"] == ["*"] and rule["operations"] == ["CREATE", "UPDATE"]
        assert rule["resources"] == install.matched_resources()
    assert validating["webhooks"][1]["rules"] is every  # type: ignore[index]
    from npconform.model.coverage import _webhook_sees_pods

    assert _webhook_sees_pods(validating["webhooks"][0])  # type: ignore[index]
