"""Live verification of computed isolation with twin pods.

Every pod class is a source, the platform's too: one twin per class. A twin is a
short-lived pod in the namespace of a real source pod with exactly its labels,
so exactly the policies that select the real pod select the twin (and its ingress side is
judged like the real pod's at every target). It is never Ready (a readiness probe that
always fails), so no Service routes to it; it declares no port; a ConfigMap of the run is
its controller (``ownerReferences``), so no ReplicaSet, StatefulSet or Job adopts it, and
deleting the ConfigMap deletes it. It runs the restricted Pod Security profile (non-root,
no privilege escalation, every capability dropped, RuntimeDefault seccomp, read-only root
with an emptyDir at /tmp), no service account token, small requests and limits, and
``activeDeadlineSeconds``: it stops by itself even if the tool dies. Its restart policy is
``OnFailure``: a container the runtime failed to start is started again within the
deadline, and the outcome lists the restart (``RESTARTED``).

It probes every target's Ready example pod on each declared TCP port, in rounds; the tool
reads its log (no exec right needed). On a real target, "connected" and "refused" both
prove the packet arrived (the policies let it through); only a timeout means blocked; an
error is never a verdict. The verification ends when two consecutive rounds agree with
the computation, or the twin's deadline passes; the twin is deleted at once. A blocked
cell counts only when some twin's probe to the same pod and port arrived in the same run
(a dead server times out too).

Left behind: nothing; on success, failure or Ctrl-C the twins and their ConfigMaps are
deleted (``npconform cleanup`` deletes those of an interrupted run). Side effect to know:
a twin matched by a PodDisruptionBudget counts as an unhealthy pod of it while it lives.
Rights: create, get and delete pods and configmaps in the source namespaces, get pods/log.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from npconform import NAME
from npconform.cluster import kube
from npconform.cluster.client import Clients, to_dict
from npconform.cluster.workload import MANAGED_LABEL, RUN_LABEL, restricted_security
from npconform.model.isolation import Isolation
from npconform.model.matrix import CONNECTED, REFUSED, TIMEOUT, Cell, Matrix, render_comparison
from npconform.model.netpol import NamespaceModel, PodModel, PolicyEngine
from npconform.probe.script import TCP, Probe, ProbeError, batch_script, parse_output

ROLE_LABEL = f"{NAME}.io/role"
ANCHOR_ROLE = "twin-anchor"
RUN_ANNOTATION = f"{NAME}.io/run"
TWIN_OF = f"{NAME}.io/twin-of"
CONTAINER = "probe"
WARMUP = 2  # seconds before the first round: the CNI learns the new pod's address
ROUNDS = 8
GAP = 1  # seconds between rounds


@dataclass
class Target:
    index: int  # the target's class
    pod: PodModel  # its Ready example pod
    column: tuple[int, str]


@dataclass
class Twin:
    index: int  # the source class
    of: PodModel  # the real pod it is a twin of
    name: str
    targets: list[Target] = field(default_factory=list)
    ip: str = ""
    rounds: list[list[str]] = field(default_factory=list)  # per round: outcome per target
    done: str = ""  # why it ended ("" while running)
    restarts: str = ""  # how often its container restarted, and the last reason ("": never)

    @property
    def namespace(self) -> str:
        return self.of.namespace

    def cell(self, iso: Isolation, t: Target) -> Cell:
        return Cell(iso.classes[self.index].name, iso.classes[t.index].name, *t.column)


@dataclass
class Plan:
    run_id: str
    twins: list[Twin]
    not_probed: list[tuple[str, str]]  # (what, why)
    timeout: float
    reject: bool = False  # the CNI rejects denied traffic: a refusal reads as blocked

    @property
    def probes(self) -> int:
        return sum(len(t.targets) for t in self.twins)


def _only_matches(only: Sequence[str], iso: Isolation, s: int, t: Target) -> bool:
    if not only:
        return True
    src, dst = iso.classes[s], iso.classes[t.index]
    for item in only:
        a, _, rest = item.partition(">")
        b, _, port = rest.rpartition(":")
        if (
            a in {f"{src.namespace}/{p}" for p in src.pods}
            and b in {f"{dst.namespace}/{p}" for p in dst.pods}
            and port == str(t.column[0])
        ):
            return True
    return False


def make_plan(
    iso: Isolation,
    max_twins: int,
    max_probes: int,
    timeout: float = 1.0,
    only: Sequence[str] = (),
    reject: bool = False,
) -> Plan:
    """Which twins probe which targets. Raises ValueError (one line) past the bounds."""
    run_id = secrets.token_hex(3)
    not_probed: list[tuple[str, str]] = []
    targets: list[Target] = []
    for c in iso.classes:
        cols = c.columns()
        if not cols:
            not_probed.append((c.name, "not probed: no declared port"))
            continue
        if not c.ready:
            not_probed.append((c.name, "not probed: no Ready pod to probe"))
            continue
        assert c.example is not None
        for col in cols:
            if col[1] != TCP:
                not_probed.append(
                    (f"{c.name} {col[0]}/{col[1]}", f"not probed: {col[1]} is computed only")
                )
                continue
            targets.append(Target(c.index, c.example, col))
    twins: list[Twin] = []
    for c in iso.classes:
        if c.example is None:
            continue
        mine = [t for t in targets if _only_matches(only, iso, c.index, t)]
        if mine:
            name = f"{NAME}-twin-{run_id}-{len(twins)}"
            twins.append(Twin(c.index, c.example, name, mine))
    if not twins:
        raise ValueError("nothing to verify: no pod class with a target on a declared TCP port")
    plan = Plan(run_id, twins, not_probed, timeout, reject)
    if len(twins) > max_twins:
        raise ValueError(
            f"{len(twins)} twins exceed --max-twins {max_twins}: narrow with "
            "--namespace-selector or raise --max-twins"
        )
    if plan.probes > max_probes:
        raise ValueError(
            f"{plan.probes} probes exceed --max-probes {max_probes}: narrow with "
            "--namespace-selector or raise --max-probes"
        )
    return plan


def _probes(tw: Twin) -> list[Probe]:
    """The twin's probes, one per target, told apart by position (a twin may probe two
    pods on the same port)."""
    return [
        Probe(Cell(str(i), "", *t.column), str(t.pod.ip), t.column[0], TCP)
        for i, t in enumerate(tw.targets)
    ]


def _script(tw: Twin, timeout: float) -> str:
    body = batch_script(_probes(tw), timeout, batch="t")
    return (
        f"sleep {WARMUP}; r=0; while [ $r -lt {ROUNDS} ]; do r=$((r+1)); "
        f"echo NPC-ROUND $r\n{body}\necho NPC-END; sleep {GAP}; done"
    )


def deadline_seconds(plan: Plan) -> int:
    """How long a twin may live: its rounds, with room to start."""
    return int(WARMUP + ROUNDS * (plan.timeout + 1 + GAP) + 60)


def anchor_manifest(plan: Plan, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{NAME}-twins-{plan.run_id}",
            "namespace": namespace,
            "labels": {RUN_LABEL: plan.run_id, MANAGED_LABEL: NAME, ROLE_LABEL: ANCHOR_ROLE},
        },
        "data": {"purpose": "controller of this run's twin pods; deleting it deletes them"},
    }


def twin_manifest(plan: Plan, tw: Twin, image: str, anchor_uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": tw.name,
            "namespace": tw.namespace,
            "labels": dict(tw.of.labels),  # exactly the real pod's: same policies select it
            "annotations": {RUN_ANNOTATION: plan.run_id, TWIN_OF: tw.of.id},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": f"{NAME}-twins-{plan.run_id}",
                    "uid": anchor_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            # a container the runtime failed to start (under load, runc's cgroup freeze can
            # fail) is started again, within the deadline; the rounds say what it saw
            "restartPolicy": "OnFailure",
            "activeDeadlineSeconds": deadline_seconds(plan),
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", _script(tw, plan.timeout)],
                    "securityContext": {**restricted_security(), "readOnlyRootFilesystem": True},
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "200m", "memory": "64Mi"},
                    },
                    # never Ready: no Service sends it traffic
                    "readinessProbe": {
                        "exec": {"command": ["sh", "-c", "exit 1"]},
                        "periodSeconds": 60,
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Mi"}}],
        },
    }


def describe_plan(plan: Plan, iso: Isolation, image: str) -> str:
    lines = [
        f"plan: {len(plan.twins)} twin pod(s), {plan.probes} TCP probe(s), each twin "
        f"{ROUNDS} round(s) at most, deadline {deadline_seconds(plan)} s; nothing is sent",
    ]
    for ns in sorted({tw.namespace for tw in plan.twins}):
        lines.append(f"create ConfigMap {ns}/{NAME}-twins-{plan.run_id} (controller of the twins)")
    for tw in plan.twins:
        labels = ",".join(f"{k}={v}" for k, v in sorted(tw.of.labels.items())) or "(none)"
        lines.append(
            f"create Pod {tw.namespace}/{tw.name} image {image}, labels {labels} "
            f"(twin of {tw.of.id})"
        )
        for t in tw.targets:
            want = "allowed" if iso.expected(tw.index, t.index, t.column) else "blocked"
            lines.append(
                f"  probe {t.pod.id} {t.pod.ip}:{t.column[0]}/{t.column[1]} expected {want}"
            )
    lines += [f"{what}: {why}" for what, why in plan.not_probed]
    return "\n".join(lines)


@dataclass
class Outcome:
    expected: Matrix
    observed: Matrix
    readings: dict[Cell, str]
    disagree: list[Cell]
    errors: list[tuple[Cell, str]]
    unconfirmed: list[Cell]
    not_equivalent: list[tuple[Cell, str]]
    not_probed: list[tuple[str, str]]
    refused: list[tuple[str, str]]  # twins the API refused or that ended unread: (what, why)
    flapping: list[Cell]
    repeat: dict[Cell, str]
    seconds: float
    restarted: list[tuple[str, str]] = field(default_factory=list)  # (twin, how and why)

    @property
    def verdict(self) -> str:
        if self.disagree or self.flapping:
            return "FAIL"
        if self.errors or self.unconfirmed or self.not_equivalent or self.refused:
            return "INCOMPLETE"
        return "PASS"

    def text(self) -> str:
        allowed, blocked = self.expected.counts()
        lines = [
            f"verified on live traffic from twin pods: {len(self.expected)} probe(s), "
            f"{allowed} expected allowed, {blocked} expected blocked ({self.seconds:.1f} s)",
            render_comparison(self.expected, self.observed),
        ]
        for c in self.disagree:
            got = self.readings.get(c, "missing")
            want = "allowed" if self.expected[c] else "blocked"
            lines.append(f"DISAGREE {c}: expected {want}, observed {got}")
            lines.append(f"  repeat: {self.repeat[c]}")
        for c in self.flapping:
            lines.append(f"FLAPPING {c}: its last two rounds differ")
        for c, why in self.errors:
            lines.append(f"ERROR {c}: {why} (not a verdict)")
        for c in self.unconfirmed:
            lines.append(
                f"UNCONFIRMED {c}: blocked, but no probe to this pod and port arrived in this "
                "run (a dead server times out too): not claimed"
            )
        for c, why in self.not_equivalent:
            lines.append(f"NOT EQUIVALENT {c}: {why}")
        lines += [f"NOT PROBED {what}: {why}" for what, why in self.refused]
        lines += [f"RESTARTED {what}: {why}" for what, why in self.restarted]
        lines += [f"{what}: {why}" for what, why in self.not_probed]
        lines.append(
            {
                "PASS": "AGREE: live traffic matches the computed isolation, cell by cell",
                "FAIL": f"DISAGREE: {len(self.disagree) + len(self.flapping)} cell(s) differ "
                "from the computed isolation",
                "INCOMPLETE": "INCOMPLETE: the cells above are neither confirmed nor refuted",
            }[self.verdict]
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "seconds": round(self.seconds, 1),
            "cells": [
                {
                    "source": c.src,
                    "target": c.dst,
                    "port": f"{c.port}/{c.protocol}",
                    "expected": "allowed" if want else "blocked",
                    "observed": self.readings.get(c, "missing"),
                }
                for c, want in sorted(self.expected.items())
            ],
            "disagree": [str(c) for c in self.disagree],
            "flapping": [str(c) for c in self.flapping],
            "errors": [{"cell": str(c), "why": why} for c, why in self.errors],
            "unconfirmed": [str(c) for c in self.unconfirmed],
            "notEquivalent": [{"cell": str(c), "why": why} for c, why in self.not_equivalent],
            "notProbed": [{"what": w, "why": why} for w, why in self.not_probed],
            "refused": [{"what": w, "why": why} for w, why in self.refused],
            "restarted": [{"what": w, "why": why} for w, why in self.restarted],
        }


def _arrived(outcome: str, reject: bool = False) -> bool | None:
    """True: the packet arrived (policies let it through); False: blocked; None: no
    verdict. With ``reject`` (a CNI that answers denied traffic with a reset or an ICMP
    unreachable, e.g. kube-router) a refusal is blocked too, and only a connection
    arrived."""
    if outcome == CONNECTED or (outcome == REFUSED and not reject):
        return True
    if outcome == REFUSED:
        return False
    if outcome == TIMEOUT:
        return False
    return None


def _rounds(log: str, tw: Twin, timeout: float) -> list[list[str]]:
    """The complete rounds of the twin's log: each its outcomes in the targets' order."""
    probes = _probes(tw)
    out = []
    for part in log.split("NPC-ROUND ")[1:]:
        if "NPC-END" not in part:
            break
        try:
            obs = parse_output(probes, part, timeout)
        except ProbeError:
            break
        out.append([obs[p.cell].outcome for p in probes])
    return out


def run(
    clients: Clients,
    iso: Isolation,
    plan: Plan,
    image: str,
    repeat: Callable[[Cell, Twin, Target], str],
    say: Callable[[str], None] = lambda s: None,
) -> Outcome:
    """Create the twins, read their rounds, delete them; compare with ``iso``."""
    started = time.monotonic()
    core = clients.core()
    state = iso.state
    engine = PolicyEngine(
        [NamespaceModel(n, labels) for n, labels in state.namespaces.items()],
        state.pods,
        state.policies,
    )
    refused: list[tuple[str, str]] = []
    live: list[Twin] = []

    def why(e: ApiException) -> str:
        return " ".join(str(e.body or e.reason).split())[:300]

    try:
        for ns in sorted({tw.namespace for tw in plan.twins}):
            mine = [t for t in plan.twins if t.namespace == ns]
            try:
                anchor = core.create_namespaced_config_map(ns, anchor_manifest(plan, ns))
            except ApiException as e:
                refused += [
                    (f"twin of {t.of.id}", f"its ConfigMap refused: {why(e)}") for t in mine
                ]
                continue
            uid = anchor.metadata.uid
            for tw in mine:
                try:
                    core.create_namespaced_pod(ns, twin_manifest(plan, tw, image, uid))
                    live.append(tw)
                except ApiException as e:
                    refused.append((f"twin of {tw.of.id}", f"refused by the API: {why(e)}"))
        say(f"created {len(live)} twin pod(s) in {len({t.namespace for t in live})} namespace(s)")
        deadline = time.monotonic() + deadline_seconds(plan)
        pending = list(live)
        while pending and time.monotonic() < deadline:
            time.sleep(1)
            for tw in list(pending):
                try:
                    pod = core.read_namespaced_pod(tw.name, tw.namespace)
                except ApiException as e:
                    tw.done = f"twin gone: {e.status} {e.reason}"
                    pending.remove(tw)
                    continue
                doc = to_dict(pod)
                tw.ip = tw.ip or str(kube.dig(doc, "status", "podIP") or "")
                tw.restarts = restarts(doc)
                phase = kube.dig(doc, "status", "phase")
                if phase == "Pending":
                    continue
                try:
                    log = core.read_namespaced_pod_log(tw.name, tw.namespace, container=CONTAINER)
                except ApiException as e:
                    if phase == "Running":
                        continue
                    tw.done = f"its log could not be read ({phase}): {why(e)}"
                    pending.remove(tw)
                    _delete_pod(core, tw)
                    continue
                tw.rounds = _rounds(log, tw, plan.timeout)
                if _settled(tw, iso, plan.reject):
                    tw.done = "two consecutive rounds agree"
                elif phase in ("Succeeded", "Failed"):
                    tw.done = f"twin ended ({phase}) after {len(tw.rounds)} round(s)" + ending(
                        doc, log
                    )
                if tw.done:
                    pending.remove(tw)
                    _delete_pod(core, tw)
        for tw in pending:
            tw.done = "deadline passed"
    finally:
        cleanup(clients, plan.run_id, [(t.namespace, t.name) for t in plan.twins])
    return _compare(iso, plan, live, engine, refused, repeat, time.monotonic() - started)


def _probe_status(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """The probe container's status in a pod (JSON), or {}."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((c for c in statuses if c.get("name") == CONTAINER), {})


def _termination(t: Mapping[str, Any]) -> str:
    """A terminated container state in words: exit code, reason and message."""
    return (
        f"exit code {t.get('exitCode')}"
        + (f" ({t['reason']})" if t.get("reason") else "")
        + (f": {t['message'].strip()}" if t.get("message") else "")
    )


def restarts(pod: Mapping[str, Any]) -> str:
    """How often the probe container restarted, and how it last ended ("": never)."""
    c = _probe_status(pod)
    if not c.get("restartCount"):
        return ""
    last = (c.get("lastState") or {}).get("terminated")
    return (
        f"its probe container restarted {c['restartCount']} time(s)"
        + (f", last ended: {_termination(last)}" if last else "")
    )[:300]


def ending(pod: Mapping[str, Any], log: str, lines: int = 3) -> str:
    """Why a twin ended, as the pod tells it: its reason, the probe container's exit and
    the last lines of its log (the twin is deleted at once, and its log with it)."""
    status = pod.get("status") or {}
    parts = [f"{k} {status[k]}" for k in ("reason", "message") if status.get(k)]
    done = (_probe_status(pod).get("state") or {}).get("terminated")
    if done:
        parts.append(_termination(done))
    tail = [ln.strip() for ln in log.strip().splitlines()[-lines:] if ln.strip()]
    if tail:
        parts.append("log ends " + " | ".join(tail))
    return ("; " + "; ".join(parts))[:400] if parts else ""


def _settled(tw: Twin, iso: Isolation, reject: bool) -> bool:
    if len(tw.rounds) < 2:
        return False
    for r in tw.rounds[-2:]:
        for outcome, t in zip(r, tw.targets, strict=True):
            got = _arrived(outcome, reject)
            if got is None or got != iso.expected(tw.index, t.index, t.column):
                return False
    return True


def _delete_pod(core: Any, tw: Twin) -> None:
    try:
        core.delete_namespaced_pod(tw.name, tw.namespace, grace_period_seconds=0)
    except ApiException as e:
        if e.status != 404:
            raise


def cleanup(
    clients: Clients, run_id: str, pods: Sequence[tuple[str, str]] = (), wait: float = 30
) -> int:
    """Delete the twins of run ``run_id`` (every run's when empty) and their ConfigMaps;
    wait until the twins are gone. The twins and ConfigMaps it knows by name go first, so a
    reader that may not list ConfigMaps cluster-wide still removes them. Returns how many
    objects were deleted."""
    core = clients.core()
    names = set(pods)
    anchors = {(ns, f"{NAME}-twins-{run_id}") for ns, _ in pods} if run_id else set()
    selector = f"{ROLE_LABEL}={ANCHOR_ROLE}" + (f",{RUN_LABEL}={run_id}" if run_id else "")
    try:
        for a in core.list_config_map_for_all_namespaces(label_selector=selector).items:
            anchors.add((a.metadata.namespace, a.metadata.name))
            owned = core.list_namespaced_pod(a.metadata.namespace).items
            names |= {
                (p.metadata.namespace, p.metadata.name)
                for p in owned
                if any(r.uid == a.metadata.uid for r in p.metadata.owner_references or [])
            }
    except ApiException as e:
        if e.status not in (401, 403):
            raise
    deleted = 0
    for ns, name in sorted(names):
        deleted += _gone(core.delete_namespaced_pod, name, ns, grace_period_seconds=0)
    for ns, name in sorted(anchors):
        deleted += _gone(core.delete_namespaced_config_map, name, ns)
    end = time.monotonic() + wait
    while names and time.monotonic() < end:
        left = set()
        for ns, name in names:
            try:
                core.read_namespaced_pod(name, ns)
                left.add((ns, name))
            except ApiException as e:
                if e.status != 404:
                    raise
        names = left
        if names:
            time.sleep(1)
    return deleted


def _gone(delete: Callable[..., Any], *args: Any, **kw: Any) -> int:
    """1 when ``delete`` deleted something, 0 when it was already gone."""
    try:
        delete(*args, **kw)
        return 1
    except ApiException as e:
        if e.status != 404:
            raise
        return 0


def _compare(
    iso: Isolation,
    plan: Plan,
    live: Sequence[Twin],
    engine: PolicyEngine,
    refused: list[tuple[str, str]],
    repeat: Callable[[Cell, Twin, Target], str],
    seconds: float,
) -> Outcome:
    expected, observed = Matrix(), Matrix()
    readings: dict[Cell, str] = {}
    errors: list[tuple[Cell, str]] = []
    not_equivalent: list[tuple[Cell, str]] = []
    flapping: list[Cell] = []
    repeats: dict[Cell, str] = {}
    arrived_at: set[tuple[str, int]] = set()
    blocked: list[tuple[Cell, PodModel, int]] = []
    for tw in live:
        twin_model = PodModel(tw.namespace, tw.name, dict(tw.of.labels), tw.ip or None)
        for i, t in enumerate(tw.targets):
            cell = tw.cell(iso, t)
            want = iso.expected(tw.index, t.index, t.column)
            if tw.ip and engine.allowed(twin_model, t.pod, *t.column) != want:
                not_equivalent.append(
                    (cell, f"the twin's address {tw.ip} falls in another ipBlock than its class")
                )
                continue
            expected[cell] = want
            repeats[cell] = repeat(cell, tw, t)
            if not tw.rounds:
                errors.append((cell, f"the twin reported no round ({tw.done or 'not started'})"))
                continue
            last = tw.rounds[-1][i]
            readings[cell] = last
            got = _arrived(last, plan.reject)
            if got is None:
                errors.append((cell, f"probe {last}"))
                continue
            observed[cell] = got
            if got:
                arrived_at.add((t.pod.id, t.column[0]))
            elif not want:
                blocked.append((cell, t.pod, t.column[0]))
            before = _arrived(tw.rounds[-2][i], plan.reject) if len(tw.rounds) >= 2 else None
            if before is not None and before != got:  # an error before is no reading
                flapping.append(cell)
    disagree = [c for c, want in expected.items() if c in observed and observed[c] != want]
    flapping = [c for c in flapping if c not in disagree]
    unconfirmed = [c for c, pod, port in blocked if (pod.id, port) not in arrived_at]
    return Outcome(
        expected,
        observed,
        readings,
        disagree,
        errors,
        unconfirmed,
        not_equivalent,
        plan.not_probed,
        refused,
        flapping,
        repeats,
        seconds,
        [(f"twin of {tw.of.id}", tw.restarts) for tw in live if tw.restarts],
    )


def repeat_command(base: Sequence[str]) -> Callable[[Cell, Twin, Target], str]:
    """The one-line command that repeats a single probe."""

    def make(cell: Cell, tw: Twin, t: Target) -> str:
        only = f"{tw.of.id}>{t.pod.id}:{t.column[0]}"
        return " ".join(shlex.quote(a) for a in [*base, "--verify", "--only", only])

    return make
