"""npconform's pytest plugin: options, the run's session, fixtures. Glue only.

The conformance suite (``suites/``) and the end-to-end tests (``tests/e2e``) call
``start_session`` from their conftest's ``pytest_sessionstart``: the cluster is created
once per run on the controller, even under ``-n N``, and workers receive its state file.
Fast unit tests never touch a cluster.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from npconform import NAME
from npconform.cluster.options import (
    CNIS,
    ENFORCEMENT,
    IMAGE_SOURCES,
    PROBE_TARGETS,
    TARGETS,
    RunOptions,
    UsageError,
)
from npconform.report.bundle import write_bundle
from npconform.report.collect import Collector, append_evidence, build
from npconform.report.terminal import summary_table
from npconform.session import RunState, Session, attach, workdir_for

_STATE_KEY = "npconform_state_file"
_SESSION = pytest.StashKey[Session]()
_STATE = pytest.StashKey[RunState]()
_COLLECTOR = pytest.StashKey[Collector]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup(NAME, "npconform: NetworkPolicy safeguard conformance")
    g.addoption(
        "--target",
        choices=TARGETS,
        default="kind",
        help="kind: create a kind cluster (default); existing: use --kubeconfig",
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
    g.addoption("--workers", type=int, default=2, help="kind worker nodes (default 2)")
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
    g.addoption("--probe-timeout", type=float, default=1.0, help="seconds per probe (default 1)")
    g.addoption(
        "--probe-target",
        choices=PROBE_TARGETS,
        default="pod",
        help="probe pods by pod IP (default), Service ClusterIP, or both",
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
        report_dir=o.report_dir,
        expect_enforcement=expected,
        allow_cluster_changes=o.allow_cluster_changes or target == "kind",
        generated_cases=o.generated_cases,
        seed=o.seed if o.seed is not None else int.from_bytes(os.urandom(2), "big"),
    )
    if o.run_id:
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
        raise pytest.UsageError(
            f"{NAME}: platform set-up failed: {type(e).__name__}: {e}"
        ) from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    session = node.config.stash.get(_SESSION, None)
    if session is not None and session.state is not None:
        node.workerinput[_STATE_KEY] = str(session.state_file)


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
            report.nodeid, report.when, report.outcome, report.duration, report.keywords, message
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    s = session.config.stash.get(_SESSION, None)
    if s is None:
        return
    try:
        reporter = session.config.pluginmanager.get_plugin("npconform-reporter")
        if isinstance(reporter, _Reporter):
            results = build(
                s.state, reporter.collector, " ".join(["pytest", *sys.argv[1:]]), s.opts.report_dir
            )
            paths = write_bundle(results, s.opts.report_dir)
            tr = session.config.pluginmanager.get_plugin("terminalreporter")
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


def run_state_of(config: pytest.Config) -> RunState | None:
    """The run's state (None when no cluster was brought up, e.g. --collect-only)."""
    return config.stash.get(_STATE, None)


@pytest.fixture(scope="session")
def run_state(pytestconfig: pytest.Config) -> RunState:
    state = pytestconfig.stash.get(_STATE, None)
    if state is None:
        pytest.fail("no cluster for this run: conformance tests run from suites/ or tests/e2e")
    return state
