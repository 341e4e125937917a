"""Errors the API answers with (docs/api.md#errors): every documented type ends its run as that table
says, retried only where a retry can help, recorded with the envelope's type, title, detail and
instance; credential and restriction errors keep the account's other sources from being called.

Each case gets its own linked account with two sources: `err-N` (the account's own followers, where the
error strikes on page 1, the second request) and `err-N-other` (another user's followers, synced after
it with the same lease).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from followersync.simulator import DOCUMENTED_ERRORS, Fault, Simulator
from followersync.sync.result import SourceResult
from tests.faults.support import (
    FOLLOWERS,
    assert_in_step,
    assert_stopped_after,
    error_detail,
    make_harness,
)
from tests.harness import Harness
from tests.sim_support import linkedin_source

MAX_ATTEMPTS = 3  # the harness's api.max_attempts
OTHER_USER = "ACoAAOtherUser"

# docs/semantics.md#retries and docs/api.md#errors, written out again rather than taken from the
# client's tables.
RETRYABLE = {"errors/unexpected_error"} | {
    t for t, (status, _) in DOCUMENTED_ERRORS.items() if status in (503, 504)
}
BLOCKS_ACCOUNT = {"errors/account_restricted"} | {
    t for t, (status, _) in DOCUMENTED_ERRORS.items() if status == 401
}


@dataclass(frozen=True)
class Case:
    fault: Fault
    error_type: str  # what the run records
    retried: bool
    blocks_account: bool
    named: str  # a part of the recorded detail or title that names the problem


def documented(error_type: str, n: int) -> Case:
    return Case(
        Fault.error(error_type, detail=f"Detail of case {n}.", instance=f"req_case_{n}"),
        error_type,
        retried=error_type in RETRYABLE,
        blocks_account=error_type in BLOCKS_ACCOUNT,
        named=f"Detail of case {n}.",
    )


def sync_cases(db_url: str, sim: Simulator, cases: Sequence[Case]) -> tuple[Harness, dict[str, SourceResult]]:
    """Sync every case's two sources in one go; the caller closes the harness."""
    sources = []
    for n, case in enumerate(cases):
        account = f"acc_err_{n}"
        sim.add_account(account, "linkedin", followers=FOLLOWERS)
        sim.add_account(account, "linkedin", followers=30, user_id=OTHER_USER)
        sources += [
            linkedin_source(name=f"err-{n}", account_id=account),
            linkedin_source(name=f"err-{n}-other", account_id=account, user_id=OTHER_USER),
        ]
        attempts = MAX_ATTEMPTS if case.retried else 1
        # Page 1 of the first source fails `attempts` times; a retry too many would succeed.
        sim.inject(case.fault, account_id=account, on_request=2, times=attempts)
    h = make_harness(db_url, sim, sources)
    return h, {result.source: result for result in h.sync()}


def check_case(h: Harness, sim: Simulator, results: dict[str, SourceResult], n: int, case: Case) -> None:
    label = f"case {n}: {case.error_type}"
    own, other = f"err-{n}", f"err-{n}-other"
    assert (results[own].status, results[own].error_type) == ("failed", case.error_type), label
    run = h.runs(own)[-1]
    attempts = MAX_ATTEMPTS if case.retried else 1
    assert (run.status, run.error_type, run.pages) == ("failed", case.error_type, 1), label
    assert (run.requests, run.retries) == (1 + attempts, attempts - 1), label
    detail = error_detail(run)
    assert case.named in " ".join(str(v) for v in detail.values()), label
    assert run.finished_at is not None, label
    source = linkedin_source(name=own, account_id=f"acc_err_{n}")
    assert_stopped_after(h, sim, good_pages=1, source=source)

    other_requests = [r for r in sim.requests_for(f"acc_err_{n}") if r.user_id == OTHER_USER]
    if case.blocks_account:
        assert other_requests == [], f"{label}: the account was called again"
        assert (results[other].status, results[other].error_type) == ("failed", case.error_type), label
    else:
        assert results[other].status == "succeeded", label
        assert [r.status for r in h.runs(other)] == ["succeeded"], label
        assert h.active(other) == set(sim.follower_ids(f"acc_err_{n}", user_id=OTHER_USER))


# A provider_error may be the account's limits: it rests the account instead (the test below).
RESTS_ACCOUNT = "errors/provider_error"


def test_every_documented_error_ends_its_run_as_the_reference_says(db_url: str, sim: Simulator) -> None:
    types = sorted(t for t in DOCUMENTED_ERRORS if t != RESTS_ACCOUNT)
    cases = [documented(t, n) for n, t in enumerate(types)]
    h, results = sync_cases(db_url, sim, cases)
    try:
        for n, case in enumerate(cases):
            check_case(h, sim, results, n, case)
            status, title = DOCUMENTED_ERRORS[case.error_type]
            detail = error_detail(h.runs(f"err-{n}")[-1])
            assert detail["status"] == status
            assert detail["title"] == title
            assert detail["detail"] == f"Detail of case {n}."
            assert detail["instance"] == f"req_case_{n}"
    finally:
        h.close()


def test_a_provider_error_gets_one_quick_retry_then_defers_and_rests_the_account(
    db_url: str, sim: Simulator
) -> None:
    case = dataclasses.replace(documented(RESTS_ACCOUNT, 0), retried=True)
    h, results = sync_cases(db_url, sim, [case])  # page 1 answers provider_error three times
    try:
        assert (results["err-0"].status, results["err-0"].error_type) == ("deferred", RESTS_ACCOUNT)
        run = h.runs("err-0")[-1]
        assert (run.status, run.pages, run.requests, run.retries) == ("deferred", 1, 3, 1)
        detail = error_detail(run)
        assert detail["detail"] == "Detail of case 0." and detail["cooldown"] == 300
        # The account rests: its other source is not called, in this run or the next.
        assert results["err-0-other"].status == "deferred"
        assert [r for r in sim.requests_for("acc_err_0") if r.user_id == OTHER_USER] == []
        assert {r.status for r in h.sync()} == {"deferred"}
        assert len(sim.requests_for("acc_err_0")) == 3
    finally:
        h.close()


def test_a_blocked_account_is_called_again_by_the_next_run(db_url: str, sim: Simulator) -> None:
    case = documented("errors/disconnected_account", 0)
    h, results = sync_cases(db_url, sim, [case])
    try:
        sim.clear_requests()
        results = {r.source: r.status for r in h.sync()}
        assert results == {"err-0": "succeeded", "err-0-other": "succeeded"}
        assert_in_step(h, sim, linkedin_source(name="err-0", account_id="acc_err_0"))
    finally:
        h.close()


HTML = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"

UNDOCUMENTED = [
    # An unknown type is recorded verbatim and judged by its status.
    Case(Fault.error("errors/quota_exceeded", status=500, detail="Quota."), "errors/quota_exceeded",
         retried=False, blocks_account=False, named="Quota."),
    Case(Fault.error("errors/overloaded", status=503, detail="Busy."), "errors/overloaded",
         retried=True, blocks_account=False, named="Busy."),
    Case(Fault.error("errors/session_gone", status=401, detail="Gone."), "errors/session_gone",
         retried=False, blocks_account=True, named="Gone."),
    Case(Fault.error("errors/bad_limit", status=400, detail="Limit."), "errors/bad_limit",
         retried=False, blocks_account=False, named="Limit."),
    # An error body that is not an envelope is judged by its status alone and quoted in the detail.
    Case(Fault.body(HTML, status=502, content_type="text/html"), "http_502",
         retried=False, blocks_account=False, named="not an error envelope (text/html"),
    Case(Fault.body(HTML, status=503, content_type="text/html"), "http_503",
         retried=True, blocks_account=False, named="502 Bad Gateway"),
    Case(Fault.body(b"", status=500, content_type=None), "http_500",
         retried=False, blocks_account=False, named="the body was empty"),
    Case(Fault.body(b'{"title": "Oops", "status": 500}', status=500), "http_500",
         retried=False, blocks_account=False, named='{"title": "Oops"'),
    Case(Fault.body(b'{"type": "", "title": "Blank"}', status=504), "http_504",
         retried=True, blocks_account=False, named="not an error envelope"),
]  # fmt: skip


def test_an_unknown_type_or_a_body_that_is_no_envelope_is_judged_by_its_status(
    db_url: str, sim: Simulator
) -> None:
    h, results = sync_cases(db_url, sim, UNDOCUMENTED)
    try:
        for n, case in enumerate(UNDOCUMENTED):
            check_case(h, sim, results, n, case)
    finally:
        h.close()
