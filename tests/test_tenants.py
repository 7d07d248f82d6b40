"""The tenant model: declared in a small YAML file, checked against its schema, one-line
errors on a bad file; namespaces placed by platform rule, explicit lists, HNC root or
label, in that order; intended cross-tenant flows matched by tenant, namespace, pods and
port."""

from __future__ import annotations

import pytest

from npconform.model.tenants import (
    PLATFORM,
    TENANT,
    TenantModel,
    TenantsError,
    hnc_root,
    load,
)

FILE = """
version: 1
tenants:
  namespaces: {shop: [shop-web, shop-db*]}
  hnc: true
  label: tenant
platform:
  labels: [owner=operator]
  namespaces: [ingress-nginx, kube-*, '*-system']
intended:
  - description: ingress controller to each tenant's web port
    from: {namespace: ingress-nginx}
    to: {tenant: "*", pods: {app: web}}
    ports: [8080/TCP]
  - description: every tenant to DNS
    from: {tenant: "*"}
    to: {platform: true, namespace: kube-system, pods: {k8s-app: kube-dns}}
    ports: [53/UDP, 53/TCP]
"""

NAMESPACES = [
    ("kube-system", {"owner": "operator"}),
    ("ingress-nginx", {}),
    ("shop-web", {"tenant": "other"}),  # the explicit list comes first
    ("shop-db-1", {}),
    ("team-a-dev", {"team-a.tree.hnc.x-k8s.io/depth": "1", "team-a-dev.tree.hnc.x-k8s.io/depth": "0"}),  # noqa: E501
    ("blog", {"tenant": "blogging"}),
    ("loose", {}),
]  # fmt: skip


def test_namespaces_are_placed_in_order() -> None:
    m = load(FILE, "t.yaml")
    got = {ns: (x.kind, x.name, x.why) for ns, x in m.assign(NAMESPACES).members.items()}
    assert got == {
        "kube-system": (PLATFORM, "", "label owner=operator"),
        "ingress-nginx": (PLATFORM, "", "platform.namespaces ingress-nginx"),
        "shop-web": (TENANT, "shop", "tenants.namespaces shop: shop-web"),
        "shop-db-1": (TENANT, "shop", "tenants.namespaces shop: shop-db*"),
        "team-a-dev": (TENANT, "team-a", "HNC tree of team-a"),
        "blog": (TENANT, "blogging", "label tenant=blogging"),
        "loose": (TENANT, "loose", "a tenant of its own"),
    }


def test_without_a_file_each_non_platform_namespace_is_its_own_tenant() -> None:
    a = TenantModel().assign(NAMESPACES).members
    assert a["kube-system"].kind == PLATFORM
    assert {ns: x.name for ns, x in a.items() if x.kind == TENANT} == {
        ns: ns for ns, _ in NAMESPACES if ns != "kube-system"
    }


def test_hnc_root_is_the_deepest_ancestor() -> None:
    labels = {
        "org.tree.hnc.x-k8s.io/depth": "2",
        "team.tree.hnc.x-k8s.io/depth": "1",
        "team-dev.tree.hnc.x-k8s.io/depth": "0",
    }
    assert hnc_root(labels) == "org"
    assert hnc_root({"app": "x"}) == ""


def test_intended_flows_match_by_tenant_namespace_pods_and_port() -> None:
    m = load(FILE, "t.yaml")
    a = m.assign(NAMESPACES).members

    def side(ns: str, labels: dict[str, str]) -> tuple:
        return (a[ns], ns, labels)

    ingress = side("ingress-nginx", {"app": "controller"})
    web = side("blog", {"app": "web"})
    db = side("blog", {"app": "db"})
    dns = side("kube-system", {"k8s-app": "kube-dns"})
    f = m.intended_flow(ingress, web, 8080, "TCP")
    assert f is not None and f.description == "ingress controller to each tenant's web port"
    assert m.intended_flow(ingress, web, 8081, "TCP") is None  # another port
    assert m.intended_flow(ingress, db, 8080, "TCP") is None  # other pods
    assert m.intended_flow(web, dns, 53, "UDP") is not None
    assert m.intended_flow(ingress, dns, 53, "UDP") is None  # the platform is no tenant
    assert m.intended_flow(side("shop-web", {"app": "web"}), web, 8080, "TCP") is None
    assert "any tenant -> the platform namespace kube-system pods k8s-app=kube-dns" in (
        m.intended[1].describe()
    )


BAD = [
    ("[1, 2]", "tenants file t.yaml: expected a mapping with version: 1"),
    ("version: 2", "tenants file t.yaml: at version: 1 was expected"),
    ("version: 1\ntenant: {label: x}", "at the top level: Additional properties are not allowed"),
    ("version: 1\ntenants: {label: 'a b'}", "at tenants.label: 'a b' is not a label key"),
    ("version: 1\nplatform: {labels: [owner]}", "at platform.labels[0]: 'owner' is not KEY=VALUE"),
    ("version: 1\nplatform: {labels: ['a/b/c=x']}", "at platform.labels[0]: 'a/b/c=x' is not"),
    ("version: 1\nintended: [{from: {tenant: a}, to: {tenant: b}, ports: [53/XDP]}]",
     "at intended[0].ports[0]: '53/XDP' is not PORT/PROTOCOL"),
    ("version: 1\nintended: [{from: {tenant: a}, to: {tenant: b}, ports: [70000/TCP]}]",
     "at intended[0].ports[0]: '70000/TCP' is not PORT/PROTOCOL: PORT 1-65535"),
    ("version: 1\nintended: [{from: {}, to: {tenant: b}}]", "at intended[0].from: {} should be non-empty"),  # noqa: E501
    ("version: 1\nintended: [{from: {platform: true, tenant: a}, to: {tenant: b}}]",
     "at intended[0].from: give platform or a tenant, not both"),
    ("version: 1\nintended: [{from: {tenant: a}, to: {pods: {}}}]", "at intended[0].to.pods: {} should be non-empty"),  # noqa: E501
    ("version: 1\ntenants: {namespaces: {Shop: [a]}}", "at tenants.namespaces: 'Shop' is not a namespace name"),  # noqa: E501
    ("version: 1\ntenants: {namespaces: {123: team-123, shop: shop-web}}", "at tenants.namespaces"),
    ("version: 1\ntenants: [", "tenants file t.yaml: not YAML at line"),
    ("version: 1\nplatform: {namespaces: ['kube*x']}", "at platform.namespaces[0]: 'kube*x' is not NAME, NAME* or *NAME"),  # noqa: E501
    ("version: 1\nplatform: {namespaces: [*-system]}", "(quote a value that starts with *, e.g. '*/UDP')"),  # noqa: E501
    ("", "tenants file t.yaml: expected a mapping with version: 1"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_file_gets_one_line(text: str, message: str) -> None:
    with pytest.raises(TenantsError) as e:
        load(text, "t.yaml")
    assert message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_the_command_refuses_a_bad_file_before_it_connects(tmp_path, capsys) -> None:
    from npconform.cli import main

    bad = tmp_path / "t.yaml"
    bad.write_text("version: 1\ntenants: {label: 'a b'}\n")
    # the kubeconfig does not exist: the file is judged first, and alone
    args = ["--kubeconfig", str(tmp_path / "none"), "tenants", "--file", str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"npconform: tenants file {bad}: at tenants.label:"), err
    assert "\n" not in err
    assert main([*args[:-1], str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("version: 1 # caf\xe9\n".encode("latin-1"))
    assert main([*args[:-1], str(latin)]) == 2
    assert capsys.readouterr().err.strip() == f"npconform: tenants file {latin}: not UTF-8 text"
    assert sorted(tmp_path.iterdir()) == sorted([bad, latin])  # nothing written


def test_an_exact_name_wins_over_a_pattern_and_a_tie_is_refused() -> None:
    m = load("version: 1\ntenants: {namespaces: {a: [shop-*], shop: [shop-db]}}", "t.yaml")
    assert m.member("shop-db", {}).name == "shop"
    assert m.member("shop-web", {}).name == "a"
    m = load("version: 1\ntenants: {namespaces: {a: [shop-*], b: ['*-db']}}", "t.yaml")
    with pytest.raises(TenantsError) as e:
        m.assign([("shop-db", {})])
    assert str(e.value) == (
        "tenants file t.yaml: namespace shop-db is in the tenants.namespaces of both "
        "a (shop-*) and b (*-db)"
    )


def test_a_namespace_of_its_own_never_joins_a_tenant_of_the_same_name() -> None:
    m = load("version: 1\ntenants: {label: tenant}", "t.yaml")
    a = m.assign([("web", {"tenant": "blog"}), ("blog", {}), ("other", {})]).members
    assert {ns: x.name for ns, x in a.items()} == {
        "web": "blog",
        "blog": "blog (own namespace)",
        "other": "other",
    }


def test_no_platform_label_when_the_file_gives_none() -> None:
    m = load("version: 1\nplatform: {labels: []}", "t.yaml")
    assert m.member("kube-system", {"owner": "operator"}).kind == TENANT
    assert "platform: none" in m.describe()
