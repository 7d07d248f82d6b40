"""One scheduled run, inside the cluster (the suite image's entry point, ``npconform job``).

It refuses to start beside another active run of its CronJob, runs ``pytest suites
--target in-cluster`` with the report directory on the run's volume, publishes the bundle
and the verdict ConfigMap (``publish``), and exits: 0 PASS, 1 FAIL, and on INCOMPLETE 0 or
3 as ``--fail-on`` says. A run that could not start (bad input, a missing permission)
writes an INCOMPLETE verdict with pytest's one-line reason, never nothing, and fails. When
the run starts, the verdict ConfigMap says so (INCOMPLETE, not finished): a run killed
before it publishes leaves that, never the previous run's verdict. A stop signal (the
Job's deadline) is passed to pytest, which cleans up and writes its bundle.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from npconform import NAME
from npconform.cluster.client import Clients, forbidden
from npconform.cluster.options import UsageError
from npconform.incluster.publish import Summary, now, publish, results_of, summarize
from npconform.verdict.rules import FAIL, INCOMPLETE, PASS, VERDICT_EXIT

FAIL_ON = ("fail", "incomplete")
#: The label every pod and Job of the CronJob carries (manifests/in-cluster/cronjob.yaml).
APP_LABEL = "app.kubernetes.io/name=npconform"


def say(msg: str) -> None:
    print(f"{NAME} job: {msg}", file=sys.stderr, flush=True)


def exit_status(verdict: str, fail_on: str) -> int:
    if verdict == INCOMPLETE and fail_on == "fail":
        return 0
    return VERDICT_EXIT.get(verdict, VERDICT_EXIT[INCOMPLETE])


def other_active_run(clients: Clients, namespace: str, job: str) -> str:
    """The name of an active Job of the CronJob in ``namespace`` created before ``job``
    (by name when at the same second): "" when none. Two runs started together do not
    both refuse; the later one does."""
    jobs = clients.batch().list_namespaced_job(namespace, label_selector=APP_LABEL).items
    mine = next((j for j in jobs if j.metadata.name == job), None)
    if mine is None:
        return ""
    key = (mine.metadata.creation_timestamp, job)
    for j in jobs:
        other = (j.metadata.creation_timestamp, str(j.metadata.name))
        if j.metadata.name != job and (j.status.active or 0) > 0 and other < key:
            return str(j.metadata.name)
    return ""


def _last_reason(output: str) -> str:
    """pytest's one-line reason for a run that wrote no bundle."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    own = [ln for ln in lines if ln.startswith(("ERROR:", f"{NAME}:"))]
    picked = (own or lines or ["pytest wrote no results"])[-1]
    return picked.removeprefix("ERROR:").strip()[:500]


def pytest_argv(report_dir: Path, args: Sequence[str]) -> list[str]:
    """The suite's command: ``suites``, or the paths under it that ``args`` name."""
    paths = [] if any(a == "suites" or a.startswith("suites/") for a in args) else ["suites"]
    return [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "--target",
        "in-cluster",
        "--report-dir",
        str(report_dir),
        "-p",
        "no:cacheprovider",
        *args,
    ]


def run_pytest(report_dir: Path, args: Sequence[str]) -> tuple[int, str]:
    """Run the suite; its output goes to the Job's log and is kept for the reason."""
    argv = pytest_argv(report_dir, args)
    say("running " + " ".join(argv[2:]))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None

    def forward(signum: int, frame: FrameType | None) -> None:
        # The run's pod is stopped (its deadline, an eviction): pytest cleans up, writes
        # its bundle as interrupted, and the verdict is published as usual.
        proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    tail: list[str] = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        tail = [*tail[-199:], line]
    return proc.wait(), "".join(tail)


def _unpublished(clients: Clients, namespace: str, summary: Summary, keep: int) -> str:
    """Publish a verdict with no bundle; "" or why it could not be."""
    try:
        publish(clients, namespace, summary, None, keep)
    except Exception as e:  # the API unreachable or refusing: say so in the log
        return f"{type(e).__name__}: {forbidden(e) or getattr(e, 'reason', '') or e}"
    return ""


def main(
    report_dir: Path, fail_on: str, keep: int, args: Sequence[str], namespace: str = ""
) -> int:
    if fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on {fail_on!r}: choose from {', '.join(FAIL_ON)}")
    if keep < 1:
        raise UsageError("--keep must be at least 1")
    namespace = namespace or os.environ.get("POD_NAMESPACE", "")
    if not namespace:
        raise UsageError("no namespace to publish to: set POD_NAMESPACE or --namespace")
    job = os.environ.get("JOB_NAME", "")
    if not job:
        raise UsageError("no Job name (JOB_NAME): run by the CronJob of install-cronjob")
    clients = Clients(None)
    started = now()

    def not_verified(reason: str) -> Summary:
        return Summary(job, INCOMPLETE, reason, now(), job=job)

    try:
        other = other_active_run(clients, namespace, job)
    except Exception as e:
        why = f"could not tell whether another run is active: {forbidden(e) or e}"
        say(f"refused: {why}")
        failed = _unpublished(clients, namespace, not_verified(why), keep)
        if failed:
            say(f"could not publish the verdict to {namespace}: {failed}")
        return VERDICT_EXIT[INCOMPLETE]
    if other:
        say(f"refused: run {other} is still active in {namespace}; one run at a time")
        return 2
    # What the verdict ConfigMap says while the run lasts, and after it if the run is
    # killed (deadline, eviction, out of memory) before it can publish its own.
    failed = _unpublished(
        clients,
        namespace,
        not_verified(
            f"run {job} started at {started} and has not finished (killed, if this stays)"
        ),
        keep,
    )
    if failed:
        say(f"could not publish to {namespace}: {failed}")
        return VERDICT_EXIT[INCOMPLETE]
    for name in ("results.json", "report.html", "junit.xml", "SHA256SUMS"):
        (report_dir / name).unlink(missing_ok=True)  # a bundle left on a kept volume
    status, output = run_pytest(report_dir, args)
    results = results_of(report_dir)
    if results is not None:
        summary = summarize(results, job)
    else:
        summary = not_verified(
            f"the run did not start (pytest exit {status}): {_last_reason(output)}"
        )
    try:
        publish(clients, namespace, summary, report_dir if results is not None else None, keep)
    except Exception as e:
        say(
            f"could not publish the verdict to {namespace}: {type(e).__name__}: "
            f"{forbidden(e) or getattr(e, 'reason', '') or e}"
        )
        return VERDICT_EXIT[FAIL] if summary.verdict == FAIL else VERDICT_EXIT[INCOMPLETE]
    failing = ", ".join(f"{c} {v}" for c, v in summary.controls.items() if v != PASS)
    say(
        f"{summary.verdict}: {summary.reason}"
        + (f" [{failing}]" if failing else "")
        + f"; ConfigMap {namespace}/{NAME}-verdict"
        + (f", bundle sha256 {summary.sha256} in {summary.parts} part(s)" if summary.parts else "")
    )
    if results is None:  # nothing was verified: the Job fails whatever --fail-on says
        return VERDICT_EXIT[INCOMPLETE]
    return exit_status(summary.verdict, fail_on)
