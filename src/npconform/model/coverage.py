"""Admission coverage of every namespace, computed from the objects that decide it.

For each namespace of a cluster, whether Gatekeeper's require-networkpolicy constraint
judges a new Pod there, in which mode, and if not, which field of which object takes it
out of the match. The objects are read elsewhere into a :class:`Snapshot` (plain JSON);
this module only computes. Pure: no Kubernetes client here.

What decides it, in the order the API server and Gatekeeper apply it:

1. the ValidatingWebhookConfiguration: the ``validation.gatekeeper.sh`` webhook must exist,
   its rules must include CREATE of pods, its ``namespaceSelector`` must select the
   namespace (upstream's excludes the ``admission.gatekeeper.sh/ignore`` label, which
   Gatekeeper lets only the namespaces of its ``--exempt-namespace*`` flags carry), and its
   ``objectSelector`` the pod (pods it does not select escape by their labels);
2. Gatekeeper's ``Config`` ``spec.match``: ``excludedNamespaces`` with ``processes``
   ``webhook`` or ``*`` exempt a namespace from admission (``audit`` only from the audit);
3. the constraints of kind K8sRequireNetworkPolicy: ``enforcementAction`` (``scoped``: the
   action of the ``validation.gatekeeper.sh`` enforcement point), ``match.kinds``,
   ``scope``, ``namespaces``, ``excludedNamespaces``, ``namespaceSelector`` and
   ``labelSelector``. With several constraints the strongest action wins.

A namespace nothing covers is **exempt** when the platform rule recognises it as a
platform namespace (by default: Welkin's ``owner=operator`` label, the constraint's own
exclusions and Gatekeeper's exempt-namespace flags), and **unprotected** otherwise.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from npconform.model.netpol import NAMESPACE_NAME_LABEL, LabelSelector, parse_selector
from npconform.model.rbac import Finding
from npconform.model.witness import escaping_labels

PLATFORM_LABEL = ("owner", "operator")
IGNORE_LABEL = "admission.gatekeeper.sh/ignore"
WEBHOOK_POINT = "validation.gatekeeper.sh"
ACTION_RANK = {"deny": 3, "warn": 2, "dryrun": 1}
#: The answer a Pod no NetworkPolicy selects gets, per action in force.
LIVE_ANSWER = {"deny": "denied", "warn": "warned", "dryrun": "admitted"}

COVERED, EXEMPT, UNPROTECTED = "covered", "exempt", "unprotected"
UNDETERMINED, TERMINATING, NOT_EXAMINED = "undetermined", "terminating", "not examined"
STATUSES = (COVERED, EXEMPT, UNPROTECTED, UNDETERMINED, TERMINATING, NOT_EXAMINED)

#: The reads a snapshot is made of, each with the permission it needs (in ``missing``).
READS = {
    "namespaces": "list namespaces",
    "webhook": "get validatingwebhookconfigurations.admissionregistration.k8s.io",
    "config": "get configs.config.gatekeeper.sh in gatekeeper-system",
    "constraints": "list k8srequirenetworkpolicy.constraints.gatekeeper.sh",
    "exempt_flags": "get deployments.apps in gatekeeper-system",
    "policies": "list networkpolicies.networking.k8s.io",
    "pods": "list pods",
}


def name_matches(pattern: str, name: str) -> bool:
    """Gatekeeper's namespace patterns: an exact name, ``prefix*`` or ``*suffix``."""
    if pattern.endswith("*") or pattern.startswith("*"):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern == name


@dataclass(frozen=True)
class PlatformRule:
    """Which namespaces are the platform's own (exempt by design, never unprotected)."""

    labels: tuple[tuple[str, str], ...] = (PLATFORM_LABEL,)
    namespaces: tuple[str, ...] = ()  # names or prefix*/*suffix patterns
    constraint_exclusions: bool = True
    gatekeeper_exempt: bool = True

    def describe(self) -> str:
        parts = [f"label {k}={v}" for k, v in self.labels]
        parts += [f"namespace {n}" for n in self.namespaces]
        if self.constraint_exclusions:
            parts.append("the constraint's excludedNamespaces and namespaceSelector")
        if self.gatekeeper_exempt:
            parts.append("Gatekeeper's --exempt-namespace flags")
        return ", ".join(parts) or "none"


@dataclass
class Snapshot:
    """The objects coverage is computed from, as the API returns them (camelCase).

    ``namespaces``: ``{"name", "labels", "terminating"}``; ``policies``: per namespace the
    podSelectors of its NetworkPolicies (``{"name", "podSelector"}``); ``pods``: per
    namespace ``{"name", "labels"}``; ``constraints``: the K8sRequireNetworkPolicy objects
    (None: the kind is not served); ``config``: Gatekeeper's Config (None: absent);
    ``webhook``: the ``validation.gatekeeper.sh`` entry of the webhook configuration (None:
    not registered); ``exempt_flags``: the controller's ``--exempt-namespace``,
    ``-prefix`` and ``-suffix`` values; ``missing``: reads (keys of :data:`READS`) the
    verifier was not allowed to make.
    """

    namespaces: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    constraints: list[dict[str, Any]] | None = None
    config: dict[str, Any] | None = None
    webhook: dict[str, Any] | None = None
    exempt_flags: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Snapshot:
        known = {f for f in cls.__dataclass_fields__}
        extra = set(doc) - known
        if extra:
            raise ValueError(f"unknown snapshot field(s): {', '.join(sorted(extra))}")
        return cls(**{k: doc[k] for k in known if k in doc})


@dataclass
class Row:
    """One namespace's coverage, computed, and (when probed) the API server's answer."""

    namespace: str
    status: str
    action: str = ""  # the action in force when covered
    by: list[str] = field(default_factory=list)  # what covers it, or what exempts it
    platform: str = ""  # why the platform rule recognises it ("" when it does not)
    notes: list[str] = field(default_factory=list)
    policies: int = 0
    pods: int = 0
    unselected_pods: int = 0
    catch_all: str = ""  # a policy that selects every pod
    probe_labels: dict[str, str] | None = None  # a Pod's labels no policy there selects
    expected: str = ""  # the answer to that Pod: denied, warned or admitted
    live: str = ""  # what the API server answered to a dry run of it
    live_message: str = ""

    @property
    def agrees(self) -> bool | None:
        if not self.live or not self.expected or self.live not in LIVE_ANSWER.values():
            return None
        return self.live == self.expected

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "agrees": self.agrees}


@dataclass
class Coverage:
    rows: list[Row]
    rule: PlatformRule
    summary: str = ""  # one line when the safeguard is absent altogether
    live: bool = False  # whether the rows' probe Pods were dry-run (proven live)
    #: who can switch the safeguard off (None: not examined); reads of RBAC not allowed
    switches: list[Finding] | None = None
    switches_missing: list[str] = field(default_factory=list)

    @property
    def breaches(self) -> list[Finding]:
        """A tenant's service account, or a group that includes them, that can switch the
        safeguard off (and the API server did not say otherwise); the identity running the
        check, through the verifier's own role, is reported, not counted."""
        return [f for f in self.switches or [] if f.breach]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def unprotected(self) -> list[Row]:
        return [r for r in self.rows if r.status == UNPROTECTED]

    @property
    def disagreeing(self) -> list[Row]:
        return [r for r in self.rows if r.agrees is False]

    @property
    def undetermined(self) -> list[Row]:
        """Rows not determined, computed or live (an answer that was not one of ours)."""
        return [
            r
            for r in self.rows
            if r.status == UNDETERMINED or (r.live and r.agrees is None and r.expected)
        ]

    @property
    def verdict(self) -> str:
        if self.unprotected or self.disagreeing or self.breaches:
            return "FAIL"
        if (
            self.undetermined
            or not self.rows
            or not self.live
            or self.switches is None
            or self.switches_missing
        ):
            return "INCOMPLETE"
        return "PASS"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "platform_rule": self.rule.describe(),
            "summary": self.summary,
            "live": self.live,
            "counts": {s: self.count(s) for s in STATUSES},
            "rows": [r.to_json() for r in self.rows],
            "switch_off": None
            if self.switches is None
            else {
                "findings": [f.to_json() for f in self.switches],
                "missing": list(self.switches_missing),
                "breaches": len(self.breaches),
            },
        }


#: The fields of the webhook entry a row depends on.
WEBHOOK_BASIS = ("rules", "namespaceSelector", "objectSelector", "failurePolicy", "matchConditions")


def basis(snap: Snapshot, namespace: str) -> dict[str, Any]:
    """What one namespace's row is computed from (its pods aside, which only count): two
    snapshots with the same basis give the same row and the same probe Pod. The
    constraints' and the Config's status and metadata, which Gatekeeper rewrites on its
    own (the audit's counts), are left out."""
    entry = next((n for n in snap.namespaces if n.get("name") == namespace), None)
    return {
        "namespace": entry,
        "policies": sorted((snap.policies.get(namespace) or []), key=lambda p: str(p.get("name"))),
        # what compute reads of it: not its caBundle, which certificate rotation rewrites
        "webhook": None
        if snap.webhook is None
        else {k: snap.webhook.get(k) for k in WEBHOOK_BASIS},
        "config": None if snap.config is None else snap.config.get("spec"),
        "constraints": None
        if snap.constraints is None
        else sorted(
            ((str((c.get("metadata") or {}).get("name")), c.get("spec")) for c in snap.constraints),
            key=lambda t: t[0],
        ),
        "exempt_flags": snap.exempt_flags,
        "missing": sorted(snap.missing),
    }


#: The parts of a basis, in words.
BASIS_WORDS = {
    "namespace": "namespace (labels, deletion)",
    "policies": "NetworkPolicies",
    "webhook": "webhook",
    "config": "Gatekeeper Config",
    "constraints": "constraints",
    "exempt_flags": "Gatekeeper's exempt-namespace flags",
    "missing": "permitted reads",
}


def changed_inputs(old: Snapshot, new: Snapshot, namespace: str) -> list[str]:
    """Which parts of ``namespace``'s basis differ between two snapshots, in words."""
    a, b = basis(old, namespace), basis(new, namespace)
    return [BASIS_WORDS[k] for k in a if a[k] != b[k]]


# -- selectors ----------------------------------------------------------------------------


def _selector(value: Any) -> LabelSelector | None:
    """A selector of an API object (None when the field is absent)."""
    return None if value is None else parse_selector(value)


# -- the computation ------------------------------------------------------------------------


def _webhook_sees_pods(wh: Mapping[str, Any]) -> bool:
    for r in wh.get("rules") or []:
        ops = set(r.get("operations") or [])
        groups = set(r.get("apiGroups") or [])
        res = set(r.get("resources") or [])
        scope = r.get("scope") or "*"
        if (
            ops & {"CREATE", "*"}
            and groups & {"", "*"}
            and res & {"pods", "*", "*/*"}
            and scope in ("*", "Namespaced")
        ):
            return True
    return False


def _flags_match(flags: Mapping[str, Sequence[str]], ns: str) -> str:
    for n in flags.get("namespace") or []:
        if n == ns:
            return f"--exempt-namespace={n}"
    for p in flags.get("prefix") or []:
        if ns.startswith(p):
            return f"--exempt-namespace-prefix={p}"
    for s in flags.get("suffix") or []:
        if ns.endswith(s):
            return f"--exempt-namespace-suffix={s}"
    return ""


def _webhook_action(c: Mapping[str, Any]) -> str:
    """The constraint's action at admission ("" when it takes none there)."""
    spec = c.get("spec") or {}
    action = str(spec.get("enforcementAction") or "deny")
    if action != "scoped":
        return action if action in ACTION_RANK else ""
    best = ""
    for s in spec.get("scopedEnforcementActions") or []:
        points = {p.get("name") for p in s.get("enforcementPoints") or []}
        a = str(s.get("action") or "")
        if points & {WEBHOOK_POINT, "*"} and ACTION_RANK.get(a, 0) > ACTION_RANK.get(best, 0):
            best = a
    return best


def _kinds_include_pod(match: Mapping[str, Any]) -> bool:
    kinds = match.get("kinds")
    if not kinds:
        return True
    return any(
        set(k.get("apiGroups") or []) & {"", "*"} and set(k.get("kinds") or []) & {"Pod", "*"}
        for k in kinds
    )


@dataclass
class _Judgement:
    applies: bool
    reason: str = ""  # why it does not apply
    exclusion: bool = False  # by the constraint's own excludedNamespaces/namespaceSelector


def _judge(c: Mapping[str, Any], ns: str, labels: Mapping[str, str]) -> _Judgement:
    name = (c.get("metadata") or {}).get("name", "?")
    match = (c.get("spec") or {}).get("match") or {}
    where = f"constraint {name} spec.match"
    if not _webhook_action(c):
        return _Judgement(False, f"constraint {name}: no action at {WEBHOOK_POINT}")
    if not _kinds_include_pod(match):
        return _Judgement(False, f"{where}.kinds does not include Pod")
    if (match.get("scope") or "*") not in ("*", "Namespaced"):
        return _Judgement(False, f"{where}.scope {match['scope']}")
    listed = match.get("namespaces")
    if listed and not any(name_matches(p, ns) for p in listed):
        return _Judgement(False, f"{where}.namespaces {listed} does not list it")
    for p in match.get("excludedNamespaces") or []:
        if name_matches(p, ns):
            return _Judgement(False, f"{where}.excludedNamespaces {p}", exclusion=True)
    sel = _selector(match.get("namespaceSelector"))
    if sel is not None and not sel.matches(labels):
        return _Judgement(False, f"{where}.namespaceSelector {sel}", exclusion=True)
    return _Judgement(True)


def _selected(selectors: Iterable[LabelSelector], labels: Mapping[str, str]) -> bool:
    return any(s.matches(labels) for s in selectors)


def compute(
    snap: Snapshot,
    rule: PlatformRule | None = None,
    skip: Mapping[str, str] | None = None,
    prefer: Mapping[str, str] | None = None,
) -> Coverage:
    """Every namespace of ``snap`` as one :class:`Row`. Namespaces carrying every label of
    ``skip`` are listed as not examined; ``prefer`` labels go on the probe Pod where
    they do not get in the way."""
    rule = rule or PlatformRule()
    missing = set(snap.missing)
    if "namespaces" in missing:
        return Coverage([], rule, f"not determined: missing permission {READS['namespaces']}")
    wh = snap.webhook
    cfg_matches = ((snap.config or {}).get("spec") or {}).get("match") or []
    cfg_name = ((snap.config or {}).get("metadata") or {}).get("name", "config")
    constraints = snap.constraints or []
    summary = ""
    if "webhook" not in missing and wh is None:
        summary = (
            f"Gatekeeper's validating webhook {WEBHOOK_POINT} is not registered: every "
            "non-platform namespace is unprotected"
        )
    elif "constraints" not in missing and not constraints:
        summary = (
            "no K8sRequireNetworkPolicy constraint"
            + (" (the kind is not served)" if snap.constraints is None else "")
            + ": every non-platform namespace is unprotected"
        )
    ns_sel = _selector(wh.get("namespaceSelector")) if wh else None
    obj_sel = _selector(wh.get("objectSelector")) if wh else None
    if obj_sel is not None and obj_sel.empty:
        obj_sel = None
    label_sels = [
        s
        for c in constraints
        if (s := _selector(((c.get("spec") or {}).get("match") or {}).get("labelSelector")))
        is not None
        and not s.empty
    ]
    rows = []
    for n in sorted(snap.namespaces, key=lambda n: str(n["name"])):
        ns = str(n["name"])
        labels = {**(n.get("labels") or {}), NAMESPACE_NAME_LABEL: ns}
        pol = snap.policies.get(ns) or []
        sels = [parse_selector(p.get("podSelector") or {}) for p in pol]
        pods = snap.pods.get(ns) or []
        row = Row(ns, COVERED, policies=len(pol), pods=len(pods))
        rows.append(row)
        if skip and all(labels.get(k) == v for k, v in skip.items()):
            row.status = NOT_EXAMINED
            row.notes.append("npconform's own namespace of this run")
            continue
        if n.get("terminating"):
            row.status = TERMINATING
            row.notes.append("being deleted: nothing can be created in it")
            continue
        if "pods" not in missing:
            row.unselected_pods = sum(1 for p in pods if not _selected(sels, p.get("labels") or {}))
        catch = next((p for p, s in zip(pol, sels, strict=True) if s.empty), None)
        row.catch_all = str(catch["name"]) if catch else ""
        _decide(row, snap, rule, labels, wh, ns_sel, cfg_name, cfg_matches, constraints)
        if row.status in (COVERED, EXEMPT, UNPROTECTED):
            _notes(row, wh, obj_sel, label_sels)
            _plan_probe(row, snap, sels, [s for s in (obj_sel, *label_sels[:1]) if s], prefer)
    return Coverage(rows, rule, summary)


def _decide(
    row: Row,
    snap: Snapshot,
    rule: PlatformRule,
    labels: Mapping[str, str],
    wh: Mapping[str, Any] | None,
    ns_sel: LabelSelector | None,
    cfg_name: str,
    cfg_matches: Sequence[Mapping[str, Any]],
    constraints: Sequence[Mapping[str, Any]],
) -> None:
    ns, missing = row.namespace, set(snap.missing)
    out: list[str] = []  # what takes it out of the match
    exclusion = False
    need = []  # reads whose absence leaves it undetermined
    if "webhook" in missing:
        need.append("webhook")
    elif wh is None:
        out.append(f"no validating webhook {WEBHOOK_POINT}")
    elif not _webhook_sees_pods(wh):
        out.append(f"webhook {WEBHOOK_POINT} rules do not include CREATE of pods")
    elif ns_sel is not None and not ns_sel.matches(labels):
        why = f"webhook {WEBHOOK_POINT} namespaceSelector {ns_sel}"
        if IGNORE_LABEL in labels:
            why += f" (the namespace is labelled {IGNORE_LABEL}={labels[IGNORE_LABEL]})"
        out.append(why)
    if "config" in missing:
        need.append("config")
    for i, m in enumerate(cfg_matches):
        procs = list(m.get("processes") or [])
        for p in m.get("excludedNamespaces") or []:
            if name_matches(str(p), ns):
                where = f"Config {cfg_name} spec.match[{i}].excludedNamespaces {p}"
                if {"webhook", "*"} & set(procs):
                    out.append(f"{where} (processes {', '.join(procs)})")
                elif "audit" in procs:
                    row.notes.append(f"not audited: {where} (processes audit)")
    actions: list[tuple[str, str]] = []
    if "constraints" in missing:
        need.append("constraints")
    elif not constraints:
        out.append("no K8sRequireNetworkPolicy constraint")
    else:
        judged = [(c, _judge(c, ns, labels)) for c in constraints]
        for c, j in judged:
            if j.applies:
                actions.append((_webhook_action(c), str(c["metadata"]["name"])))
        if not actions:
            out += [j.reason for _, j in judged]
            exclusion = any(j.exclusion for _, j in judged)
    if not out and not need:
        action = max((a for a, _ in actions), key=ACTION_RANK.__getitem__)
        row.status, row.action = COVERED, action
        row.by = [f"constraint {n} ({a})" for a, n in actions]
        return
    if not out:
        row.status = UNDETERMINED
        row.notes.append(
            "not determined: missing permission " + "; ".join(READS[k] for k in dict.fromkeys(need))
        )
        return
    # something takes it out of the match: exempt or unprotected, by the platform rule
    row.by = out
    row.platform = _platform(rule, labels, ns, exclusion, snap.exempt_flags)
    row.status = EXEMPT if row.platform else UNPROTECTED
    unread = [
        k
        for k, used in (
            ("constraints", rule.constraint_exclusions),
            ("exempt_flags", rule.gatekeeper_exempt),
        )
        if used and k in missing
    ]
    if not row.platform and unread:
        row.status = UNDETERMINED
        row.notes.append(
            "not determined whether it is a platform namespace: missing permission "
            + "; ".join(READS[k] for k in unread)
        )


def _platform(
    rule: PlatformRule,
    labels: Mapping[str, str],
    ns: str,
    exclusion: bool,
    flags: Mapping[str, Sequence[str]],
) -> str:
    for k, v in rule.labels:
        if labels.get(k) == v:
            return f"label {k}={v}"
    for p in rule.namespaces:
        if name_matches(p, ns):
            return f"declared platform namespace {p}"
    if rule.constraint_exclusions and exclusion:
        return "excluded by the constraint itself"
    if rule.gatekeeper_exempt:
        flag = _flags_match(flags, ns)
        if flag:
            return f"Gatekeeper {flag}"
    return ""


def _notes(
    row: Row,
    wh: Mapping[str, Any] | None,
    obj_sel: LabelSelector | None,
    label_sels: Sequence[LabelSelector],
) -> None:
    if row.unselected_pods:
        row.notes.append(
            f"{row.unselected_pods} of its {row.pods} pods no NetworkPolicy selects"
            + (
                " (created before the constraint, or while it was not enforced)"
                if row.status == COVERED
                else ""
            )
        )
    if row.status != COVERED or wh is None:
        return
    if obj_sel is not None:
        row.notes.append(f"pods the webhook objectSelector {obj_sel} does not select escape it")
    for s in label_sels:
        row.notes.append(f"pods the constraint's labelSelector {s} does not select escape it")
    if wh.get("failurePolicy") == "Ignore":
        row.notes.append(
            "fails open: failurePolicy Ignore admits every pod while Gatekeeper is unavailable"
        )
    conds = [str(c.get("name")) for c in wh.get("matchConditions") or []]
    if conds:
        row.notes.append(
            f"webhook matchConditions {', '.join(conds)} are CEL, decided by the API "
            "server: the live dry run shows their effect"
        )


def _plan_probe(
    row: Row,
    snap: Snapshot,
    sels: Sequence[LabelSelector],
    must: Sequence[LabelSelector],
    prefer: Mapping[str, str] | None,
) -> None:
    """The labels of a Pod that no policy of the namespace selects, and the answer the
    computed row expects for it."""
    if "policies" in snap.missing:
        row.notes.append(
            f"not probed live: missing permission {READS['policies']} (needed to choose "
            "labels no policy selects)"
        )
        return
    if row.catch_all:
        row.notes.append(
            f"covered by a catch-all policy: {row.catch_all} selects every pod (computed only)"
        )
        return
    labels, decided = escaping_labels(sels, must, prefer)
    if labels is None:
        row.notes.append(
            "every pod the webhook and the constraint match is selected by one of its "
            "policies (computed only)"
            if decided
            else "no label set escaping its policies was found within the search budget"
        )
        return
    row.probe_labels = labels
    row.expected = LIVE_ANSWER[row.action] if row.status == COVERED else "admitted"


def platform_rule(labels: Sequence[str] = (), namespaces: Sequence[str] = ()) -> PlatformRule:
    """The rule from ``KEY=VALUE`` labels (none given: Welkin's ``owner=operator``) and
    namespace names or patterns. Raises ValueError on a malformed item."""
    pairs = []
    for item in labels:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--platform-label {item!r}: expected KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    for n in namespaces:
        if not n or n.strip("*") == "" or "*" in n.strip("*"):
            raise ValueError(f"--platform-namespace {n!r}: a namespace name, NAME* or *NAME")
    return PlatformRule(labels=tuple(pairs) or (PLATFORM_LABEL,), namespaces=tuple(namespaces))
