"""The report queries (`followersync.reports`) against real syncs, on SQLite and PostgreSQL.

Every check compares a report with a plain SQL query on the public tables and views: a report must say
what the database says. `history()` is also the data of the CLI tests in test_cli_reports.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from followersync import reports, status
from followersync.config import sqlite_file
from followersync.domain import ACCOUNT_CREDENTIAL_TYPES, API_KEY_TYPES
from followersync.simulator import Fault
from followersync.store import leases, passes, runs, sqlite_status
from tests.harness import Harness, source_states
from tests.sim_support import IG, LI, MakeSim, serving

DAYS_AGO = 4


@contextmanager
def history(db_url: str) -> Iterator[Harness]:
    """Four days of two sources, ending a day ago, synced by the real engine:

    day 0  both sources' first full pass (baseline: 250 LinkedIn, 120 Instagram followers)
    day 1  acme-page +7 -3, brand-ig +2 -1
    day 2  acme-page +1 -2; brand-ig loses 60 at once: the guard withholds them
    day 3  acme-page's credentials have expired: its run fails
    """
    with serving(seed=3, accounts={LI: 250, IG: 120}) as sim:
        # Each unfollow confirmed by the pass that first misses it (unfollow_confirmations = 1), so
        # every day's figures are final; test_unfollows.py proves the two-pass default.
        h = Harness(db_url, sim, [LI, IG], unfollow_confirmations=1)
        try:
            start = datetime.now(UTC) - timedelta(days=DAYS_AGO)
            h.advance(seconds=(start - h.clock.now()).total_seconds())
            h.sync("full")
            h.advance(days=1)
            sim.follow(LI.account_id, 7)
            sim.unfollow(LI.account_id, count=3)
            sim.follow(IG.account_id, 2)
            sim.unfollow(IG.account_id, count=1)
            h.sync("full")
            h.advance(days=1)
            sim.follow(LI.account_id, 1)
            sim.unfollow(LI.account_id, count=2)
            sim.unfollow(IG.account_id, count=60)
            h.sync("full")
            h.advance(days=1)
            sim.inject(Fault.error("errors/expired_credentials"), account_id=LI.account_id, times=-1)
            h.sync("full", names=[LI.name])
            yield h
        finally:
            h.close()


def utc(value: Any) -> datetime | None:
    """A time as plain SQL returns it (SQLite: offset-less UTC text) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_day(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def detail(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- status ----------------------------------------------------------------------------------------------


def test_status_says_what_the_tables_say(db_url: str) -> None:
    with history(db_url) as h:
        now = datetime.now(UTC)
        states = source_states(h.engine, [h.ids[LI.name], h.ids[IG.name]], now)
        assert [s.source for s in states] == [LI.name, IG.name]
        for s in states:
            [last] = h.query(
                "SELECT r.* FROM sync_runs r JOIN sources s ON s.id = r.source_id WHERE s.name = :s"
                " ORDER BY r.id DESC LIMIT 1",
                s=s.source,
            )
            assert s.last_run is not None
            assert (s.last_run.id, s.last_run.mode, s.last_run.status, s.last_run.error_type) == (
                last.id,
                last.mode,
                last.status,
                last.error_type,
            )
            assert s.last_run.started_at == utc(last.started_at)
            assert s.last_run.finished_at == utc(last.finished_at)
            assert s.followers == len(h.active(s.source))
            [full] = h.query(
                "SELECT max(p.completed_at) AS at FROM sync_passes p JOIN sources s ON s.id = p.source_id"
                " WHERE s.name = :s AND p.mode = 'full' AND p.completed_at IS NOT NULL",
                s=s.source,
            )
            assert s.last_full_pass_at == utc(full.at)
            assert s.gained_7d == len(h.events(s.source, "follow"))
            assert s.lost_7d == len(h.events(s.source, "unfollow"))
            assert s.checkpoint is None and s.lease is None

        li, ig = states
        assert (li.followers, li.gained_7d, li.lost_7d) == (253, 8, 5)
        assert li.last_run is not None and li.last_run.status == "failed"
        assert status.attention(li) == (
            "reconnect the account in postpress: the last run failed with errors/expired_credentials "
            "(account acc_li_1)"
        )
        assert (ig.followers, ig.unfollows_withheld) == (121, 60)
        assert status.attention(ig) == (
            "60 unfollows withheld on the last full pass (60 of 121 active followers went missing in one "
            "pass (more than 25% and more than 25)); if they really left, run "
            "`followersync sync --source brand-ig --mode full --accept-unfollows`"
        )


def test_status_counts_failures_in_a_row(db_url: str, make_sim: MakeSim) -> None:
    sim = make_sim(seed=5, accounts={IG: 30})
    h = Harness(db_url, sim, [IG])
    try:

        def state() -> status.SourceStatus:
            [s] = source_states(h.engine, [h.ids[IG.name]], h.clock.now())
            return s

        sim.inject(Fault.error("errors/feature_not_implemented"), account_id=IG.account_id, times=-1)
        h.sync()
        h.sync()
        assert state().failed_streak == 2 and status.attention(state()) is None
        h.sync()
        assert state().failed_streak == 3
        assert status.attention(state()) == (
            "the last 3 runs failed (last error: errors/feature_not_implemented): "
            "see `followersync runs --source brand-ig`"
        )
        sim.clear_faults()
        h.sync()
        assert state().failed_streak == 0 and status.attention(state()) is None
    finally:
        h.close()


def _status(**changes: Any) -> status.SourceStatus:
    run = status.LastRun(
        id=9,
        mode="full",
        status=changes.pop("status", "succeeded"),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
        error_type=changes.pop("error_type", None),
    )
    fields: dict[str, Any] = {
        "source": "acme-page",
        "provider": "linkedin",
        "account_id": "acc_1",
        "user_id": None,
        "followers": 10,
        "missing": 0,
        "missing_since": None,
        "gained_7d": 0,
        "lost_7d": 0,
        "last_run": run,
        "last_full_pass_at": None,
        "checkpoint": None,
        "lease": None,
        "last_error_status": None,
        "failed_streak": 0,
        "unfollows_withheld": 0,
    }
    return status.SourceStatus(**{**fields, **changes})


# The 401 types that can mean the API key itself was refused; the other documented 401 types are about
# the linked account, which the API could only judge after accepting the key.
KEY_REFUSALS = {"errors/missing_credentials", "errors/invalid_credentials", "errors/insufficient_privileges"}


@pytest.mark.parametrize("error_type", sorted((API_KEY_TYPES | ACCOUNT_CREDENTIAL_TYPES) - KEY_REFUSALS))
def test_an_account_credential_error_asks_to_reconnect_the_account(error_type: str) -> None:
    note = status.attention(
        _status(status="failed", error_type=error_type, last_error_status=401, failed_streak=1)
    )
    assert note is not None and note.startswith("reconnect the account in postpress") and error_type in note
    assert "POSTPRESS_API_KEY" not in note


@pytest.mark.parametrize("error_type", [*sorted(KEY_REFUSALS), "errors/undocumented", "http_401"])
def test_a_refused_api_key_asks_to_check_postpress_api_key(error_type: str) -> None:
    note = status.attention(
        _status(status="failed", error_type=error_type, last_error_status=401, failed_streak=1)
    )
    assert note is not None and note.startswith("check POSTPRESS_API_KEY") and error_type in note
    assert "reconnect the account" in note  # should the key be right after all
    assert "acc_1" in note


def test_a_wrong_api_key_is_reported_as_such(db_url: str, make_sim: MakeSim) -> None:
    sim = make_sim(api_key="pp_live_the_right_key", seed=5, accounts={LI: 30})
    h = Harness(db_url, sim, [LI])  # which sends API_KEY
    try:
        [result] = h.sync()
        assert (result.status, result.error_type) == ("failed", "errors/invalid_credentials")
        [state] = source_states(h.engine, [h.ids[LI.name]], h.clock.now())
        assert status.attention(state) == (
            "check POSTPRESS_API_KEY: the API did not accept the key (errors/invalid_credentials); "
            "if the key is right, reconnect the account in postpress (account acc_li_1)"
        )
    finally:
        h.close()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, None),
        ({"last_run": None}, None),
        ({"status": "running"}, None),
        ({"status": "deferred"}, None),  # stopped by a signal: nothing to do
        ({"status": "failed", "error_type": "network_error", "failed_streak": 2}, None),
        ({"status": "failed", "error_type": "errors/undocumented", "last_error_status": 401}, "API_KEY"),
        ({"status": "failed", "error_type": "errors/account_restricted"}, "the provider restricted"),
        ({"status": "failed", "error_type": "errors/subscription_required"}, "scopes"),
        ({"status": "failed", "error_type": "errors/resource_not_found"}, "account_id and user_id"),
        ({"status": "failed", "error_type": "network_error", "failed_streak": 4}, "the last 4 runs failed"),
        ({"unfollows_withheld": 30}, "30 unfollows withheld"),
        ({"status": "deferred", "error_type": "budget_exhausted"}, "daily request budget"),
        ({"status": "deferred", "error_type": "errors/too_many_requests"}, "rate-limited"),
    ],
)
def test_attention_names_what_to_do(changes: dict[str, Any], expected: str | None) -> None:
    note = status.attention(_status(**changes))
    if expected is None:
        assert note is None
    else:
        assert note is not None and expected in note


# --- run history and reports ---------------------------------------------------------------------------


def test_run_history_is_every_run_column_newest_first(db_url: str) -> None:
    with history(db_url) as h:
        with h.engine.connect() as conn:
            everything = reports.run_history(conn, limit=100)
            two = reports.run_history(conn, source=IG.name, limit=2)
        rows = h.query(
            "SELECT s.name AS source, r.* FROM sync_runs r JOIN sources s ON s.id = r.source_id"
            " ORDER BY r.id DESC"
        )
        assert len(everything) == len(rows) == 7
        for got, row in zip(everything, rows, strict=True):
            assert list(got) == ["source", *reports.RUN_FIELDS]
            for name in got:
                want = getattr(row, name)
                if name.endswith("_at"):
                    want = utc(want)
                elif name == "error_detail":
                    want = detail(want)
                assert got[name] == want, name
        assert [r["id"] for r in two] == [r.id for r in rows if r.source == IG.name][:2]
        assert everything[0]["error_detail"]["status"] == 401


def test_unfollows_and_growth_say_what_the_views_say(db_url: str) -> None:
    with history(db_url) as h:
        gone = h.query(
            "SELECT source, follower_id, name, handle, unfollowed_at FROM v_followers"
            " WHERE unfollowed_at IS NOT NULL ORDER BY unfollowed_at DESC, source, follower_id"
        )
        today = datetime.now(UTC).date()
        since = today - timedelta(days=DAYS_AGO - 1)
        days = h.query("SELECT source, day, followers, gained, lost FROM v_follower_growth_daily")
        with h.engine.connect() as conn:
            all_unfollows = reports.unfollows(conn)
            li_day_2 = reports.unfollows(conn, source=LI.name, since=utc(gone[0].unfollowed_at))
            growth = reports.growth(conn, since=since)
            ig_growth = reports.growth(conn, since=since, source=IG.name)
            from_baseline = reports.growth(conn, since=today - timedelta(days=DAYS_AGO), source=LI.name)
            # A quote in a user's --source is just a character: the queries bind it.
            evil = "x' OR '1'='1"
            assert reports.unfollows(conn, source=evil) == []
            assert reports.growth(conn, since=since, source=evil) == []
            assert reports.run_history(conn, source=evil) == []
        assert [(u.source, u.follower_id, u.name, u.handle, u.unfollowed_at) for u in all_unfollows] == [
            (r.source, r.follower_id, r.name, r.handle, utc(r.unfollowed_at)) for r in gone
        ]
        assert len(all_unfollows) == 6
        assert [u.source for u in li_day_2] == [LI.name, LI.name]
        assert all(u.handle and u.handle.startswith("https://www.linkedin.com/") for u in li_day_2)

        expected = sorted(
            (r.source, as_day(r.day), r.followers, r.gained, r.lost)
            for r in days
            if as_day(r.day) >= str(since)
        )
        assert [(g.source, g.day.isoformat(), g.followers, g.gained, g.lost) for g in growth] == expected
        assert len(growth) == 2 * DAYS_AGO  # the last 4 days, today included, for each source
        assert {g.source for g in ig_growth} == {IG.name}
        # The baseline counts in followers, not in gained; each day after it adds up.
        assert [(g.followers, g.gained, g.lost) for g in from_baseline] == [
            (250, 0, 0),
            (254, 7, 3),
            (253, 1, 2),
            (253, 0, 0),
            (253, 0, 0),
        ]


def test_a_dead_run_is_abandoned_and_a_live_one_is_not(db_url: str) -> None:
    _abandon_the_dead_run(db_url, "sqlalchemy")


@pytest.mark.integration  # the real command in a subprocess
def test_status_on_a_sqlite_file_abandons_the_same_runs(sqlite_url: str) -> None:
    """As `followersync status` abandons them on a SQLite file, without SQLAlchemy (store/sqlite_status)."""
    _abandon_the_dead_run(sqlite_url, "sqlite3")


def _abandon_the_dead_run(db_url: str, through: str) -> None:
    path = sqlite_file(db_url)
    with history(db_url) as h:
        now = datetime.now(UTC)
        with h.engine.begin() as conn:
            li, ig = h.ids[LI.name], h.ids[IG.name]
            dead = runs.start_run(conn, li, passes.start_pass(conn, li, "full", now), "full", "dead", now)
            assert leases.acquire_lease(conn, IG.account_id, "alive", now, ttl=300)
            live = runs.start_run(conn, ig, passes.start_pass(conn, ig, "full", now), "full", "alive", now)
            if through == "sqlalchemy":
                assert runs.mark_abandoned_runs(conn, now) == 1
        if through == "sqlite3":
            assert path is not None
            reading = sqlite_status.open_reading(path)
            try:
                assert sqlite_status.mark_abandoned_runs(reading, now) == 1
                assert sqlite_status.mark_abandoned_runs(reading, now) == 0
            finally:
                reading.close()
        li_state, ig_state = source_states(h.engine, [li, ig], now)
        assert li_state.last_run == status.LastRun(dead, "full", "abandoned", now, now, None)
        assert ig_state.last_run == status.LastRun(live, "full", "running", now, None, None)
        assert ig_state.lease == status.Lease(holder="alive", expires_at=now + timedelta(seconds=300))
        assert li_state.lease is None
