"""Dry-run settling before a real create: one webhook pod's answer is not enough."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from npconform.gatekeeper import admission as adm

BODY = {"kind": "Pod", "metadata": {"namespace": "n", "name": "p"}}


def answers(seq: list[bool]) -> Iterator[adm.Admission]:
    for admitted in seq:
        yield adm.Admission("Pod", "n", "p", admitted)
    while True:  # after the scripted answers the webhook keeps its last one
        yield adm.Admission("Pod", "n", "p", seq[-1])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    calls: dict[str, Any] = {"dry": 0, "real": 0}

    def setup(seq: list[bool], pods: int = 3) -> dict[str, Any]:
        it = answers(seq)

        def create(clients: Any, body: Any, dry_run: bool = False) -> adm.Admission:
            calls["dry" if dry_run else "real"] += 1
            return next(it)

        monkeypatch.setattr(adm, "create", create)
        pod_names = [f"wh-{i}" for i in range(pods)]
        monkeypatch.setattr(adm.gkinstall, "webhook_pods", lambda c: pod_names)
        monkeypatch.setattr(adm.time, "sleep", lambda s: calls.setdefault("sleeps", []).append(s))
        return calls

    return setup


def test_refusal_must_hold_on_a_run_as_long_as_four_answers_per_webhook_pod(fake: Any) -> None:
    # A stale pod still admits after two refusals: the run starts again after it.
    calls = fake([False, False, True] + [False] * 20, pods=3)
    result = adm.wait_refused(None, BODY)  # type: ignore[arg-type]
    assert calls["dry"] == 3 + 12
    assert calls["real"] == 1
    assert not result.admitted


def test_admission_settles_the_same_way(fake: Any) -> None:
    calls = fake([False] * 5 + [True] * 30, pods=1)
    adm.create_after_sync(None, BODY)  # type: ignore[arg-type]
    assert calls["dry"] == 5 + 4


def test_bounded_the_real_create_is_the_verdict(fake: Any) -> None:
    calls = fake([True, False] * 1000, pods=3)
    result = adm.wait_refused(None, BODY, timeout=0.05)  # type: ignore[arg-type]
    assert calls["real"] == 1
    assert result is not None


def test_only_an_unwanted_answer_pauses_the_run(fake: Any) -> None:
    calls = fake([False, False] + [True] * 30, pods=3)
    adm.create_after_sync(None, BODY)  # type: ignore[arg-type]
    assert calls["dry"] == 2 + 12
    assert calls["sleeps"] == [0.25, 0.25]


def test_a_webhook_call_that_fails_while_settling_is_no_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubernetes.client.exceptions import ApiException

    unanswered = ApiException(status=500, reason="Internal Server Error")
    unanswered.body = (
        '{"message":"Internal error occurred: failed calling webhook '
        '\\"validation.gatekeeper.sh\\": context deadline exceeded"}'
    )
    seq: list[Any] = [True, unanswered, *[True] * 12]
    calls = {"dry": 0, "real": 0}

    def create(clients: Any, body: Any, dry_run: bool = False) -> adm.Admission:
        calls["dry" if dry_run else "real"] += 1
        got = seq.pop(0) if dry_run else True
        if isinstance(got, Exception):
            raise got
        return adm.Admission("Pod", "n", "p", got)

    monkeypatch.setattr(adm, "create", create)
    monkeypatch.setattr(adm.gkinstall, "webhook_pods", lambda c: ["a", "b", "c"])
    monkeypatch.setattr(adm.time, "sleep", lambda s: None)
    assert adm.create_after_sync(None, BODY).admitted  # type: ignore[arg-type]
    assert calls == {"dry": 14, "real": 1}  # the run started again after the failed call

    other = ApiException(status=500, reason="Internal Server Error")
    other.body = '{"message":"etcdserver: request timed out"}'
    seq[:] = [other]
    with pytest.raises(ApiException):
        adm.create_after_sync(None, BODY)  # type: ignore[arg-type]


def test_a_set_up_create_is_asked_again_when_the_webhook_did_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A world's pod create that the webhook did not answer in time (refused, nothing
    stored) is asked again, like a denial before the policy is synced; any other error
    raises at once, and the wait is bounded."""
    from kubernetes.client.exceptions import ApiException

    from npconform.cluster import workload

    def error(status: int, message: str) -> ApiException:
        e = ApiException(status=status, reason="x")
        e.body = '{"message":"' + message + '"}'
        return e

    unanswered = error(500, 'failed calling webhook \\"validation.gatekeeper.sh\\": timeout')
    denied = error(403, "[elastisys-require-networkpolicy] No matching networkpolicy found")
    monkeypatch.setattr(workload.time, "sleep", lambda s: None)

    seq: list[Any] = [unanswered, denied, unanswered, "pod"]

    def create() -> Any:
        got = seq.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    assert workload.create_admitted(create, "x/a") == "pod"
    assert seq == []

    seq[:] = [error(500, "etcdserver: request timed out"), "pod"]
    with pytest.raises(ApiException, match="x"):
        workload.create_admitted(create, "x/a")
    assert seq == ["pod"]

    seq[:] = [unanswered] * 3
    clock = iter([0.0, 10.0, 100.0])
    monkeypatch.setattr(workload.time, "monotonic", lambda: next(clock))
    with pytest.raises(ApiException):
        workload.create_admitted(create, "x/a", sync_wait=30)
    assert len(seq) == 1
