"""Every category of Kubernetes' netpol e2e as data (:mod:`npconform.model.e2e_ingress`,
:mod:`npconform.model.e2e_egress`), over the e2e's model (:mod:`npconform.model.e2e_model`)
with expectations in its pattern language (:mod:`npconform.model.expect`). Shared by the
engine's unit tests and the cluster suite."""

from __future__ import annotations

from npconform.model import e2e_egress, e2e_ingress
from npconform.model.e2e_model import EXTERNAL, NAMESPACES, PEERS, PODS, Case, expected_matrix
from npconform.model.expect import EVERYTHING, Expect, allowed_except, blocked_except

__all__ = [
    "CASES",
    "EVERYTHING",
    "EXTERNAL",
    "NAMESPACES",
    "PEERS",
    "PODS",
    "Case",
    "Expect",
    "allowed_except",
    "blocked_except",
    "expected_matrix",
]

CASES: list[Case] = [*e2e_ingress.CASES, *e2e_egress.CASES]
