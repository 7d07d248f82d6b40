"""Every namespace of the cluster: the require-networkpolicy constraint covers it (proven
by a server-side dry run of a Pod no NetworkPolicy there selects), or it is a platform
namespace, by the declared rule; and no tenant service account can switch the safeguard
off (RBAC, each grant confirmed by a SubjectAccessReview). Nothing is created: dry runs
and access reviews persist nothing."""

from __future__ import annotations

import pytest

from npconform.cluster.client import Clients
from npconform.cluster.workload import RUN_LABEL
from npconform.gatekeeper import coverage as gkcov
from npconform.gatekeeper import switches
from npconform.model.coverage import platform_rule
from npconform.platform.target import RunState
from npconform.report.coverage import text

pytestmark = [pytest.mark.admission, pytest.mark.cluster, pytest.mark.check("ADM-COVERAGE")]


def test_every_namespace_is_covered_or_platform(
    clients: Clients, run_state: RunState, probe_image: str, record_evidence
) -> None:
    opts = run_state.options
    rule = platform_rule(opts.platform_labels, opts.platform_namespaces)
    # the run's own namespaces come and go while other tests run: not examined here
    _, cov = gkcov.survey(clients, probe_image, opts.run_id, rule, skip={RUN_LABEL: opts.run_id})
    runner = str((run_state.identity.get("user") or {}).get("username") or "")
    switches.examine(clients, cov, opts.platform_subjects, runner=runner)
    doc = cov.to_json()
    record_evidence("coverage", doc)
    report = text(doc)
    failed = bool(cov.unprotected or cov.disagreeing or cov.breaches)
    assert not failed, report
    if cov.undetermined or not cov.rows or cov.switches_missing:
        what = [f"coverage of {len(cov.undetermined)} namespace(s)"] if cov.undetermined else []
        if not cov.rows:
            what.append("the namespaces")
        if cov.switches_missing:
            what.append(
                "who can switch it off (missing permission "
                + "; ".join(dict.fromkeys(cov.switches_missing))
                + ")"
            )
        raise gkcov.CoverageUndetermined(f"not determined: {', '.join(what)}\n{report}")
