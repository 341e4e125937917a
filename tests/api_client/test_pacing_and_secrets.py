"""Requests of one account are paced and never overlap; the API key never shows."""

from __future__ import annotations

import itertools
import logging
import random
import threading

import pytest
import structlog

from followersync.api import (
    NetworkError,
    Pacer,
    PostpressError,
    RequestStats,
    TransientApiError,
)
from followersync.clock import FakeClock, SystemClock
from followersync.simulator import Fault, Simulator
from tests.api_client.support import KEY, LI, fetch, make_client
from tests.sim_support import instagram_source, linkedin_source

# -- pacing through the client -------------------------------------------------------------------------


def test_requests_of_an_account_are_spaced_by_the_interval_plus_jitter(
    sim: Simulator, clock: FakeClock
) -> None:
    with make_client(sim.base_url, clock, interval=3.0) as client:
        stats = RequestStats()
        list(client.pages(LI, cursor=None, limit=100, stats=stats))
    assert len(clock.sleeps) == 2
    assert all(3.0 <= s <= 4.5 for s in clock.sleeps)
    assert stats.waited == pytest.approx(sum(clock.sleeps))


def test_one_request_in_flight_per_account_across_threads(sim: Simulator) -> None:
    sim.set_latency(0.02)
    with make_client(sim.base_url, SystemClock()) as client:

        def work() -> None:
            for _ in range(3):
                fetch(client, LI)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(sim.requests_for("acc_li")) == 12
    assert sim.max_in_flight("acc_li") == 1


def test_different_accounts_run_concurrently(sim: Simulator) -> None:
    accounts = [f"acc_par_{i}" for i in range(4)]
    for account in accounts:
        sim.add_account(account, "instagram", followers=5)
    # Each request is held in the server until all four are in flight at once: had the client queued
    # them behind each other, the first would never be answered and the barrier would break (an
    # error of the simulator, which make_sim turns into this test's failure).
    all_in_flight = threading.Barrier(len(accounts), timeout=30)
    met: list[int] = []
    sim.on_request(lambda record: met.append(all_in_flight.wait()))
    with make_client(sim.base_url, SystemClock(), interval=10.0) as client:
        threads = [
            threading.Thread(target=fetch, args=(client, instagram_source(name=a, account_id=a)))
            for a in accounts
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(sim.requests) == 4
    assert sorted(met) == [0, 1, 2, 3]  # every request was in flight with the three others


def test_real_spacing_is_at_least_the_interval_and_not_a_fixed_rhythm(sim: Simulator) -> None:
    sim.add_account("acc_small_pages", "linkedin", followers=60)
    source = linkedin_source(name="small", account_id="acc_small_pages")
    pacer = Pacer(SystemClock(), random.Random(3))
    with make_client(sim.base_url, SystemClock(), interval=0.05, pacer=pacer) as client:
        pages = list(client.pages(source, cursor=None, limit=10, stats=RequestStats()))
    assert len(pages) == 6
    starts = [r.started for r in sim.requests_for("acc_small_pages")]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.048 for gap in gaps), gaps  # a hair of slack for the server's own clock read
    assert max(gaps) - min(gaps) > 0.005, gaps


# -- the key stays secret -------------------------------------------------------------------------------


def test_the_key_never_appears_in_errors_reprs_or_logs(
    sim: Simulator, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that echoes the key back, in every place it could.
    faults = [
        Fault.error("errors/invalid_credentials", title=f"bad {KEY}", detail=f"key {KEY}", instance=KEY),
        Fault.body(f"<html>{KEY}</html>".encode(), status=502, content_type="text/html"),
        Fault.body(f"oops {KEY}".encode(), status=200),
        Fault.page_transform(lambda p: {**p, "object": KEY}),
    ]
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs, make_client(sim.base_url, clock, max_attempts=2) as client:
        texts.append(repr(client))
        for fault in faults:
            sim.inject(fault, account_id="acc_li")
            with pytest.raises(PostpressError) as caught:
                fetch(client)
            error = caught.value
            texts += [str(error), repr(error), repr(error.args), repr(error.error_detail), repr(vars(error))]
        # Retried errors are logged: their text must be scrubbed too.
        sim.inject(
            Fault.error("errors/service_unavailable", detail=f"echo {KEY}"), account_id="acc_li", times=-1
        )
        with pytest.raises(TransientApiError) as caught:
            fetch(client)
        texts += [str(caught.value), repr(caught.value.error_detail)]
    texts += [repr(event) for event in logs]
    texts += [record.getMessage() + repr(record.args) for record in caplog.records]
    assert any(e["event"] == "api.retry" for e in logs)
    assert texts
    for text in texts:
        assert KEY not in text


def test_a_malformed_key_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError) as caught:
        make_client("http://127.0.0.1:1/api/v1", FakeClock(), key="pp live\nsecret")
    assert "secret" not in str(caught.value)


def test_a_base_url_without_scheme_fails_at_once(clock: FakeClock) -> None:
    with make_client("api.postpress.ai/api/v1", clock) as client, pytest.raises(NetworkError) as caught:
        fetch(client)
    assert caught.value.attempts == 1
    assert "api.postpress.ai/api/v1" in str(caught.value)
    assert clock.sleeps == []
