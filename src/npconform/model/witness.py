"""Witness labels: a label set that a NetworkPolicy's podSelector selects; and escaping
labels, a label set that none of some selectors selects.

Before a "must be refused" admission case is trusted, a *witness* pod carrying such labels
must be admitted: that proves the case's policy has reached Gatekeeper's inventory, so the
refusal comes from the selector not matching, not from a policy Gatekeeper has not seen yet.
Pure: no Kubernetes client here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npconform.model.netpol import LabelSelector, parse_selector

__all__ = ["WITNESS_VALUE", "escaping_labels", "witness_labels"]

# The value given to a key that a selector only requires to exist.
WITNESS_VALUE = "witness"


def _fresh_value(excluded: set[str]) -> str:
    """``witness``, or ``witness-1``, ``witness-2``... if a NotIn excludes it."""
    value, n = WITNESS_VALUE, 0
    while value in excluded:
        n += 1
        value = f"{WITNESS_VALUE}-{n}"
    return value


def _candidate(selector: LabelSelector) -> dict[str, str] | None:
    """Labels built from the selector's terms, key by key (None: a key is contradictory).

    matchLabels gives its pairs; In the key with its first value (the first one every other
    In and NotIn on the key allows); Exists the key with :data:`WITNESS_VALUE` (or a variant
    a NotIn does not exclude); NotIn and DoesNotExist alone omit the key. The caller checks
    the result against the selector: this only proposes.
    """
    fixed = dict(selector.match_labels)
    in_lists: dict[str, list[tuple[str, ...]]] = {}
    not_in: dict[str, set[str]] = {}
    exists: set[str] = set()
    absent: set[str] = set()
    for r in selector.match_expressions:
        if r.operator == "In":
            in_lists.setdefault(r.key, []).append(r.values)
        elif r.operator == "NotIn":
            not_in.setdefault(r.key, set()).update(r.values)
        elif r.operator == "Exists":
            exists.add(r.key)
        elif r.operator == "DoesNotExist":
            absent.add(r.key)
    labels: dict[str, str] = {}
    for key in sorted({*fixed, *in_lists, *not_in, *exists, *absent}):
        excluded = not_in.get(key, set())
        wanted = key in fixed or key in in_lists or key in exists
        if key in absent:
            if wanted:
                return None
            continue
        if key in fixed:
            labels[key] = fixed[key]
        elif key in in_lists:
            first, *others = in_lists[key]
            allowed = [v for v in first if v not in excluded and all(v in o for o in others)]
            if not allowed:
                return None
            labels[key] = allowed[0]
        elif key in exists:
            labels[key] = _fresh_value(excluded)
        # NotIn alone: the key is left out, which NotIn allows.
    return labels


def witness_labels(selectors: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """Labels selected by at least one of ``selectors`` (podSelector mappings, camelCase
    keys; ``{}`` selects every pod and gives ``{}``), checked with the engine's
    :meth:`LabelSelector.matches`. None when no selector can be satisfied (e.g. ``In [a]``
    and ``NotIn [a]`` on one key) or none is given.

    Raises :class:`~npconform.model.netpol.NetworkPolicyError` on a malformed selector.
    """
    for value in selectors:
        selector = parse_selector(value)
        labels = _candidate(selector)
        if labels is not None and selector.matches(labels):
            return labels
    return None


# -- escaping labels ------------------------------------------------------------------

_ABSENT = None


def _term_ok(op: str, values: Sequence[str], value: str | None) -> bool:
    if op == "=":
        return value == values[0]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    return value is None  # DoesNotExist


def _terms(sel: LabelSelector) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(k, "=", (v,)) for k, v in sel.match_labels] + [
        (r.key, r.operator, r.values) for r in sel.match_expressions
    ]


def escaping_labels(
    avoid: Sequence[LabelSelector],
    must: Sequence[LabelSelector] = (),
    prefer: Mapping[str, str] | None = None,
    budget: int = 20000,
) -> tuple[dict[str, str] | None, bool]:
    """Labels that no selector of ``avoid`` selects and every one of ``must`` does.

    Returns (labels, decided): labels None with decided True means no such label set
    exists (e.g. an empty selector among ``avoid``); decided False means the search ran
    out of ``budget`` steps. Each key a selector names takes a value a selector names, a
    fresh one, or none; ``prefer`` labels are kept where they do not get in the way.
    """
    prefer = dict(prefer or {})
    if any(s.empty for s in avoid):
        return None, True
    sels = [(True, _terms(s)) for s in avoid] + [(False, _terms(s)) for s in must]
    keys = sorted({k for _, ts in sels for k, _, _ in ts})
    mentioned: dict[str, set[str]] = {}
    for _, ts in sels:
        for k, _, vs in ts:
            mentioned.setdefault(k, set()).update(vs)
    domains: dict[str, list[str | None]] = {}
    for k in keys:
        fresh, n = "npconform", 0
        while fresh in mentioned[k]:
            n += 1
            fresh = f"npconform-{n}"
        first: list[str | None] = [prefer[k]] if k in prefer else []
        domains[k] = [*first, _ABSENT, fresh, *sorted(mentioned[k])]
    steps = 0

    def status(assigned: Mapping[str, str | None]) -> bool | None:
        """False: a contradiction; True: every selector decided as wanted; None: open."""
        done = True
        for avoiding, ts in sels:
            broken = any(k in assigned and not _term_ok(op, vs, assigned[k]) for k, op, vs in ts)
            complete = all(k in assigned for k, _, _ in ts)
            if avoiding:
                if not broken and complete:
                    return False  # it selects the pod
                done &= broken
            else:
                if broken:
                    return False
                done &= complete
        return True if done else None

    def search(i: int, assigned: dict[str, str | None]) -> dict[str, str | None] | None:
        nonlocal steps
        steps += 1
        if steps > budget:
            raise _Budget
        st = status(assigned)
        if st is False:
            return None
        if st is True or i == len(keys):
            return dict(assigned) if st is True else None
        k = keys[i]
        for v in dict.fromkeys(domains[k]):
            assigned[k] = v
            found = search(i + 1, assigned)
            if found is not None:
                return found
            del assigned[k]
        return None

    try:
        found = search(0, {})
    except _Budget:
        return None, False
    if found is None:
        return None, True
    labels = {k: v for k, v in prefer.items() if k not in found}
    labels.update({k: v for k, v in found.items() if v is not None})
    return labels, True


class _Budget(Exception):
    pass
