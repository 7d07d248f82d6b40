"""npconform's pytest plugin: options, the run's session, fixtures. Glue only.

The conformance suite (``suites/``) and the end-to-end tests (``tests/e2e``) call
``start_session`` from their conftest's ``pytest_sessionstart``: the cluster is created
once per run on the controller, even under ``-n N``, and workers receive its state file.
Fast unit tests never touch a cluster.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from npconform import NAME
from npconform.cluster.client import forbidden
from npconform.cluster.options import (
    CNI_DENY_RESPONSE,
    CNIS,
    DENY_RESPONSES,
    ENFORCEMENT,
    IMAGE_SOURCES,
    PLATFORM_OPTIONS,
    PROBE_TARGETS,
    PROBE_TIMEOUT,
    TARGETS,
    RunOptions,
    UsageError,
)
from npconform.deployed.read import IsolationUndetermined
from npconform.gatekeeper.coverage import CoverageUndetermined
from npconform.lock import load
from npconform.model.pairing import PairingError
from npconform.platform import inventory
from npconform.platform.target import RunState
from npconform.probe.script import ProbeError
from npconform.report.bundle import write_bundle
from npconform.report.collect import Collector, append_evidence, build, write_collection
from npconform.report.document import dumps_results
from npconform.report.terminal import summary_table
from npconform.scenario.world import ScenarioError
from npconform.session import Session, attach, workdir_for

_STATE_KEY = "npconform_state_file"
_SESSION = pytest.StashKey[Session]()
_STATE = pytest.StashKey[RunState]()
_COLLECTED = pytest.StashKey[dict[str, Any]]()
#: Exceptions that mean the test could not measure: errors of the test, never verdicts.
_TEST_ERRORS = (
    ProbeError,
    ScenarioError,
    PairingError,
    CoverageUndetermined,
    IsolationUndetermined,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup(NAME, "npconform: NetworkPolicy safeguard conformance")
    g.addoption(
        "--target",
        choices=TARGETS,
        default="kind",
        help="kind: create a kind cluster (default); existing: use --kubeconfig; in-cluster: "
        "run inside a pod of the cluster, as its service account (npconform install-cronjob)",
    )
    g.addoption(
        "--kubeconfig",
        dest="npc_kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig of an existing cluster (default: $KUBECONFIG or ~/.kube/config)",
    )
    g.addoption("--context", dest="npc_context", default=None, help="kubeconfig context")
    g.addoption(
        "--cni",
        default=os.environ.get("NPCONFORM_CNI", "calico"),
        help=f"CNI for kind clusters: {', '.join(CNIS)} (default calico)",
    )
    g.addoption(
        "--no-cni-firewall",
        action="store_true",
        help="fault injection: install the CNI with NetworkPolicy enforcement off "
        "(kube-router without its firewall)",
    )
    g.addoption("--node-image", default=None, help="kind node image (default: versions.toml)")
    g.addoption(
        "--kind-workers",
        "--workers",
        dest="workers",
        type=int,
        default=2,
        help="kind worker nodes (default 2; not pytest-xdist's -n)",
    )
    g.addoption("--cluster-name", default=NAME, help="kind cluster name")
    g.addoption("--keep-cluster", action="store_true", help="do not delete the kind cluster")
    g.addoption(
        "--reuse-cluster",
        action="store_true",
        help="run on an existing kind cluster of that name instead of refusing",
    )
    g.addoption(
        "--images",
        choices=IMAGE_SOURCES,
        default=os.environ.get("NPCONFORM_IMAGES", "auto"),
        help="offline: every image from the local mirror (fail early if any is missing); "
        "online: pull upstream; auto (default): offline when the mirror has them all",
    )
    g.addoption("--probe-image", default=None, help="probe pod image (default: pinned agnhost)")
    g.addoption(
        "--probe-timeout",
        type=float,
        default=PROBE_TIMEOUT,
        help=f"seconds a TCP or DNS probe waits; UDP twice that (default {PROBE_TIMEOUT}; "
        "a probe image without npconform's probe program rounds up to whole seconds)",
    )
    g.addoption(
        "--probe-target",
        choices=PROBE_TARGETS,
        default="pod",
        help="probe pods by pod IP (default), Service ClusterIP, or both",
    )
    g.addoption(
        "--deny-response",
        choices=DENY_RESPONSES,
        default=None,
        help="what the CNI does with denied traffic: drop (the probe times out; Calico, "
        "Cilium) or reject (a reset or ICMP unreachable; kube-router). Only with reject does "
        "a refused probe count as blocked. Default: the documented behaviour of the CNI a "
        "kind run installs, else drop",
    )
    g.addoption(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        help="where junit.xml, results.json and report.html go (default reports/)",
    )
    g.addoption(
        "--expect-enforcement",
        choices=ENFORCEMENT,
        default=None,
        help="enforcement action the constraint must have (kind default: deny; "
        "existing default: any, which asserts and reports the observed one)",
    )
    g.addoption(
        "--allow-cluster-changes",
        action="store_true",
        help="existing clusters: allow changes to cluster-scoped objects "
        "(the constraint's mode for warn/dryrun checks)",
    )
    g.addoption(
        "--generated-cases",
        type=int,
        default=5,
        help="generated policy cases checked against the oracle (default 5)",
    )
    g.addoption("--seed", type=int, default=None, help="seed of the generated cases")
    g.addoption("--run-id", default=None, help="run id (default: random)")
    for flag, metavar, text in PLATFORM_OPTIONS:
        g.addoption(flag, action="append", default=[], metavar=metavar, help=text)
    g.addoption(
        "--tenants",
        default="",
        metavar="FILE",
        help="the tenants file of the cluster's own workloads (README: Tenants, declared; default: "
        "the platform rule above plus the constraint's excludedNamespaces, each other "
        "namespace a tenant of its own)",
    )


def options_from(config: pytest.Config) -> RunOptions:
    o = config.option
    target = o.target
    expected = o.expect_enforcement or ("deny" if target == "kind" else "any")
    opts = RunOptions(
        target=target,
        kubeconfig=o.npc_kubeconfig,
        context=o.npc_context,
        cni=o.cni,
        cni_firewall=not o.no_cni_firewall,
        node_image=o.node_image,
        workers=o.workers,
        cluster_name=o.cluster_name,
        keep_cluster=o.keep_cluster,
        reuse_cluster=o.reuse_cluster,
        images=o.images,
        probe_image=o.probe_image,
        probe_timeout=o.probe_timeout,
        probe_target=o.probe_target,
        deny_response=o.deny_response
        or (CNI_DENY_RESPONSE.get(o.cni, "drop") if target == "kind" else "drop"),
        report_dir=o.report_dir,
        expect_enforcement=expected,
        allow_cluster_changes=o.allow_cluster_changes or target == "kind",
        generated_cases=o.generated_cases,
        seed=o.seed if o.seed is not None else int.from_bytes(os.urandom(2), "big"),
        platform_labels=list(o.platform_label),
        platform_namespaces=list(o.platform_namespace),
        platform_subjects=list(o.platform_subject),
        tenants=o.tenants,
    )
    if o.run_id is not None:
        opts.run_id = o.run_id
    return opts


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput and _STATE_KEY in workerinput:
        config.stash[_STATE] = attach(Path(workerinput[_STATE_KEY]))
    if workerinput is None and config.option.xmlpath is None and _is_conformance(config):
        report_dir: Path = config.option.report_dir
        report_dir.mkdir(parents=True, exist_ok=True)
        config.option.xmlpath = str(report_dir / "junit.xml")


def _is_conformance(config: pytest.Config) -> bool:
    """Whether the run includes the conformance suite or end-to-end tests."""
    root = Path(str(config.rootpath))
    roots = [root / "suites", root / "tests" / "e2e", root / "tests" / "faults"]
    args = [Path(a.split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    return any(a == r or r in a.parents or a in r.parents for a in args for r in roots)


def start_session(session: pytest.Session) -> None:
    """Called from suites/ and tests/e2e conftests: bring the target up (controller only)."""
    config = session.config
    if getattr(config, "workerinput", None) is not None or _SESSION in config.stash:
        return
    if config.option.collectonly:
        return
    opts = options_from(config)
    s = Session(opts, workdir_for(opts.report_dir, opts.run_id).resolve())
    config.stash[_SESSION] = s
    config.pluginmanager.register(_Reporter(), "npconform-reporter")
    try:
        config.stash[_STATE] = s.start()
    except UsageError as e:
        raise pytest.UsageError(f"{NAME}: {e}") from None
    except Exception as e:
        denied = forbidden(e)
        if denied:
            raise pytest.UsageError(f"{NAME}: missing permission: {denied}") from None
        raise pytest.UsageError(
            f"{NAME}: platform set-up failed: {type(e).__name__}: {e}{raised_at(e)}"
        ) from None


def raised_at(e: BaseException) -> str:
    """Where in npconform an unexpected error was raised, for the one-line message."""
    frames = traceback.extract_tb(e.__traceback__)
    own = [f for f in frames if f"{os.sep}npconform{os.sep}" in f.filename]
    if not own:
        return ""
    f = own[-1]
    return f" (raised in {f.name}, {Path(f.filename).name}:{f.lineno})"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    session = node.config.stash.get(_SESSION, None)
    if session is not None and session.state is not None:
        node.workerinput[_STATE_KEY] = str(session.state_file)


# ---- what was collected, deselected and narrowed: every process records its own -------


def check_of(item: pytest.Item) -> str:
    m = item.get_closest_marker("check")
    return str(m.args[0]) if m is not None and m.args else ""


def _narrowing_args(config: pytest.Config) -> list[tuple[str, str]]:
    """(file name, function) of every node-id argument naming some parameters only."""
    out = []
    for a in config.args:
        if "::" in a and "[" in a:
            path, rest = a.split("::", 1)
            out.append((Path(path).name, rest.split("[", 1)[0].split("::")[-1]))
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before -k/-m deselection: every collected item and its check id."""
    narrowing = _narrowing_args(config)
    collected, narrowed = [], set()
    for item in items:
        check = check_of(item)
        item.user_properties.append(("check", check))
        collected.append({"nodeid": item.nodeid, "check": check})
        file, _, func = item.nodeid.partition("::")
        func = func.split("[", 1)[0].split("::")[-1]
        if (Path(file).name, func) in narrowing and check:
            narrowed.add(check)
    config.stash[_COLLECTED] = {
        "args": list(config.args),
        "collected": collected,
        "deselected": [],
        "narrowed": sorted(narrowed),
    }


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        record = items[0].config.stash.get(_COLLECTED, None)
        if record is not None:
            record["deselected"] += [i.nodeid for i in items]


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    record = session.config.stash.get(_COLLECTED, None)
    if state is not None and record is not None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        write_collection(state.evidence_dir, worker, record)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test that could not measure (a probe that could not run, a scenario that cannot
    be evidence) is marked so: an error of the test, never a verdict."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None:
        return
    if call.excinfo.errisinstance(_TEST_ERRORS):
        report.user_properties = [
            *report.user_properties,
            ("test_error", call.excinfo.typename),
        ]
        return
    denied = forbidden(call.excinfo.value)
    if denied:  # the run lacks a permission: it could not measure, it did not find a fault
        report.user_properties = [
            *report.user_properties,
            ("test_error", "Forbidden"),
            ("test_error_message", f"missing permission: {denied}"),
        ]


class _Reporter:
    """Controller-side: collects every test's outcome for the results document."""

    def __init__(self) -> None:
        self.collector = Collector()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        message = ""
        if report.failed:
            message = report.longreprtext[-6000:]
        elif report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        self.collector.add(
            report.nodeid,
            report.when,
            report.outcome,
            report.duration,
            report.keywords,
            message,
            report.user_properties,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    s = session.config.stash.get(_SESSION, None)
    if s is None:
        return
    try:
        reporter = session.config.pluginmanager.get_plugin("npconform-reporter")
        if isinstance(reporter, _Reporter):
            cleanup = s.cleanup()
            end = None
            if s.state is not None:
                try:
                    end = inventory.safeguard_objects(s.state.clients())
                except Exception:  # the cluster may be gone: nothing to compare
                    end = None
            results = build(
                s.state.to_json() if s.state else None,
                reporter.collector,
                " ".join(["pytest", *sys.argv[1:]]),
                exit_status=int(exitstatus),
                interrupted=int(exitstatus) == int(pytest.ExitCode.INTERRUPTED),
                cleanup=cleanup,
                artifacts_end=end,
                probe_image=load().image("agnhost"),
            )
            tr = session.config.pluginmanager.get_plugin("terminalreporter")
            try:
                paths = write_bundle(results, s.opts.report_dir)
            except Exception as e:  # the run's evidence must never be lost to a rendering bug
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
                (s.opts.report_dir / "results.raw.json").write_text(dumps_results(results))
                if tr is not None:
                    tr.write_line(
                        f"{NAME}: writing the evidence bundle failed ({type(e).__name__}: {e}); "
                        f"the raw results are in {s.opts.report_dir / 'results.raw.json'}"
                    )
                return
            if tr is not None:
                tr.write_sep("=", "npconform summary")
                tr.write_line(summary_table(results))
                tr.write_line(f"evidence bundle: {', '.join(str(p) for p in paths.values())}")
    finally:
        s.finish()


@pytest.fixture
def record_evidence(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Any:
    """``record(type, data)``: evidence for the report (scenario matrices, admission rows,
    audit violations, things not tested). Written when the test ends."""
    items: list[tuple[str, Any]] = []
    yield lambda kind, data: items.append((kind, data))
    state = pytestconfig.stash.get(_STATE, None)
    if state is not None and items:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        append_evidence(state.evidence_dir, worker, request.node.nodeid, items)


@pytest.fixture(autouse=True)
def network_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on the cluster holds the run's network lock shared, so no traffic verdict
    is taken while a test marked ``mutates_network`` holds it exclusively (around a
    cluster-wide change of what the network lets through)."""
    node = request.node
    state = run_state_of(request.config)
    if (
        state is None
        or node.get_closest_marker("cluster") is None
        or node.get_closest_marker("mutates_network") is not None
    ):
        yield
        return
    with state.network_lock(exclusive=False):
        yield


def run_state_of(config: pytest.Config) -> RunState | None:
    """The run's state (None when no cluster was brought up, e.g. --collect-only)."""
    return config.stash.get(_STATE, None)


@pytest.fixture(scope="session")
def run_state(pytestconfig: pytest.Config) -> RunState:
    state = pytestconfig.stash.get(_STATE, None)
    if state is None:
        pytest.fail("no cluster for this run: conformance tests run from suites/ or tests/e2e")
    return state
