"""`v_follower_growth_daily` is exact: the same figures as a recount of the events, day by day.

The view reads the events' daily sums (`daily_growth`), which the page writers and unfollow
confirmation keep in the transactions that write the events. Here a story of several weeks on two
sources (baseline, new followers, refollows, unfollows confirmed on a later day and dated back to
the day their follower was first missed, `--accept-unfollows`, incremental passes, quiet weeks) is
synced for real, and after every step the view must equal a recount from `follow_events` done
here in Python: per source and UTC day, the running total from the first event to today, every day
in between included. Both databases.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from followersync.simulator import Fault, Simulator
from followersync.store import db
from tests.harness import Harness, query
from tests.sim_support import MakeSim, instagram_source, linkedin_source

LI = linkedin_source(account_id="acc_li_growth")
IG = instagram_source(account_id="acc_ig_growth")
START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # late in the UTC day: a sync an hour on is tomorrow


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=5, accounts={LI: 230, IG: 140})


@pytest.fixture
def h(db_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = Harness(db_url, sim, [LI, IG], start=START)
    yield harness
    harness.close()


def _day(value: Any) -> date:
    """A day or a timestamp as the database returns it (SQLite: text) as its UTC date."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def recount(h: Harness) -> list[tuple[str, date, int, int, int]]:
    """The growth view's rows recomputed from the events alone."""
    rows = h.query("SELECT source, event, occurred_at FROM v_follow_events")
    per_day: dict[str, Counter[tuple[date, str]]] = defaultdict(Counter)
    for row in rows:
        per_day[row.source][(_day(row.occurred_at), row.event)] += 1
    today = datetime.now(UTC).date()
    expected = []
    for source, counts in sorted(per_day.items()):
        day = min(d for d, _ in counts)
        followers = 0
        while day <= max(today, min(d for d, _ in counts)):
            gained, lost = counts[(day, "follow")], counts[(day, "unfollow")]
            followers += counts[(day, "baseline")] + gained - lost
            expected.append((source, day, followers, gained, lost))
            day += timedelta(days=1)
    return expected


def view(h: Harness, where: str = "") -> list[tuple[str, date, int, int, int]]:
    rows = h.query(f"SELECT * FROM v_follower_growth_daily {where} ORDER BY source, day")
    return [(r.source, _day(r.day), int(r.followers), int(r.gained), int(r.lost)) for r in rows]


def test_the_growth_view_equals_a_recount_of_the_events_through_a_story(h: Harness, sim: Simulator) -> None:
    assert view(h) == []  # no event yet: no row
    h.sync()  # day 1: the baselines
    assert view(h) == recount(h)

    h.advance(hours=2)  # day 2 (UTC): new followers, a few leave
    sim.follow(LI.account_id, 7)
    left = sim.unfollow(LI.account_id, count=3)
    sim.follow(IG.account_id, 2)
    h.sync("full")
    assert view(h) == recount(h)  # the leavers are only missing: no unfollow yet

    h.advance(days=3)  # day 5: the second pass that misses them confirms, dated day 2's pass
    sim.inject(Fault.departure(), account_id=LI.account_id, on_page=1)  # and one more is skipped
    h.sync("full")
    unfollows = h.query("SELECT occurred_at FROM v_follow_events WHERE event = 'unfollow'")
    assert len(unfollows) >= 3
    assert view(h) == recount(h)

    h.advance(days=1)  # day 6: two of the leavers come back; an incremental pass finds new ones
    sim.refollow(LI.account_id, left[:2])
    sim.follow(IG.account_id, 4)
    h.sync("incremental")
    h.sync("full")
    assert view(h) == recount(h)

    h.advance(days=9)  # a quiet week and more, then the user vouches for a pass with many gone
    sim.unfollow(IG.account_id, count=60)
    h.sync("full", accept_unfollows=True, names=[IG.name])
    h.advance(days=1)
    h.sync("full")
    h.sync("full")
    expected = recount(h)
    assert view(h) == expected
    # The figures are what the story did, not only what the recount says.
    last = {source: followers for source, _, followers, _, _ in expected}
    assert last[IG.name] == len(sim.follower_ids(IG.account_id))
    assert last[LI.name] == len(sim.follower_ids(LI.account_id))
    # Filtered as dashboards filter it: one source, recent days.
    since = expected[-1][1] - timedelta(days=30)
    assert view(h, f"WHERE source = '{LI.name}'") == [r for r in expected if r[0] == LI.name]
    assert view(h, f"WHERE day >= '{since.isoformat()}'") == [r for r in expected if r[1] >= since]


def test_the_daily_sums_hold_exactly_the_events_counts(h: Harness, sim: Simulator) -> None:
    h.sync()
    h.advance(days=1)
    sim.follow(LI.account_id, 5)
    sim.unfollow(LI.account_id, count=2)
    for _ in range(3):
        h.sync("full")
        h.advance(hours=5)
    sums = h.query(
        "SELECT s.name AS source, g.day, g.net, g.gained, g.lost FROM daily_growth g"
        " JOIN sources s ON s.id = g.source_id"
    )
    counted: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in h.query("SELECT source, event, occurred_at FROM v_follow_events"):
        figures = counted[(row.source, _day(row.occurred_at))]
        figures[0] += -1 if row.event == "unfollow" else 1
        figures[1] += row.event == "follow"
        figures[2] += row.event == "unfollow"
    assert {(r.source, _day(r.day)): [r.net, r.gained, r.lost] for r in sums} == dict(counted)
    assert sum(lost for _, _, lost in counted.values()) == 2


def test_upgrading_sums_the_events_already_stored(db_url: str, sim: Simulator) -> None:
    """A database synced before the daily sums existed shows the same growth after the upgrade."""
    h = Harness(db_url, sim, [LI, IG], start=START)
    try:
        h.sync()
        h.advance(days=2)
        sim.follow(LI.account_id, 3)
        sim.unfollow(IG.account_id, count=4)
        h.sync("full")
        h.advance(days=1)
        h.sync("full")
        before = view(h)
        assert any(lost for *_, lost in before)
        engine = db.create_engine(db_url)
        db.downgrade(engine, "0004")  # the view of the events, and no daily sums
        assert query(db_url, "SELECT count(*) AS n FROM v_follower_growth_daily")[0].n == len(before)
        assert "daily_growth" not in sa.inspect(engine).get_table_names()
        db.migrate(engine)
        engine.dispose()
        assert view(h) == before == recount(h)
    finally:
        h.close()
