"""Big accounts finish, and a listing that lies is held back.

Two behaviours of the real engine (tests/harness.py: PassRunner, Fleet, BudgetGate, a FakeClock) against
the simulator on a real socket, on SQLite and PostgreSQL:

- A full pass that the daily request budget pauses resumes from its checkpoint on the next UTC day,
  however old that checkpoint is, so a pass that spans days ends and confirms unfollows
  (docs/semantics.md#checkpoints-and-resume). `sync.checkpoint_max_age` (12 h) only restarts a pass
  whose last run failed or was abandoned.
- A listing that ends early on every pass, short by the same 10 %, stays under the fixed guard (25 %)
  but not under the history guard: this source usually loses ten a day, not a hundred
  (docs/unfollows.md#when-unfollows-are-withheld). Ordinary churn, the demo's, is never withheld.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from followersync.cli.demo import FOLLOWERS as DEMO_FOLLOWERS
from followersync.cli.demo import SOURCES as DEMO_SOURCES
from followersync.config import SourceConfig
from followersync.simulator import Fault, Simulator
from followersync.status import attention
from followersync.store import passes, sources
from followersync.store.passes import Checkpoint
from followersync.sync.fleet import Fleet
from followersync.sync.result import SourceResult
from followersync.sync.rules import next_due
from followersync.sync.worker import Worker
from tests.harness import Harness, source_states
from tests.sim_support import MakeSim, linkedin_source

BIG = linkedin_source(name="big-page", account_id="acc_li_big")
FOLLOWERS = 1000
PAGE = 100  # ten pages a pass
BUDGET = 4  # requests per UTC day: a pass takes three days
DAY_1 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # a Monday morning; every sync of a day runs at 9:00


def at_day(h: Harness, day: int) -> None:
    """Move the clock forward to 9:00 UTC of day `day` (DAY_1 is day 1)."""
    target = DAY_1 + timedelta(days=day - 1)
    assert target > h.clock.now()
    h.clock.advance((target - h.clock.now()).total_seconds())


def stored_checkpoint(h: Harness, source: SourceConfig) -> Checkpoint | None:
    """The checkpoint as the engine reads it when it plans a run (times as aware datetimes)."""
    with h.engine.connect() as conn:
        return passes.load_checkpoint(conn, h.ids[source.name])


def follower_row(h: Harness, source: SourceConfig, follower_id: str) -> tuple[str | None, str | None]:
    """(missing_since, unfollowed_at) of a follower, as text, from v_followers."""
    [row] = h.query(
        "SELECT missing_since, unfollowed_at FROM v_followers WHERE source = :s AND follower_id = :f",
        s=source.name,
        f=follower_id,
    )
    return (
        None if row.missing_since is None else str(row.missing_since),
        None if row.unfollowed_at is None else str(row.unfollowed_at),
    )


def budget_days(h: Harness, account_id: str) -> list[int]:
    """Requests counted against the account's budget, per UTC day, oldest first."""
    rows = h.query("SELECT requests FROM request_budget WHERE account_id = :a ORDER BY day", a=account_id)
    return [r.requests for r in rows]


@pytest.fixture
def big_sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=41, accounts={BIG: FOLLOWERS})


@pytest.fixture
def big(db_url: str, big_sim: Simulator) -> Iterator[Harness]:
    harness = Harness(db_url, big_sim, [BIG], page_size=PAGE, budget=BUDGET, start=DAY_1)
    yield harness
    harness.close()


# --- 1. Big accounts finish ---------------------------------------------------------------------------


def test_a_pass_paused_by_the_daily_budget_resumes_each_next_utc_day_and_confirms_unfollows(
    big: Harness, big_sim: Simulator
) -> None:
    h, sim, acc = big, big_sim, BIG.account_id
    max_age = timedelta(seconds=h.settings.sync.checkpoint_max_age)
    assert max_age == timedelta(hours=12)  # the default this test is about

    # Day 1: pass A reads pages 1-4, then the budget stops it.
    [d1] = h.sync()
    assert (d1.status, d1.error_type, d1.mode, d1.pages, d1.requests) == (
        "deferred",
        "budget_exhausted",
        "full",
        4,
        4,
    )
    first = stored_checkpoint(h, BIG)
    assert first is not None and (first.pages, first.last_run_status) == (4, "deferred")
    pass_a = first.pass_id
    assert len(sim.requests_for(acc)) == 4  # the refused fifth request never reached the API
    assert len(h.active(BIG.name)) == 400

    # Someone the pass already listed (page 2) leaves, and someone new follows: ordinary churn that
    # leaves the offsets of the pages still to read where they were.
    leaver = sim.follower_ids(acc)[150]
    sim.unfollow(acc, [leaver])
    [newcomer] = sim.follow(acc, 1)

    # Day 2, 24 h later: the checkpoint is twice `checkpoint_max_age` old, yet the pass resumes at page 5.
    at_day(h, 2)
    assert h.clock.now() - first.updated_at > max_age
    [d2] = h.sync()
    assert (d2.status, d2.error_type, d2.mode, d2.pages, d2.requests) == (
        "deferred",
        "budget_exhausted",
        "full",
        4,
        4,
    )
    second = stored_checkpoint(h, BIG)
    assert second is not None and (second.pass_id, second.pages) == (pass_a, 8)
    assert h.runs(BIG.name)[-1].pass_id == pass_a
    day_2_requests = sim.requests_for(acc)[4:]
    assert len(day_2_requests) == 4 and day_2_requests[0].cursor is not None  # not from page 1
    assert len(h.active(BIG.name)) == 800  # pages 5-8 are new followers, not pages 1-4 again

    # Day 3: pages 9 and 10, and pass A is complete. It listed the leaver before they left.
    at_day(h, 3)
    [d3] = h.sync()
    assert (d3.status, d3.mode, d3.pages, d3.requests, d3.missing, d3.lost) == (
        "succeeded",
        "full",
        2,
        2,
        0,
        0,
    )
    assert stored_checkpoint(h, BIG) is None
    assert [r.pass_id for r in h.runs(BIG.name)] == [pass_a] * 3
    assert [r.requests for r in h.runs(BIG.name)] == [4, 4, 2]
    # Ten pages, ten requests: the attempt past each day's budget is refused before it is sent.
    assert len(sim.requests_for(acc)) == 10
    assert h.active(BIG.name) == set(sim.follower_ids(acc)) - {newcomer} | {leaver}
    assert follower_row(h, BIG, leaver) == (None, None)

    # Pass B starts at once with what is left of day 3's budget (two pages) and spans days 3-5.
    [b1] = h.sync("full")
    assert (b1.status, b1.error_type, b1.pages) == ("deferred", "budget_exhausted", 2)
    pass_b = h.runs(BIG.name)[-1].pass_id
    assert pass_b != pass_a
    at_day(h, 4)
    [b2] = h.sync()
    assert (b2.status, b2.pages) == ("deferred", 4)
    at_day(h, 5)
    [b3] = h.sync()
    assert (b3.status, b3.mode, b3.pages, b3.missing, b3.lost) == ("succeeded", "full", 4, 1, 0)
    assert {r.pass_id for r in h.runs(BIG.name)[3:]} == {pass_b}
    missing_since, unfollowed_at = follower_row(h, BIG, leaver)
    assert missing_since is not None and unfollowed_at is None  # missing, still a follower
    assert h.events(BIG.name, "unfollow") == []
    assert h.events(BIG.name, "follow") == [(newcomer, "follow")]

    # Pass C, days 6-8: auto plans it full (a follower awaits confirmation); it confirms the unfollow.
    at_day(h, 6)
    [c1] = h.sync()
    assert (c1.status, c1.mode, c1.pages) == ("deferred", "full", 4)
    pass_c = h.runs(BIG.name)[-1].pass_id
    assert pass_c not in (pass_a, pass_b)
    at_day(h, 7)
    [c2] = h.sync()
    assert (c2.status, c2.pages, c2.lost) == ("deferred", 4, 0)
    assert follower_row(h, BIG, leaver) == (missing_since, None)  # a paused pass confirms nothing
    at_day(h, 8)
    [c3] = h.sync()
    assert (c3.status, c3.mode, c3.pages, c3.missing, c3.lost) == ("succeeded", "full", 2, 0, 1)
    assert {r.pass_id for r in h.runs(BIG.name)[6:]} == {pass_c}

    assert h.events(BIG.name, "unfollow") == [(leaver, "unfollow")]
    assert follower_row(h, BIG, leaver) == (None, missing_since)  # dated from the first miss
    assert h.active(BIG.name) == set(sim.follower_ids(acc))
    # Three passes of ten pages in eight UTC days, the budget never exceeded.
    assert budget_days(h, acc) == [4, 4, 4, 4, 4, 4, 4, 2]
    assert len(sim.requests_for(acc)) == sum(r.requests for r in h.runs(BIG.name)) == 30
    assert [r.status for r in h.runs(BIG.name)] == ["deferred", "deferred", "succeeded"] * 3


def test_the_worker_resumes_a_budget_paused_pass_at_the_next_utc_midnight(
    big: Harness, big_sim: Simulator
) -> None:
    h, acc = big, BIG.account_id
    worker = Worker(Fleet(h.runner, h.settings), [(BIG, h.ids[BIG.name])])
    [d1] = worker.round()  # never synced: due at once
    assert (d1.status, d1.error_type) == ("deferred", "budget_exhausted")
    pass_id = h.runs(BIG.name)[-1].pass_id

    midnight = datetime(2026, 5, 5, tzinfo=UTC)
    with h.engine.connect() as conn:
        state = sources.source_states(conn, [h.ids[BIG.name]])[h.ids[BIG.name]]
    assert next_due(state, h.settings, h.clock.now()) == midnight
    assert worker.next_source_due() == (BIG.name, midnight)
    assert worker.next_wake() == midnight

    h.clock.advance((midnight - h.clock.now()).total_seconds() - 1)  # 23:59:59, still day 1
    assert worker.round() == []
    assert len(big_sim.requests_for(acc)) == 4

    h.clock.advance(1)  # 00:00:00 UTC, 15 h after the checkpoint was saved
    [d2] = worker.round()
    assert (d2.status, d2.error_type, d2.pages) == ("deferred", "budget_exhausted", 4)
    checkpoint = stored_checkpoint(h, BIG)
    assert checkpoint is not None and (checkpoint.pass_id, checkpoint.pages) == (pass_id, 8)
    assert worker.next_source_due() == (BIG.name, midnight + timedelta(days=1))


@pytest.mark.parametrize(
    ("hours_later", "restarts"),
    [(11, False), (13, True)],
    ids=["younger-than-max-age-resumes", "older-than-max-age-restarts"],
)
def test_a_pass_whose_last_run_failed_restarts_once_its_checkpoint_is_too_old(
    db_url: str, make_sim: MakeSim, hours_later: int, restarts: bool
) -> None:
    small = linkedin_source(name="failing-page", account_id="acc_li_fail")
    sim = make_sim(seed=5, accounts={small: 500})
    h = Harness(db_url, sim, [small], page_size=PAGE, start=DAY_1)
    try:
        sim.inject(Fault.error("errors/expired_credentials"), account_id=small.account_id, on_page=3)
        [failed] = h.sync()
        assert (failed.status, failed.error_type, failed.pages) == (
            "failed",
            "errors/expired_credentials",
            3,
        )
        checkpoint = stored_checkpoint(h, small)
        assert checkpoint is not None and (checkpoint.pages, checkpoint.last_run_status) == (3, "failed")
        requests_before = len(sim.requests_for(small.account_id))

        h.advance(hours=hours_later)  # the account reconnected meanwhile: the fault was used up
        assert (h.clock.now() - checkpoint.updated_at > timedelta(hours=12)) is restarts
        [result] = h.sync()
        assert (result.status, result.mode) == ("succeeded", "full")
        first_request = sim.requests_for(small.account_id)[requests_before]
        run_passes = [r.pass_id for r in h.runs(small.name)]
        if restarts:
            assert result.pages == 5 and first_request.cursor is None  # from page 1
            assert run_passes[1] != checkpoint.pass_id  # a new pass; the old one never completes
            [old] = h.query("SELECT completed_at FROM sync_passes WHERE id = :p", p=checkpoint.pass_id)
            assert old.completed_at is None
        else:
            assert result.pages == 2 and first_request.cursor is not None  # from page 4
            assert run_passes == [checkpoint.pass_id] * 2
        assert stored_checkpoint(h, small) is None
        assert h.active(small.name) == set(sim.follower_ids(small.account_id))
    finally:
        h.close()


def test_a_budget_paused_pass_whose_next_run_failed_restarts_once_its_checkpoint_is_too_old(
    big: Harness, big_sim: Simulator
) -> None:
    # What counts is how the pass's *last* run ended, not its first: paused by the budget on day 1,
    # then a failed run on day 2 makes the day-1 checkpoint subject to checkpoint_max_age again.
    h, sim, acc = big, big_sim, BIG.account_id
    [d1] = h.sync()
    assert (d1.status, d1.error_type) == ("deferred", "budget_exhausted")
    paused = stored_checkpoint(h, BIG)
    assert paused is not None and paused.pages == 4

    at_day(h, 2)
    sim.inject(Fault.error("errors/expired_credentials"), account_id=acc, on_page=4)  # the 5th page
    [failed] = h.sync()
    assert (failed.status, failed.error_type, failed.pages) == ("failed", "errors/expired_credentials", 0)
    after_failure = stored_checkpoint(h, BIG)
    assert after_failure is not None
    assert (after_failure.pass_id, after_failure.pages, after_failure.last_run_status) == (
        paused.pass_id,
        4,
        "failed",
    )

    h.advance(seconds=h.settings.sync.interval)  # the worker retries a failed source after sync.interval
    assert h.clock.now() - after_failure.updated_at > timedelta(seconds=h.settings.sync.checkpoint_max_age)
    [restarted] = h.sync()
    assert (restarted.status, restarted.error_type, restarted.pages) == ("deferred", "budget_exhausted", 3)
    assert sim.requests_for(acc)[5].cursor is None  # page 1 again (the failed request was the 5th)
    fresh = stored_checkpoint(h, BIG)
    assert fresh is not None and fresh.pass_id != paused.pass_id and fresh.pages == 3
    assert budget_days(h, acc) == [4, 4]  # the failed request counted against day 2 as well


# --- 2. A listing that lies is held back ---------------------------------------------------------------


LYING = linkedin_source(name="lying-page", account_id="acc_li_lying")


def test_a_listing_short_by_a_tenth_on_every_pass_is_withheld_until_accepted(
    db_url: str, make_sim: MakeSim
) -> None:
    sim = make_sim(seed=23, accounts={LYING: FOLLOWERS})
    h = Harness(db_url, sim, [LYING], start=DAY_1)
    acc = LYING.account_id
    rng = random.Random(23)
    try:
        h.sync()  # the baseline
        # Ten days of about 1 % churn (as many follow as leave: the listing stays at 1,000). The daily
        # pass (mode full, as the scheduler runs it a day after the last) marks the day's leavers
        # missing; an hour later `auto` plans the confirming full pass itself, because followers await
        # confirmation (sync.confirm_after), and it confirms them: the scheduler's own cadence.
        lost_per_day = []
        for _ in range(10):
            left = sim.unfollow(acc, count=rng.randint(8, 12))
            sim.follow(acc, len(left))
            lost_per_day.append(len(left))
            h.advance(days=1)
            [daily] = h.sync("full")
            assert (daily.status, daily.missing, daily.lost, daily.unfollows_withheld) == (
                "succeeded",
                len(left),
                0,
                0,
            )
            h.advance(hours=1)
            [confirm] = h.sync()
            assert (confirm.mode, confirm.lost, confirm.unfollows_withheld) == ("full", len(left), 0)
        assert len(h.events(LYING.name, "unfollow")) == sum(lost_per_day)
        assert h.active(LYING.name) == set(sim.follower_ids(acc))
        active = len(h.active(LYING.name))

        # From now on every pass ends after the first 900 followers, with `cursor: null`.
        sim.close_listing_early(acc, after=900)
        hidden = set(sim.follower_ids(acc)[900:])
        assert len(hidden) == active - 900 == 100
        # The fixed guard alone would let this through: 100 is well under a quarter of 1,000 (and > 25).
        assert (h.settings.sync.unfollow_guard_fraction, h.settings.sync.unfollow_guard_min) == (0.25, 25)
        assert len(hidden) < 0.25 * active
        usual = max(lost_per_day[-5:])  # the last ten complete full passes: five days, two passes each

        for _ in range(3):  # three days of lying passes, the audience itself holding still
            h.advance(days=1)
            [short] = h.sync("full")
            assert (short.status, short.pages, short.missing, short.lost) == ("succeeded", 9, 0, 0)
            assert short.unfollows_withheld == 100
            assert short.withheld_reason == (
                "100 followers went missing in one pass, far more than this source usually loses "
                f"(at most {usual} in each of its last 10 complete full passes)"
            )
            run = h.runs(LYING.name)[-1]
            assert (run.status, run.unfollows_withheld, run.followers_missing, run.followers_lost) == (
                "succeeded",
                100,
                0,
                0,
            )
            assert "far more than this source usually loses" in run.withheld_reason
            assert "25%" not in run.withheld_reason  # the history guard, not the fixed one

        # Nobody hidden was marked, let alone unfollowed.
        assert hidden <= h.active(LYING.name)
        rows = h.query(
            "SELECT follower_id, missing_since, unfollowed_at FROM v_followers WHERE source = :s",
            s=LYING.name,
        )
        assert {
            r.follower_id for r in rows if r.missing_since is not None or r.unfollowed_at is not None
        } == ({f for f, _ in h.events(LYING.name, "unfollow")})
        assert not hidden & {f for f, _ in h.events(LYING.name, "unfollow")}

        # `status` says so, with the command that releases them.
        [state] = source_states(h.engine, [h.ids[LYING.name]], h.clock.now())
        assert (state.unfollows_withheld, state.missing) == (100, 0)
        text = attention(state)
        assert text is not None
        assert text.startswith("100 unfollows withheld on the last full pass")
        assert "far more than this source usually loses" in text
        assert f"followersync sync --source {LYING.name} --mode full --accept-unfollows" in text

        # The user vouches for the listing: the hundred it does not list are unfollowed at once.
        [accepted] = h.sync("full", accept_unfollows=True)
        assert (accepted.status, accepted.accepted, accepted.lost, accepted.unfollows_withheld) == (
            "succeeded",
            True,
            100,
            0,
        )
        unfollowed = {f for f, _ in h.events(LYING.name, "unfollow")}
        assert hidden <= unfollowed and len(unfollowed) == sum(lost_per_day) + 100
        assert h.active(LYING.name) == set(sim.follower_ids(acc)) - hidden
        [state] = source_states(h.engine, [h.ids[LYING.name]], h.clock.now())
        assert attention(state) is None
    finally:
        h.close()


@pytest.mark.parametrize(
    "seed",
    [
        pytest.param(2026, id="the-demo-itself"),
        # The same rates with other dice: LinkedIn's passes of days 2 and 3 newly miss at most 5 (the
        # departure's two included), then 21 people leave on day 4, well within the demo's 3-22 a day.
        pytest.param(25, id="calm-start-then-an-ordinary-bad-day"),
    ],
)
def test_thirty_days_of_the_demo_s_churn_withhold_nothing(db_url: str, make_sim: MakeSim, seed: int) -> None:
    """The demo's month (followersync/cli/demo.py): its two sources and followers, its churn (8-45
    follows and 3-22 unfollows a day per source, on 1,200 and 2,000 followers, drawn as the demo
    draws them from `random.Random(seed)`), the departure mid-pass on day 2, one `auto` sync a day and
    the confirmation pass an hour after the last. Ordinary churn is what the history guard learns
    from, never what it holds back."""
    sim = make_sim(seed=seed, accounts={s: DEMO_FOLLOWERS[s.name] for s in DEMO_SOURCES})
    h = Harness(db_url, sim, DEMO_SOURCES, start=DAY_1)
    rng = random.Random(seed)
    linkedin = DEMO_SOURCES[0]
    left: dict[str, set[str]] = {s.name: set() for s in DEMO_SOURCES}
    results: list[SourceResult] = []
    try:
        results += h.sync()
        for day in range(2, 31):
            h.advance(days=1)
            for source in DEMO_SOURCES:
                sim.follow(source.account_id, rng.randint(8, 45))
                left[source.name].update(sim.unfollow(source.account_id, count=rng.randint(3, 22)))
            if day == 2:
                sim.inject(Fault.departure(), account_id=linkedin.account_id, on_page=1)
            synced = h.sync()
            assert [(r.status, r.mode) for r in synced] == [("succeeded", "full")] * 2
            withheld = [(day, r.source, r.unfollows_withheld, r.withheld_reason) for r in synced]
            assert [w for w in withheld if w[2]] == []
            if day >= 3:  # the day before's leavers are confirmed by today's pass
                assert all(r.lost > 0 for r in synced), synced
            results += synced
        h.advance(hours=1)
        results += h.sync()

        [departure] = sim.departures
        left[linkedin.name].add(departure.left)
        assert [r.unfollows_withheld for r in results] == [0] * len(results)
        assert [r.withheld_reason for r in results] == [None] * len(results)
        for source in DEMO_SOURCES:
            assert [r.unfollows_withheld for r in h.runs(source.name)] == [0] * 31
            known = {
                r.follower_id
                for r in h.query("SELECT follower_id FROM v_followers WHERE source = :s", s=source.name)
            }
            # Every leaver a pass had listed is confirmed; the few who followed and left the same day
            # (the demo's unfollows pick among today's newcomers too) were never a follower here.
            assert {f for f, _ in h.events(source.name, "unfollow")} == left[source.name] & known
            assert len(left[source.name] - known) < 10
            assert h.active(source.name) == set(sim.follower_ids(source.account_id))
        assert departure.skipped not in left[linkedin.name]  # missed once, never an unfollower
        [li_state, ig_state] = source_states(h.engine, [h.ids[s.name] for s in DEMO_SOURCES], h.clock.now())
        assert (attention(li_state), attention(ig_state)) == (None, None)
    finally:
        h.close()
