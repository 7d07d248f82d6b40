"""Where a scheduled run's evidence goes: the bundle, archived into ConfigMaps of the
run's namespace, and one small ConfigMap, ``npconform-verdict``, with the last verdict.

The bundle (``BUNDLE_FILES`` and ``SHA256SUMS``) is one gzipped tar, split into parts of
at most ``PART_BYTES`` (a ConfigMap holds at most 1 MiB), each ConfigMap
``npconform-report-<run>-<i>`` labelled with the run and its verdict. The verdict
ConfigMap names the run, its time, its verdict and reason, every control's verdict, the
controls that are not PASS, each required check that did not pass with its reason (a
missing permission is named there) and the sha256 of the archive; its labels make
``kubectl get configmap -L npconform.io/verdict`` show the verdict. ``fetch`` puts a run's
bundle back together and checks the archive's hash and then ``SHA256SUMS``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.cluster.client import Clients
from npconform.report.bundle import BUNDLE_FILES, MANIFEST, verify_manifest

VERDICT_CONFIGMAP = f"{NAME}-verdict"
REPORT_PREFIX = f"{NAME}-report-"
PART_OF = {"app.kubernetes.io/part-of": NAME}
RUN_LABEL = "npconform.io/report"
VERDICT_LABEL = "npconform.io/verdict"
FAILING_LABEL = "npconform.io/not-passed"
FINISHED_LABEL = "npconform.io/finished"
PART_BYTES = 900 * 1024
ARCHIVE = "bundle.tar.gz"


class FetchError(ValueError):
    """A report that cannot be fetched (one line); ``corrupt``: it was found, but its
    bytes are not the ones the run recorded."""

    def __init__(self, message: str, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


@dataclass
class Summary:
    """What the verdict ConfigMap says about one run."""

    run: str
    verdict: str
    reason: str
    finished: str  # RFC 3339, UTC
    controls: dict[str, str] = field(default_factory=dict)  # id -> verdict
    #: every check a control requires that did not pass: "ID status: reason"
    checks: list[str] = field(default_factory=list)
    job: str = ""
    cluster: str = ""
    sha256: str = ""  # of the archive; "" when the run wrote no bundle
    parts: int = 0

    @property
    def not_passed(self) -> list[str]:
        return [c for c, v in self.controls.items() if v != "PASS"]

    def data(self) -> dict[str, str]:
        return {
            "run": self.run,
            "verdict": self.verdict,
            "reason": self.reason,
            "finished": self.finished,
            "controls": "\n".join(f"{c}: {v}" for c, v in self.controls.items()),
            "not-passed": " ".join(f"{c} ({self.controls[c]})" for c in self.not_passed),
            "checks": "\n".join(self.checks),
            "job": self.job,
            "cluster": self.cluster,
            "bundle.sha256": self.sha256,
            "bundle.parts": str(self.parts),
            "bundle.configmaps": " ".join(part_name(self.run, i) for i in range(self.parts)),
        }

    def labels(self) -> dict[str, str]:
        return {
            **PART_OF,
            RUN_LABEL: self.run,
            VERDICT_LABEL: self.verdict,
            # label values: no spaces or colons, at most 63 characters
            FINISHED_LABEL: self.finished.replace("-", "").replace(":", ""),
            FAILING_LABEL: "_".join(self.not_passed)[:63].rstrip("._-") or "none",
        }

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> Summary:
        controls = {}
        for line in (data.get("controls") or "").splitlines():
            c, _, v = line.partition(": ")
            controls[c] = v
        return cls(
            run=data.get("run", ""),
            verdict=data.get("verdict", ""),
            reason=data.get("reason", ""),
            finished=data.get("finished", ""),
            controls=controls,
            checks=[ln for ln in (data.get("checks") or "").splitlines() if ln],
            job=data.get("job", ""),
            cluster=data.get("cluster", ""),
            sha256=data.get("bundle.sha256", ""),
            parts=int(data.get("bundle.parts") or 0),
        )


def part_name(run: str, i: int) -> str:
    return f"{REPORT_PREFIX}{run}-{i}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def summarize(results: Mapping[str, Any], job: str) -> Summary:
    """The summary of a finished run's results document (no bundle yet)."""
    run = results.get("run") or {}
    cluster = results.get("identity") or {}
    return Summary(
        run=str(run.get("id") or ""),
        verdict=str(results.get("verdict") or "INCOMPLETE"),
        reason=str(results.get("verdict_reason") or ""),
        finished=str(run.get("finished") or now()),
        controls={str(c["id"]): str(c["verdict"]) for c in results.get("controls") or []},
        checks=[
            f"{c['id']} {c['status']}: {c.get('reason') or ''}".strip()
            for c in results.get("checks") or []
            if c.get("required_by") and c.get("status") != "passed"
        ],
        job=job,
        cluster=str(cluster.get("kube_system_uid") or cluster.get("server") or ""),
    )


def archive(report_dir: Path) -> bytes:
    """The bundle's files (those that exist) as one gzipped tar, reproducibly."""
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name in (*BUNDLE_FILES, MANIFEST):
            p = report_dir / name
            if p.is_file():
                data = p.read_bytes()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _configmap(
    name: str, namespace: str, labels: dict[str, str], data: dict[str, str], binary: bytes | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": data,
    }
    if binary is not None:
        body["binaryData"] = {ARCHIVE: base64.b64encode(binary).decode()}
    return body


def _put(clients: Clients, namespace: str, body: dict[str, Any]) -> None:
    core = clients.core()
    name = body["metadata"]["name"]
    try:
        core.create_namespaced_config_map(namespace, body)
    except ApiException as e:
        if e.status != 409:
            raise
        core.patch_namespaced_config_map(name, namespace, body)


def publish(
    clients: Clients, namespace: str, summary: Summary, report_dir: Path | None, keep: int
) -> Summary:
    """Archive the bundle (when there is one) into the run's parts, then write the verdict
    ConfigMap, then delete the parts of all but the newest ``keep`` runs."""
    if report_dir is not None and (report_dir / "results.json").is_file():
        blob = archive(report_dir)
        summary.sha256 = hashlib.sha256(blob).hexdigest()
        chunks = [blob[i : i + PART_BYTES] for i in range(0, len(blob), PART_BYTES)]
        summary.parts = len(chunks)
        for i, chunk in enumerate(chunks):
            data = {
                "run": summary.run,
                "part": f"{i + 1} of {len(chunks)}",
                "bundle.sha256": summary.sha256,
            }
            _put(
                clients,
                namespace,
                _configmap(part_name(summary.run, i), namespace, summary.labels(), data, chunk),
            )
    _put(
        clients,
        namespace,
        _configmap(VERDICT_CONFIGMAP, namespace, summary.labels(), summary.data(), None),
    )
    prune(clients, namespace, keep)
    return summary


def prune(clients: Clients, namespace: str, keep: int) -> list[str]:
    """Delete the report parts of every run but the newest ``keep``; their names."""
    core = clients.core()
    items = core.list_namespaced_config_map(namespace, label_selector=RUN_LABEL).items
    parts = [c for c in items if (c.metadata.name or "").startswith(REPORT_PREFIX)]
    # newest first by the run's end (a label every part carries), then by creation
    finished: dict[str, tuple[str, Any]] = {}
    for c in parts:
        run = c.metadata.labels[RUN_LABEL]
        key = (c.metadata.labels.get(FINISHED_LABEL, ""), c.metadata.creation_timestamp)
        finished[run] = max(finished.get(run, key), key)
    newest = sorted(finished, key=lambda r: finished[r], reverse=True)[: max(keep, 1)]
    gone = []
    for c in parts:
        if c.metadata.labels[RUN_LABEL] not in newest:
            try:
                core.delete_namespaced_config_map(c.metadata.name, namespace)
            except ApiException as e:
                if e.status != 404:
                    raise
            gone.append(str(c.metadata.name))
    return gone


def read_summary(clients: Clients, namespace: str) -> Summary:
    try:
        cm = clients.core().read_namespaced_config_map(VERDICT_CONFIGMAP, namespace)
    except ApiException as e:
        if e.status == 404:
            raise FetchError(
                f"no ConfigMap {namespace}/{VERDICT_CONFIGMAP}: no scheduled run has finished "
                "in that namespace"
            ) from None
        raise
    return Summary.from_data(cm.data or {})


def runs(clients: Clients, namespace: str) -> list[Summary]:
    """Every run whose bundle is still kept, newest first (from its first part's labels
    and data)."""
    items = clients.core().list_namespaced_config_map(namespace, label_selector=RUN_LABEL).items
    out: dict[str, Summary] = {}
    for c in items:
        name = c.metadata.name or ""
        labels = c.metadata.labels or {}
        if name.startswith(REPORT_PREFIX) and name.endswith("-0"):
            run = labels[RUN_LABEL]
            out[run] = Summary(
                run=run,
                verdict=labels.get(VERDICT_LABEL, ""),
                reason="",
                finished=labels.get(FINISHED_LABEL, ""),
                sha256=(c.data or {}).get("bundle.sha256", ""),
            )
    return sorted(out.values(), key=lambda s: s.finished, reverse=True)


def fetch(clients: Clients, namespace: str, run: str, out: Path) -> tuple[str, list[str], Summary]:
    """Put run ``run``'s bundle (the last run's when "") back together into ``out``;
    (its run id, the files written, the verdict ConfigMap's summary). FetchError when a
    part is missing, the archive's hash differs from the one recorded (for the last run: in
    the verdict ConfigMap), or it has no ``SHA256SUMS`` or a file that does not match it;
    ``out`` is then left as it was."""
    core = clients.core()
    summary = read_summary(clients, namespace)
    if not run:
        if not summary.sha256:
            raise FetchError(
                f"the last run ({summary.run or 'unknown'}, {summary.verdict}) wrote no bundle: "
                f"{summary.reason}"
            )
        run = summary.run
    items = core.list_namespaced_config_map(namespace, label_selector=f"{RUN_LABEL}={run}").items
    parts = {
        c.metadata.name: c
        for c in items
        if (c.metadata.name or "").startswith(REPORT_PREFIX) and c.binary_data
    }
    if not parts:
        raise FetchError(f"no bundle of run {run!r} in namespace {namespace}")
    first = parts.get(part_name(run, 0))
    count = int(((first.data or {}).get("part") or "1 of 0").split(" of ")[1]) if first else 0
    missing = [part_name(run, i) for i in range(count) if part_name(run, i) not in parts]
    if first is None or missing:
        raise FetchError(
            f"run {run}: bundle part(s) missing: {', '.join(missing) or part_name(run, 0)}"
        )
    # the hash the verdict ConfigMap recorded for the last run, else the parts' own
    last = run == summary.run
    expected = summary.sha256 if last else (first.data or {}).get("bundle.sha256", "")
    blob = b"".join(
        base64.b64decode(parts[part_name(run, i)].binary_data[ARCHIVE]) for i in range(count)
    )
    got = hashlib.sha256(blob).hexdigest()
    if got != expected:
        raise FetchError(
            f"run {run}: the archive's sha256 is {got}, the run recorded {expected}", True
        )
    allowed = {*BUNDLE_FILES, MANIFEST}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        written = []
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            for m in tar.getmembers():
                if m.name not in allowed or not m.isfile():
                    raise FetchError(
                        f"run {run}: unexpected member {m.name!r} in the archive", True
                    )
                f = tar.extractfile(m)
                assert f is not None
                (tmp / m.name).write_bytes(f.read())
                written.append(m.name)
        if MANIFEST not in written:
            raise FetchError(f"run {run}: the archive has no {MANIFEST}", True)
        edited = verify_manifest(tmp)
        if edited:
            raise FetchError(f"run {run}: {', '.join(edited)} do not match {MANIFEST}", True)
        # only a bundle that checks out replaces what --out held
        if out.exists():
            for name in allowed:
                (out / name).unlink(missing_ok=True)
        out.mkdir(exist_ok=True)
        for name in written:
            (tmp / name).replace(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return run, sorted(written), summary


def results_of(report_dir: Path) -> dict[str, Any] | None:
    p = report_dir / "results.json"
    if not p.is_file():
        return None
    doc = json.loads(p.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc
