"""The ``npconform`` command: housekeeping around the pytest suite.

npconform cleanup               remove what interrupted runs left behind
npconform verifier-kubeconfig   a kubeconfig bound to the minimal verifier ClusterRole
npconform deployed              the reachability the NetworkPolicies of namespaces imply
                                (--verify: also probe it from a short-lived pod)
npconform coverage              every namespace: covered by the require-networkpolicy
                                constraint (proven by a dry run), exempt, or unprotected
                                (exit 0 PASS, 1 FAIL: one is unprotected, 3 INCOMPLETE)
npconform install-cronjob      the suite as a CronJob inside the cluster (--dry-run: print it)
npconform uninstall-cronjob    remove it, its runs, verdicts and reports
npconform fetch-report         a scheduled run's bundle, from the cluster, checked
npconform job                  one scheduled run (the suite image's entry point)
npconform diff OLD NEW          what changed between two runs' results (exit 1: worse)
npconform verdict RESULTS       a run's verdict and controls, after checking SHA256SUMS
                                (exit 0 PASS, 1 FAIL, 3 INCOMPLETE, 4 a file was edited)

diff and verdict read results.json files (or report directories holding one) and need no
cluster.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.cluster import kube
from npconform.cluster.client import Clients, api_message
from npconform.cluster.options import PLATFORM_OPTIONS, UsageError
from npconform.resources import MANIFESTS
from npconform.scenario import externals
from npconform.verdict.rules import VERDICT_EXIT

if TYPE_CHECKING:
    from npconform.model.tenants import TenantModel

VERIFIER_NS = f"{NAME}-verifier"


def _clients(args: argparse.Namespace) -> Clients:
    kubeconfig = args.kubeconfig or Path.home() / ".kube" / "config"
    if not Path(kubeconfig).is_file():
        raise UsageError(f"kubeconfig {kubeconfig} does not exist")
    c = Clients(Path(kubeconfig), args.context)
    c.check_reachable()
    return c


def cmd_cleanup(args: argparse.Namespace) -> int:
    from npconform.deployed.twins import cleanup as cleanup_twins
    from npconform.session import cleanup_leftovers

    c = _clients(args)
    removed = cleanup_leftovers(c.kubeconfig, args.context)
    externals.stop_all()
    twins = cleanup_twins(c, "")
    print(
        f"removed {len(removed)} namespace(s): {', '.join(removed) or '-'}; "
        f"{twins} twin pod(s) and ConfigMap(s) of `deployed --verify`"
    )
    return 0


def cmd_verifier_kubeconfig(args: argparse.Namespace) -> int:
    """Create the verifier ClusterRole(s), a ServiceAccount bound to them, and write a
    kubeconfig that authenticates as that ServiceAccount (token valid ``--hours``)."""
    c = _clients(args)
    docs = kube.load_documents((MANIFESTS / "rbac" / "npconform-verifier.yaml").read_text())
    roles = ["npconform-verifier"] + (["npconform-verifier-modes"] if args.modes else [])
    ns_doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": VERIFIER_NS}}
    sa = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "verifier", "namespace": VERIFIER_NS},
    }
    bindings = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "verifier", "namespace": VERIFIER_NS}],
        }
        for role in roles
    ]
    kube.apply(c, [*docs, ns_doc, sa, *bindings])
    tr = client.CoreV1Api(c.api()).create_namespaced_service_account_token(
        "verifier", VERIFIER_NS, {"spec": {"expirationSeconds": int(args.hours * 3600)}}
    )
    token = tr.status.token
    cfg = c.api().configuration
    ca = Path(cfg.ssl_ca_cert).read_bytes() if cfg.ssl_ca_cert else b""
    kc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "target",
                "cluster": {
                    "server": cfg.host,
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": "npconform-verifier", "user": {"token": token}}],
        "contexts": [
            {
                "name": "npconform-verifier",
                "context": {"cluster": "target", "user": "npconform-verifier"},
            }
        ],
        "current-context": "npconform-verifier",
    }
    args.out.write_text(yaml.safe_dump(kc))
    args.out.chmod(0o600)
    print(f"wrote {args.out}: ServiceAccount {VERIFIER_NS}/verifier bound to {', '.join(roles)}")
    return 0


def cmd_deployed(args: argparse.Namespace) -> int:
    from npconform.deployed import twins
    from npconform.deployed.read import read_state
    from npconform.model.isolation import compute
    from npconform.model.tenants import TenantsError, default_model
    from npconform.verdict.rules import worst

    model = read_tenants(args.tenants) if args.tenants else default_model()
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"{args.json}: no such directory {args.json.parent}")
    for bound in ("max_probes", "max_twins"):
        if getattr(args, bound) < 1:
            raise UsageError(f"--{bound.replace('_', '-')} must be at least 1")
    if args.only and not args.verify and not args.plan:
        raise UsageError("--only selects probes: use it with --verify or --plan")
    for item in args.only:
        src, sep, rest = item.partition(">")
        if not sep or "/" not in src or ":" not in rest or not rest.rpartition(":")[2].isdigit():
            raise UsageError(f"--only {item!r}: expected NS/POD>NS/POD:PORT")
    c = _clients(args)
    progress = _progress if sys.stderr.isatty() else None
    try:
        state = read_state(c, args.namespaces, args.namespace_selector, progress=progress)
        iso = compute(state, model)
    except (LookupError, ValueError) as e:
        raise UsageError(str(e).strip("'\"")) from None
    except TenantsError as e:
        raise UsageError(str(e)) from None
    doc = iso.to_json()
    print(isolation_text(doc))
    status = VERDICT_EXIT[iso.verdict]
    if args.verify or args.plan:
        from npconform.lock import load

        image = args.probe_image or load().image("agnhost")
        try:
            plan = twins.make_plan(
                iso,
                args.max_twins,
                args.max_probes,
                args.timeout,
                args.only,
                reject=args.deny_response == "reject",
            )
        except ValueError as e:
            raise UsageError(str(e)) from None
        print()
        if args.plan:
            print(twins.describe_plan(plan, iso, image))
        else:
            base = [NAME, "deployed", "--kubeconfig", str(c.kubeconfig)]
            base += ["--context", args.context] if args.context else []
            base += ["--tenants", str(args.tenants)] if args.tenants else []
            if args.namespace_selector:
                base += ["--namespace-selector", args.namespace_selector]
            base += list(args.namespaces)
            out = twins.run(
                c, iso, plan, image, twins.repeat_command(base), say=lambda m: print(m, flush=True)
            )
            print(out.text())
            doc["verification"] = out.to_json()
            status = VERDICT_EXIT[worst([iso.verdict, out.verdict])]
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return status


def isolation_text(doc: dict[str, Any]) -> str:
    inv = doc["inventory"]
    lines = [
        f"scope: {doc['scope']}; {doc['tenantModel']}",
        f"{inv['namespaces']} namespace(s), {inv['pods']} running pod(s) in {inv['classes']} "
        f"class(es), {inv['policies']} NetworkPolicy(ies), {inv['tenants']} tenant(s); "
        f"computed in {doc['seconds']:.2f} s",
    ]
    cells = [c for c in doc["matrix"]["cells"] if c["unintended"] or c["intended"]]
    if cells:
        lines.append("tenant -> tenant (class cells: unintended / intended):")
        for cell in cells:
            lines.append(
                f"  {cell['source']} -> {cell['target']}: {cell['unintended']} / {cell['intended']}"
            )
    for f in doc["findings"]:
        if f["kind"] == "unreadable":
            continue  # said below, as INCOMPLETE
        by = f" [opened by: {'; '.join(f['openedBy'])}]" if f["openedBy"] else ""
        lines.append(f"{f['severity']} {f['kind']}: {f['subject']}: {f['message']}{by}")
    for u in doc["unreadable"]:
        lines.append(f"INCOMPLETE: namespace {u['namespace']} could not be read: {u['why']}")
    n = doc["counts"]
    lines.append(
        f"isolation: {doc['verdict']} ({n['FAIL']} FAIL, {n['WARN']} WARN, {n['INFO']} INFO)"
        + ("; nothing was examined: no running pod in scope" if not inv["pods"] else "")
    )
    return "\n".join(lines)


def _progress(what: str, n: int) -> None:
    print(f"{NAME} coverage: read {n} {what} so far", file=sys.stderr, flush=True)


def cmd_coverage(args: argparse.Namespace) -> int:
    import secrets

    from npconform.gatekeeper import coverage as gkcov
    from npconform.model.coverage import Snapshot, compute, platform_rule
    from npconform.report.coverage import text

    try:
        rule = platform_rule(args.platform_label, args.platform_namespace)
    except ValueError as e:
        raise UsageError(str(e)) from None
    from npconform.model.rbac import check_subject

    try:
        for subject in args.platform_subject:
            check_subject(subject)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.budget <= 0:
        raise UsageError("--budget must be positive")
    for out in (args.json, args.save_snapshot):
        if out is not None and not out.parent.is_dir():
            raise UsageError(f"{out}: no such directory {out.parent}")
    if args.snapshot is not None:
        try:
            snap = Snapshot.from_json(json.loads(args.snapshot.read_text(encoding="utf-8")))
            cov = compute(snap, rule)
        except OSError as e:
            raise UsageError(f"{args.snapshot}: cannot read: {e.strerror or e}") from None
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise UsageError(f"{args.snapshot}: not a coverage snapshot: {e}") from None
    else:
        c = _clients(args)
        from npconform.lock import load

        image = args.probe_image or load().image("agnhost")
        progress = _progress if sys.stderr.isatty() or args.progress else None
        snap, cov = gkcov.survey(
            c,
            image,
            secrets.token_hex(3),
            rule,
            live=not args.no_live,
            progress=progress,
            budget=args.budget,
        )
        if not args.no_rbac:
            from npconform.gatekeeper import switches
            from npconform.platform.inventory import identity

            runner = str((identity(c).get("user") or {}).get("username") or "")
            switches.examine(c, cov, args.platform_subject, progress=progress, runner=runner)
    doc = cov.to_json()
    print(text(doc))
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.save_snapshot is not None:
        args.save_snapshot.write_text(json.dumps(snap.to_json()) + "\n")
    return VERDICT_EXIT[cov.verdict]


def read_tenants(path: Path | None) -> TenantModel:
    """The declared tenant model (none given: each non-platform namespace its own)."""
    from npconform.cluster.options import read_tenants as read
    from npconform.model.tenants import TenantModel

    return TenantModel() if path is None else read(path)


def cmd_tenants(args: argparse.Namespace) -> int:
    from npconform.gatekeeper.coverage import pages
    from npconform.model.tenants import PLATFORM, TenantsError

    model = read_tenants(args.file)
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"{args.json}: no such directory {args.json.parent}")
    c = _clients(args)
    progress = _progress if sys.stderr.isatty() else None
    namespaces = [
        (n["metadata"]["name"], dict(n["metadata"].get("labels") or {}))
        for n in pages(c.core().list_namespace, "namespaces", progress)
    ]
    try:
        a = model.assign(namespaces)
    except TenantsError as e:
        raise UsageError(str(e)) from None
    rows = [("NAMESPACE", "BELONGS TO", "BECAUSE")] + [
        (ns, "platform" if m.kind == PLATFORM else f"tenant {m.name}", m.why)
        for ns, m in sorted(a.members.items())
    ]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    print(model.describe())
    for r in rows:
        print(f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]}")
    tenants = a.tenants()
    print(
        f"{len(tenants)} tenant(s) over {sum(map(len, tenants.values()))} namespace(s); "
        f"{len(a.platform())} platform namespace(s)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(a.to_json(), indent=2) + "\n")
    return 0


RESULTS_FILE = "results.json"
#: Exit status of ``verdict`` per verdict, and when a file of the bundle was edited.
EDITED_EXIT = 4


def _results_path(arg: str) -> Path:
    """A results.json path, or a report directory that holds one."""
    p = Path(arg)
    if p.is_dir():
        p = p / RESULTS_FILE
        if not p.is_file():
            raise UsageError(f"{arg}: a directory without a {RESULTS_FILE}")
    elif not p.is_file():
        raise UsageError(f"{arg}: no such file")
    return p


def _load_results(path: Path) -> dict[str, Any]:
    """A finalized results document, checked against its schema."""
    from npconform.report.schema import validate

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise UsageError(f"{path}: not JSON: {e}") from None
    errors = validate(doc)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UsageError(f"{path}: not a valid results document: {errors[0]}{more}")
    assert isinstance(doc, dict)
    return doc


def cmd_diff(args: argparse.Namespace) -> int:
    from npconform.report.diff import diff

    old = _load_results(_results_path(args.old))
    new = _load_results(_results_path(args.new))
    d = diff(old, new)
    print(d.text())
    return 1 if d.worse else 0


def cmd_fleet(args: argparse.Namespace) -> int:
    from npconform.report.fleet import fleet, render_fleet

    if not args.out.parent.is_dir():
        raise UsageError(f"{args.out}: no such directory {args.out.parent}")
    docs = [(str(p), _load_results(p)) for p in (_results_path(a) for a in args.reports)]
    f = fleet(docs)
    args.out.write_text(render_fleet(f), encoding="utf-8")
    print(f.text())
    print(f"wrote {args.out}")
    return VERDICT_EXIT.get(f.verdict, 3)


def _after_dashes(rest: list[str], command: str) -> list[str]:
    """pytest's arguments, which must follow ``--`` (else an option of the command given
    after them would silently go to pytest)."""
    if rest and rest[0] != "--":
        raise UsageError(f"{command}: pytest arguments go after --: {' '.join(rest)}")
    return rest[1:]


def _install_options(args: argparse.Namespace) -> Any:
    from npconform.incluster.install import Install
    from npconform.lock import load

    extra = _after_dashes(args.pytest_args, "install-cronjob")
    inst = Install(
        namespace=args.namespace,
        schedule=args.schedule,
        image=args.image or "",
        modes=args.modes,
        fail_on=args.fail_on,
        keep=args.keep,
        pvc=args.pvc or "",
        deadline=args.deadline,
        pytest_args=extra,
        namespace_labels=list(args.namespace_label),
    )
    inst.validate(load())
    return inst


def cmd_install_cronjob(args: argparse.Namespace) -> int:
    from npconform.incluster.install import apply, check_image, check_namespace, render, to_yaml
    from npconform.lock import load

    inst = _install_options(args)
    docs = render(inst)
    if args.dry_run:
        print(to_yaml(docs), end="")
        return 0
    check_image(inst, load())
    c = _clients(args)
    check_namespace(c, inst.namespace)
    apply(c, docs)
    print(
        f"installed CronJob {inst.namespace}/{NAME} ({inst.schedule!r}, image {inst.image}, "
        f"bound to {', '.join(inst.bindings())}); run it now with: kubectl -n {inst.namespace} "
        f"create job --from=cronjob/{NAME} {NAME}-manual; its verdict: kubectl -n "
        f"{inst.namespace} get configmap {NAME}-verdict -L npconform.io/verdict"
    )
    return 0


def cmd_uninstall_cronjob(args: argparse.Namespace) -> int:
    from npconform.incluster.install import uninstall

    gone = uninstall(_clients(args), args.namespace)
    print(f"deleted: {', '.join(gone) or 'nothing (not installed)'}")
    return 0


def cmd_fetch_report(args: argparse.Namespace) -> int:
    from npconform.incluster.publish import FetchError, fetch, runs

    c = _clients(args)
    try:
        if args.list:
            for s in runs(c, args.namespace):
                print(f"{s.run}  {s.finished}  {s.verdict}  sha256:{s.sha256}")
            return 0
        run, files, summary = fetch(c, args.namespace, args.run, args.out)
    except FetchError as e:
        print(f"{NAME}: {e}", file=sys.stderr)
        return EDITED_EXIT if e.corrupt else 2
    last = " (the last run)" if summary.run == run else ""
    print(f"wrote {args.out}: {', '.join(files)} of run {run}{last}; SHA256SUMS checked")
    if summary.run == run:
        print(f"{summary.verdict}: {summary.reason}")
    return 0


def cmd_job(args: argparse.Namespace) -> int:
    from npconform.incluster import job

    extra = _after_dashes(args.pytest_args, "job")
    return job.main(args.report_dir, args.fail_on, args.keep, extra, args.namespace)


def cmd_verdict(args: argparse.Namespace) -> int:
    """The recorded verdict and controls; first, when the bundle's SHA256SUMS is next to
    the results, that no file it lists was edited."""
    from npconform.report.bundle import MANIFEST, verify_manifest

    path = _results_path(args.results)
    manifest = path.parent / MANIFEST
    if manifest.is_file():
        try:
            edited = verify_manifest(path.parent)
        except (OSError, ValueError) as e:
            raise UsageError(f"{manifest}: cannot be checked: {e}") from None
        if edited:
            print(
                f"{NAME}: {manifest}: edited or missing since the bundle was written: "
                + ", ".join(edited),
                file=sys.stderr,
            )
            return EDITED_EXIT
    doc = _load_results(path)
    print(f"{doc['verdict']}: {doc['verdict_reason']}")
    for c in doc["controls"]:
        print(f"  {c['id']} {c['title']}: {c['verdict']}")
    return VERDICT_EXIT[doc["verdict"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=NAME, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--kubeconfig", type=Path, default=None)
    ap.add_argument("--context", default=None)
    # the same options are accepted after the command too (`npconform cleanup --kubeconfig K`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--context", default=argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser(
        "cleanup",
        parents=[common],
        help="remove namespaces and hosts that interrupted runs left behind",
    )
    vk = sub.add_parser(
        "verifier-kubeconfig",
        parents=[common],
        help="kubeconfig bound to the minimal verifier ClusterRole",
    )
    vk.add_argument("--out", type=Path, required=True)
    vk.add_argument("--hours", type=float, default=24)
    vk.add_argument(
        "--modes", action="store_true", help="also allow switching the constraint's mode"
    )
    dp = sub.add_parser(
        "deployed",
        parents=[common],
        help="tenant isolation of what is deployed: computed for every pod class, "
        "optionally proven on live traffic from twin pods",
    )
    dp.add_argument("namespaces", nargs="*", help="only these namespaces (default: all)")
    dp.add_argument(
        "--tenants", type=Path, default=None, help="tenants file (README: Tenants, declared)"
    )
    dp.add_argument("--namespace-selector", default="", help="only namespaces with these labels")
    dp.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    mode = dp.add_mutually_exclusive_group()
    mode.add_argument(
        "--verify",
        action="store_true",
        help="probe from twins of the tenants' pods (sends traffic to the cluster's pods: "
        "opt-in; creates short-lived pods and ConfigMaps: README, Tenant isolation)",
    )
    mode.add_argument(
        "--plan",
        action="store_true",
        help="print every probe and object --verify would create; send and create nothing",
    )
    dp.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NS/POD>NS/POD:PORT",
        help="verify only this probe (repeatable)",
    )
    dp.add_argument("--max-probes", type=int, default=2000, help="refuse a larger plan")
    dp.add_argument("--max-twins", type=int, default=100, help="refuse a larger plan")
    dp.add_argument("--probe-image", default=None, help="image of the twins (agnhost)")
    dp.add_argument("--timeout", type=float, default=1.0, help="per-probe timeout, seconds")
    dp.add_argument(
        "--deny-response",
        choices=("drop", "reject"),
        default="drop",
        help="what the CNI does with denied traffic: drop (Calico, Cilium: only a timeout is "
        "blocked) or reject (kube-router: a refusal is blocked too)",
    )
    cv = sub.add_parser(
        "coverage",
        parents=[common],
        help="every namespace: covered by the constraint, exempt, or unprotected",
    )
    for flag, metavar, text in PLATFORM_OPTIONS:
        cv.add_argument(flag, action="append", default=[], metavar=metavar, help=text)
    cv.add_argument(
        "--no-rbac",
        action="store_true",
        help="do not examine who can switch the safeguard off (RBAC)",
    )
    cv.add_argument(
        "--no-live",
        action="store_true",
        help="compute only: no dry run (the verdict is then at best INCOMPLETE)",
    )
    cv.add_argument("--probe-image", default=None, help="image of the dry-run Pod (agnhost)")
    cv.add_argument(
        "--budget", type=float, default=120.0, help="seconds for all dry runs (default 120)"
    )
    cv.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    cv.add_argument(
        "--save-snapshot", type=Path, default=None, help="write the objects read as JSON here"
    )
    cv.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        help="compute from a saved snapshot instead of a cluster (nothing is probed)",
    )
    cv.add_argument("--progress", action="store_true", help="report long reads on stderr")
    tn = sub.add_parser(
        "tenants",
        parents=[common],
        help="which tenant (or the platform) each namespace belongs to, by a tenants file",
    )
    tn.add_argument(
        "--file",
        type=Path,
        default=None,
        help="the tenants file (YAML; default: each non-platform namespace its own tenant)",
    )
    tn.add_argument("--json", type=Path, default=None, help="write the assignment as JSON here")
    ic = sub.add_parser(
        "install-cronjob",
        parents=[common],
        help="run the suite inside the cluster on a schedule (README: Continuous verification)",
    )
    ic.add_argument("--namespace", default=NAME, help=f"its namespace (default {NAME})")
    ic.add_argument(
        "--namespace-label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label its namespace (repeatable): the platform rule's label, e.g. owner=operator "
        "on Welkin, so that the coverage check counts its ServiceAccount as the platform's",
    )
    ic.add_argument(
        "--schedule", default="17 2 * * *", help="cron schedule (default nightly, 02:17)"
    )
    ic.add_argument(
        "--image", default=None, help="the suite image (default: npconform:<version>, offline)"
    )
    ic.add_argument(
        "--modes",
        action="store_true",
        help="also bind npconform-verifier-modes and pass --allow-cluster-changes (ADM-MODES "
        "switches the constraint through deny, warn and dryrun, and restores it)",
    )
    ic.add_argument(
        "--fail-on",
        choices=("fail", "incomplete"),
        default="fail",
        help="which verdicts fail the Job (default fail: FAIL only; incomplete: also INCOMPLETE)",
    )
    ic.add_argument("--keep", type=int, default=7, help="runs whose bundle is kept (default 7)")
    ic.add_argument("--pvc", default=None, help="keep the bundle on this claim too")
    ic.add_argument(
        "--deadline", type=int, default=3600, help="seconds a run may take (default 3600)"
    )
    ic.add_argument("--dry-run", action="store_true", help="print the objects; contact no cluster")
    ic.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="after --: extra pytest arguments"
    )
    uc = sub.add_parser(
        "uninstall-cronjob", parents=[common], help="remove the CronJob, its runs and reports"
    )
    uc.add_argument("--namespace", default=NAME)
    fr = sub.add_parser(
        "fetch-report",
        parents=[common],
        help="a scheduled run's bundle from the cluster, its hashes checked",
    )
    fr.add_argument("--namespace", default=NAME)
    fr.add_argument("--run", default="", help="this run's bundle (default: the last run's)")
    fr.add_argument("--out", type=Path, default=Path("reports/in-cluster"))
    fr.add_argument("--list", action="store_true", help="list the runs whose bundle is kept")
    jb = sub.add_parser("job", help="one scheduled run, inside the cluster (the image's entry)")
    jb.add_argument("--report-dir", type=Path, default=Path("/reports"))
    jb.add_argument("--namespace", default="", help="where to publish (default $POD_NAMESPACE)")
    jb.add_argument("--fail-on", choices=("fail", "incomplete"), default="fail")
    jb.add_argument("--keep", type=int, default=7)
    jb.add_argument("pytest_args", nargs=argparse.REMAINDER)
    # diff and verdict read files only: no kubeconfig, no cluster
    fl = sub.add_parser(
        "fleet",
        help="one page for many clusters: the newest results of each, cluster x control, "
        "and what changed since its previous report (exit: the worst verdict)",
    )
    fl.add_argument("reports", nargs="+", help="results.json files or report directories")
    fl.add_argument("--out", type=Path, default=Path("fleet.html"), help="the page to write")
    df = sub.add_parser("diff", help="what changed between two runs' results (exit 1: worse)")
    df.add_argument("old", help="results.json of the earlier run (or its report directory)")
    df.add_argument("new", help="results.json of the later run (or its report directory)")
    vd = sub.add_parser(
        "verdict",
        help="a run's verdict and controls (exit 0 PASS, 1 FAIL, 3 INCOMPLETE, 4 edited)",
    )
    vd.add_argument("results", help="results.json (or the report directory holding it)")
    args = ap.parse_args(argv)
    try:
        return {
            "cleanup": cmd_cleanup,
            "verifier-kubeconfig": cmd_verifier_kubeconfig,
            "deployed": cmd_deployed,
            "coverage": cmd_coverage,
            "tenants": cmd_tenants,
            "diff": cmd_diff,
            "fleet": cmd_fleet,
            "verdict": cmd_verdict,
            "install-cronjob": cmd_install_cronjob,
            "uninstall-cronjob": cmd_uninstall_cronjob,
            "fetch-report": cmd_fetch_report,
            "job": cmd_job,
        }[args.cmd](args)
    except UsageError as e:
        print(f"{NAME}: {e}", file=sys.stderr)
        return 2
    except ApiException as e:
        print(f"{NAME}: the API server answered HTTP {e.status}: {api_message(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
