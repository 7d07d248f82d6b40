"""Witness labels: a label set that a NetworkPolicy's podSelector selects.

Before a "must be refused" admission case is trusted, a *witness* pod carrying such labels
must be admitted: that proves the case's policy has reached Gatekeeper's inventory, so the
refusal comes from the selector not matching, not from a policy Gatekeeper has not seen yet.
Pure: no Kubernetes client here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npconform.model.netpol import LabelSelector, parse_selector

__all__ = ["WITNESS_VALUE", "witness_labels"]

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
