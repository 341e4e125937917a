"""The two page writers (store/pages/sqlite.py, store/pages/postgresql.py) write the same rows: the same
story of passes, fed to each, leaves the same tables on SQLite and on PostgreSQL.

The story has a baseline pass, a follower listed twice on a page, a NUL character, an item with a
field of the wrong type (coerced, and PostgreSQL's tolerant statement), one without an id
(rejected), a follower who leaves (missed by a complete full pass, then confirmed) and comes back, a
profile change, an incremental pass, and a pass paused at a checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from followersync.api.models import parse_page
from followersync.store import db, pages, passes, runs, sources, unfollows
from followersync.store.schema import metadata
from tests.page_support import NOW, SOURCE, item, page_body

RULE = unfollows.UnfollowRule(confirmations=2, guard_fraction=1.0, guard_min=1000, history_factor=0)


@dataclass
class Pass:
    mode: str
    pages: list[list[dict[str, object]]]  # each page's items; the last page ends the listing
    complete: bool = True


STORY = [
    # The baseline: a follower repeated on a page, a NUL, a wrong type, an item without an id.
    Pass(
        "full",
        [
            [item(1), item(2), item(1, name="User 1 again"), item(3, name="Nul\u0000Name")],
            [item(4, is_private="yes"), {"object": "UserFollower", "name": "No Id"}, item(5), item(6)],
        ],
    ),
    # Follower 2 is not listed (missed once); follower 5 renames; a new follower 7.
    Pass(
        "full", [[item(1), item(3, name="Nul\u0000Name"), item(4)], [item(5, name="Five"), item(6), item(7)]]
    ),
    # An incremental pass lists a newcomer 8.
    Pass("incremental", [[item(8), item(7)]]),
    # Follower 2 missed again: unfollowed. Follower 6 is verified now.
    Pass(
        "full",
        [
            [item(1), item(3, name="Nul\u0000Name"), item(4), item(5, name="Five")],
            [item(6, is_verified=True), item(7), item(8)],
        ],
    ),
    # Follower 2 is back; the pass stops after its first page (a checkpoint is left).
    Pass("full", [[item(2), item(1), item(4)]], complete=False),
]


def play(db_url: str) -> dict[str, list[dict[str, Any]]]:
    """The story on a fresh database at `db_url`: every table, as comparable rows."""
    engine = db.create_engine(db_url)
    try:
        db.migrate(engine)
        now = NOW
        baseline = True
        with engine.begin() as conn:
            source_id = sources.reconcile_sources(conn, [SOURCE], now)["brand-ig"]
        for story_pass in STORY:
            full = story_pass.mode == "full"
            with engine.begin() as conn:
                pass_id = passes.start_pass(conn, source_id, story_pass.mode, now)
                run_id = runs.start_run(conn, source_id, pass_id, story_pass.mode, "test", now)
            started = now
            ctx = pages.PassContext(
                source_id, "instagram", pass_id, run_id, full=full, baseline=baseline and full
            )
            for number, items in enumerate(story_pass.pages, start=1):
                now += timedelta(minutes=1)
                last = number == len(story_pass.pages) and story_pass.complete
                body = page_body(items, cursor=None if last else f"page{number + 1}")
                with engine.begin() as conn:
                    pages.apply_page(conn, ctx, parse_page(body, "instagram"), now, number)
            now += timedelta(minutes=1)
            with engine.begin() as conn:
                outcome = unfollows.UnfollowOutcome(0, 0, 0)
                if full and story_pass.complete:
                    outcome = unfollows.settle_pass(
                        conn, source_id=source_id, pass_id=pass_id, pass_started_at=started,
                        run_id=run_id, now=now, rule=RULE,
                    )  # fmt: skip
                if story_pass.complete:
                    passes.complete_pass(conn, source_id, pass_id, now)
                runs.finish_run(
                    conn, run_id, status="succeeded", now=now, requests=len(story_pass.pages), retries=0,
                    followers_missing=outcome.missing, followers_lost=outcome.lost,
                )  # fmt: skip
            baseline = baseline and not (full and story_pass.complete)
            now += timedelta(days=1)
        return dump(engine)
    finally:
        engine.dispose()


def dump(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, read through the schema's types (aware times, booleans, decoded JSON),
    without the surrogate ids an event table's sequence hands out, sorted."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            surrogate = table.name in ("follow_events", "profile_changes", "rejected_items")
            columns = [c for c in table.columns if not (surrogate and c.name == "id")]
            rows = [
                {c.name: _comparable(c.name, value) for c, value in zip(columns, row, strict=True)}
                for row in conn.execute(sa.select(*columns))
            ]
            tables[table.name] = sorted(rows, key=repr)
    return tables


def _comparable(name: str, value: Any) -> Any:
    if name == "raw" and isinstance(value, str):
        try:
            return json.loads(value)  # jsonb on PostgreSQL: the same document, its own spacing
        except ValueError:
            return value  # a rejected item's text
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def test_both_page_writers_leave_the_same_tables(sqlite_url: str, pg_url: str) -> None:
    on_sqlite, on_postgresql = play(sqlite_url), play(pg_url)
    assert on_sqlite.keys() == on_postgresql.keys()
    for name in on_sqlite:
        assert on_sqlite[name] == on_postgresql[name], name
    # The story did what it says, so that the comparison compares something.
    events = [(row["follower_id"], row["event"]) for row in on_sqlite["follow_events"]]
    assert ("17841000002", "unfollow") in events and ("17841000002", "follow") in events
    assert ("17841000008", "follow") in events and ("17841000001", "baseline") in events
    assert {row["field"] for row in on_sqlite["profile_changes"]} >= {"name", "is_verified"}
    assert len(on_sqlite["rejected_items"]) == 1
    assert [row["pages"] for row in on_sqlite["sync_checkpoints"]] == [1]
    assert sum(row["lost"] for row in on_sqlite["daily_growth"]) == 1
    assert [row["items_coerced"] for row in on_sqlite["sync_runs"]] == [1, 0, 0, 0, 0]
