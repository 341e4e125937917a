"""Every SQL query in the README and docs/ runs on SQLite and on PostgreSQL as printed, against a synced
database with a known story, and gives the answer its title promises: the docs cannot rot.

A query's title is its first `--` comment line; a line marked `-- PostgreSQL` is replaced on SQLite by
the `-- SQLite: ...` line below it (the README's convention for date arithmetic, "The database").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from followersync.reports import as_utc
from followersync.sync.result import SourceResult
from tests.docs_support import documented_queries, run
from tests.harness import Harness
from tests.sim_support import LI, MakeSim


@dataclass
class Story:
    """What the synced database holds, as the tests made it happen."""

    h: Harness
    came_back: str
    left_long_ago: str
    left_this_week: str
    missing: str
    new_job: str
    first_day: date
    results: list[SourceResult] = field(default_factory=list)

    def rows(self, sql: str) -> list[sa.Row[Any]]:
        with self.h.engine.connect() as conn:
            return run(conn, sql)


@pytest.fixture
def story(db_url: str, make_sim: MakeSim) -> Iterator[Story]:
    sim = make_sim(seed=21, accounts={LI: 40})
    now = datetime.now(UTC)
    h = Harness(db_url, sim, [LI], start=now - timedelta(days=40, hours=6))
    results: list[SourceResult] = []

    def sync(mode: str = "auto") -> None:
        results.extend(h.sync(mode))

    first_day = h.clock.now().date()
    sync()  # the baseline, forty days ago: before the growth query's window
    baseline = sim.follower_ids(LI.account_id)
    h.advance(days=30, hours=20)
    (new,) = sim.follow(LI.account_id, 1)
    sync()
    left_long_ago, gone_for_good = baseline[5], baseline[6]
    sim.unfollow(LI.account_id, [left_long_ago, gone_for_good])
    sync("full")
    h.advance(hours=2)
    sync("full")  # confirmed, nine days ago
    h.advance(days=6)
    sim.unfollow(LI.account_id, [new])
    sync("full")
    h.advance(hours=2)
    sync("full")  # confirmed, three days ago
    h.advance(days=2)
    sim.refollow(LI.account_id, [left_long_ago])
    sync()
    missing = baseline[9]
    sim.unfollow(LI.account_id, [missing])
    new_job = baseline[12]
    sim.change_profile(LI.account_id, new_job, headline="Head of Growth at Bolt")
    h.advance(days=1)
    sync("full")  # missed once: awaiting confirmation; and a new headline
    assert h.clock.now() <= datetime.now(UTC)
    yield Story(h, left_long_ago, left_long_ago, new, missing, new_job, first_day, results)
    h.close()


def _days(story: Story) -> list[date]:
    today = datetime.now(UTC).date()
    return [story.first_day + timedelta(days=n) for n in range((today - story.first_day).days + 1)]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def check_growth(story: Story, rows: list[sa.Row[Any]]) -> None:
    assert [_as_date(r.day) for r in rows] == _days(story)[-30:]
    active = story.rows("SELECT count(*) FROM v_followers WHERE is_active")[0][0]
    assert rows[-1].followers == active
    # gained: a new follower and a comeback; lost: two nine days ago, one three days ago
    assert sum(r.gained for r in rows) == 2 and sum(r.lost for r in rows) == 3


def check_unfollowed_this_week(story: Story, rows: list[sa.Row[Any]]) -> None:
    assert [r.follower_id for r in rows] == [story.left_this_week]


def check_came_back(story: Story, rows: list[sa.Row[Any]]) -> None:
    assert [(r.source, r.follower_id, r.comebacks) for r in rows] == [(LI.name, story.came_back, 1)]


def check_missing(story: Story, rows: list[sa.Row[Any]]) -> None:
    assert [r.follower_id for r in rows] == [story.missing]


def check_runs_that_marked(story: Story, rows: list[sa.Row[Any]]) -> None:
    marked = [r.run_id for r in story.results if r.missing or r.lost or r.unfollows_withheld]
    assert sorted(r.id for r in rows) == sorted(marked) and len(marked) == 5


def check_new_jobs(story: Story, rows: list[sa.Row[Any]]) -> None:
    [changed_at] = [r.changed_at for r in story.rows("SELECT changed_at FROM profile_changes")]
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = as_utc(changed_at) >= month_start  # the sync that saw it may have been last month
    handle = story.rows(f"SELECT handle FROM v_followers WHERE follower_id = '{story.new_job}'")[0][0]
    assert [(r.handle, r.new_headline) for r in rows] == (
        [(handle, "Head of Growth at Bolt")] if this_month else []
    )
    assert all(r.source == LI.name for r in rows)


def check_rejected(story: Story, rows: list[sa.Row[Any]]) -> None:
    # The story's listings sent every item with an id: nothing is quarantined.
    assert rows == [] and story.rows("SELECT count(*) FROM rejected_items")[0][0] == 0


# The answer each documented query must give, by its title.
EXPECTED: dict[str, Callable[[Story, list[sa.Row[Any]]], None]] = {
    "Followers and net growth over the last 30 days (every day has a row, today included)": check_growth,
    "Who unfollowed this week": check_unfollowed_this_week,
    "Churn: followers who left and came back (a follow event after an unfollow)": check_came_back,
    "Followers not listed by the last full pass, awaiting confirmation": check_missing,
    "Followers awaiting confirmation": check_missing,
    "Runs that marked followers missing, confirmed unfollows or withheld them": check_runs_that_marked,
    "Who changed jobs this month: LinkedIn followers' new headlines": check_new_jobs,
    "Items the API sent without a usable id, newest first": check_rejected,
}


def test_every_documented_query_has_an_expected_answer() -> None:
    queries = documented_queries()
    assert len(queries) >= 6
    unknown = [f"{q.document}: {q.title}" for q in queries if q.title not in EXPECTED]
    assert unknown == [], "add the answer these queries must give to EXPECTED"


def test_every_documented_query_gives_its_answer(story: Story) -> None:
    dialect = story.h.engine.dialect.name
    for query in documented_queries():
        rows = story.rows(query.for_dialect(dialect))
        try:
            EXPECTED[query.title](story, rows)
        except AssertionError as exc:
            raise AssertionError(f"{query.document}: {query.title} on {dialect}: {exc}") from exc
