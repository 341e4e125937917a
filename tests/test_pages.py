"""Writing one page (store/pages), on SQLite and PostgreSQL: idempotent, duplicates and NUL characters
handled, unchanged rows kept, comebacks, incremental pages, empty pages, the last occurrence of a
repeated follower, database errors as SQLAlchemy errors, and (PostgreSQL) the asynchronous commit of
a page and only of a page."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from followersync.api.client import RequestStats
from followersync.api.models import parse_page
from followersync.store import db, pages, passes, runs, sources
from tests.page_support import NOW, SOURCE, apply_body, item, page_body


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_the_same_page_twice_changes_nothing_but_last_seen(engine: sa.Engine, ctx: pages.PassContext) -> None:
    body = page_body([item(i) for i in range(50)])
    assert apply_body(engine, ctx, body).baseline == 50
    snapshot = "SELECT id, updated_at FROM instagram_profiles ORDER BY id"
    with engine.connect() as conn:
        before = list(conn.execute(sa.text(snapshot)))
    second = apply_body(engine, ctx, body, NOW + timedelta(minutes=5))
    assert (second.new, second.baseline) == (0, 0)
    assert _count(engine, "SELECT count(*) FROM follow_events") == 50
    assert _count(engine, "SELECT count(*) FROM followers") == 50
    with engine.connect() as conn:
        assert list(conn.execute(sa.text(snapshot))) == before  # unchanged profiles not rewritten
        last_seen = conn.execute(sa.text("SELECT min(last_seen_at) FROM followers")).scalar_one()
    assert str(last_seen).startswith("2026-03-01 12:05")


def test_a_changed_profile_is_rewritten(engine: sa.Engine, ctx: pages.PassContext) -> None:
    apply_body(engine, ctx, page_body([item(1)]))
    apply_body(engine, ctx, page_body([item(1, name="Renamed")]), NOW + timedelta(hours=1))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, updated_at, first_seen_at FROM instagram_profiles")).one()
    assert row.name == "Renamed"
    assert str(row.updated_at) > str(row.first_seen_at)


def test_duplicates_within_a_page_count_once(engine: sa.Engine, ctx: pages.PassContext) -> None:
    outcome = apply_body(engine, ctx, page_body([item(1), item(2), item(1)]))
    assert (outcome.items, outcome.baseline) == (3, 2)
    assert _count(engine, "SELECT count(*) FROM follow_events") == 2


def test_nul_characters_are_stored_safely(engine: sa.Engine, ctx: pages.PassContext) -> None:
    apply_body(engine, ctx, page_body([item(1, name="Ada\u0000Lovelace 🚀")]))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, raw FROM instagram_profiles")).one()
    assert row.name == "Ada\ufffdLovelace 🚀"
    raw = row.raw if isinstance(row.raw, dict) else json.loads(row.raw)
    assert raw["name"] == "Ada\ufffdLovelace 🚀"


def test_page_checkpoint_and_run_counters_commit_together(engine: sa.Engine, ctx: pages.PassContext) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        pages.apply_page(conn, ctx, parse_page(page_body([item(1)], "c2"), "instagram"), NOW, 1)
        raise RuntimeError("crash before commit")
    assert _count(engine, "SELECT count(*) FROM followers") == 0
    assert _count(engine, "SELECT count(*) FROM sync_checkpoints") == 0
    assert _count(engine, "SELECT pages FROM sync_runs") == 0
    apply_body(engine, ctx, page_body([item(1)], "c2"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT cursor, pages FROM sync_checkpoints")).one() == ("c2", 1)
    assert _count(engine, "SELECT pages FROM sync_runs") == 1


def _rows(engine: sa.Engine, sql: str) -> list[sa.Row[object]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def test_a_follower_back_after_an_unfollow_is_active_again_with_a_follow_event(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    apply_body(engine, ctx, page_body([item(1), item(2)]))
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE followers SET unfollowed_at = :t WHERE follower_id = '17841000001'"), {"t": NOW}
        )
    later = replace(ctx, baseline=False)
    outcome = apply_body(engine, later, page_body([item(1), item(2), item(3)]), NOW + timedelta(hours=1))
    assert (outcome.items, outcome.new) == (3, 2)  # 1 came back, 3 is new, 2 was there all along
    events = [tuple(e) for e in _rows(engine, "SELECT follower_id, event FROM follow_events ORDER BY id")]
    assert events[:2] == [("17841000001", "baseline"), ("17841000002", "baseline")]
    assert sorted(events[2:]) == [("17841000001", "follow"), ("17841000003", "follow")]
    [back] = _rows(
        engine, "SELECT unfollowed_at, last_seen_pass_id FROM followers WHERE follower_id = '17841000001'"
    )
    assert back.unfollowed_at is None and back.last_seen_pass_id == ctx.pass_id
    # followers_new counts follow events: the first page's two were the baseline.
    assert _rows(engine, "SELECT followers_new FROM sync_runs")[0][0] == 2


def test_a_long_page_of_arrivals_and_comebacks_records_each_event_once(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    # Longer than the SQLite writer inserts in one statement, with comebacks among the baseline.
    apply_body(engine, ctx, page_body([item(i) for i in range(10)]))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE followers SET unfollowed_at = :t WHERE follower_id IN ('17841000003', '17841000007')"
            ),
            {"t": NOW},
        )
    outcome = apply_body(engine, ctx, page_body([item(i) for i in range(900)]), NOW + timedelta(hours=1))
    assert (outcome.items, outcome.new, outcome.baseline) == (900, 2, 890)
    events = _rows(engine, "SELECT follower_id, event FROM follow_events ORDER BY id")[10:]
    expected = [(f"17841{i:06d}", "follow" if i in (3, 7) else "baseline") for i in [3, 7, *range(10, 900)]]
    assert sorted(tuple(e) for e in events) == expected


def test_an_incremental_page_does_not_count_as_seen_by_the_full_pass(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    apply_body(engine, ctx, page_body([item(1)]))
    with engine.begin() as conn:
        pass_id = passes.start_pass(conn, ctx.source_id, "incremental", NOW)
    incremental = replace(ctx, pass_id=pass_id, full=False, baseline=False)
    outcome = apply_body(engine, incremental, page_body([item(1), item(2)]), NOW + timedelta(minutes=5))
    assert outcome.new == 1
    seen = dict(_rows(engine, "SELECT follower_id, last_seen_pass_id FROM followers"))  # type: ignore[arg-type]
    assert seen == {"17841000001": ctx.pass_id, "17841000002": None}
    assert _rows(engine, "SELECT count(*) FROM sync_checkpoints")[0][0] == 1  # the full pass's, untouched
    assert [tuple(r) for r in _rows(engine, "SELECT follower_id, event FROM follow_events ORDER BY id")] == [
        ("17841000001", "baseline"),
        ("17841000002", "follow"),
    ]


def test_an_empty_page_still_counts_and_moves_the_checkpoint(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    outcome = apply_body(engine, ctx, page_body([], cursor=None), page_no=4)
    assert (outcome.items, outcome.new) == (0, 0)
    assert tuple(_rows(engine, "SELECT pages, items FROM sync_runs")[0]) == (1, 0)
    assert tuple(_rows(engine, "SELECT cursor, pages FROM sync_checkpoints")[0]) == (None, 4)


def test_page_times_compare_with_the_times_sqlalchemy_writes_at_the_same_instant(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    # NOW is a whole second: on SQLite the page's times must be stored as SQLAlchemy stores the
    # run's (with `.000000`), or text comparison puts the page before its own run.
    apply_body(engine, ctx, page_body([item(1)]))
    sql = (
        "SELECT count(*) FROM followers f JOIN sync_runs r ON r.source_id = f.source_id"
        " WHERE f.first_seen_at = r.started_at AND f.last_seen_at = r.started_at"
    )
    assert _rows(engine, sql)[0][0] == 1
    events = "SELECT count(*) FROM follow_events e JOIN sync_runs r ON r.id = e.run_id"
    assert _rows(engine, f"{events} WHERE e.occurred_at = r.started_at")[0][0] == 1


def test_a_page_saves_the_runs_request_counts_with_its_counters(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    # A run killed before it ends never writes its totals: each page keeps them current.
    body = parse_page(page_body([item(1)]), "instagram")
    with engine.begin() as conn:
        pages.apply_page(conn, ctx, body, NOW, 1, RequestStats(requests=3, retries=1))
    assert tuple(_rows(engine, "SELECT pages, requests, retries FROM sync_runs")[0]) == (1, 3, 1)
    with engine.begin() as conn:
        pages.apply_page(conn, ctx, body, NOW, 2)  # no counts given: the saved ones stay
    assert tuple(_rows(engine, "SELECT pages, requests, retries FROM sync_runs")[0]) == (2, 3, 1)


def test_a_follower_listed_twice_keeps_its_last_occurrence(engine: sa.Engine, ctx: pages.PassContext) -> None:
    outcome = apply_body(engine, ctx, page_body([item(1, name="Before"), item(2), item(1, name="After")]))
    assert (outcome.items, outcome.baseline) == (3, 2)
    [row] = _rows(engine, "SELECT name, raw FROM instagram_profiles WHERE id = '17841000001'")
    raw = row.raw if isinstance(row.raw, dict) else json.loads(row.raw)
    assert row.name == raw["name"] == "After"


def test_unknown_fields_and_a_missing_optional_field_are_stored_as_sent(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    sent = item(1, profile_picture_url=None, badge={"level": 3})
    apply_body(engine, ctx, page_body([sent, item(2, profile_picture_url="https://cdn.example/2.jpg")]))
    sql = "SELECT id, profile_picture_url, is_private, raw FROM instagram_profiles"
    rows = {r.id: r for r in _rows(engine, sql)}
    first = rows["17841000001"]
    assert first.profile_picture_url is None and bool(first.is_private) is False
    assert (first.raw if isinstance(first.raw, dict) else json.loads(first.raw))["badge"] == {"level": 3}
    assert rows["17841000002"].profile_picture_url == "https://cdn.example/2.jpg"
    assert bool(rows["17841000002"].is_private) is True


def test_a_database_error_is_an_sqlalchemy_error_and_writes_nothing(
    engine: sa.Engine, ctx: pages.PassContext
) -> None:
    # The checkpoint's foreign key fails, the page's last statement: profiles, followers and events
    # were written before it in the same transaction.
    no_such_run = replace(ctx, run_id=9999)
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        pages.apply_page(conn, no_such_run, parse_page(page_body([item(1)]), "instagram"), NOW, 1)
    assert _rows(engine, "SELECT count(*) FROM followers")[0][0] == 0
    assert _rows(engine, "SELECT pages FROM sync_runs")[0][0] == 0
    assert apply_body(engine, ctx, page_body([item(1)])).baseline == 1  # the connection is usable again


@pytest.mark.postgres
@pytest.mark.durable_commits  # the server's default, which the page's transaction alone turns off
def test_on_postgresql_a_page_commits_asynchronously_and_nothing_else_does(
    pg_url: str,
) -> None:
    engine = db.create_engine(pg_url)
    try:
        db.migrate(engine)
        with engine.begin() as conn:
            source_id = sources.reconcile_sources(conn, [SOURCE], NOW)["brand-ig"]
            pass_id = passes.start_pass(conn, source_id, "full", NOW)
            run_id = runs.start_run(conn, source_id, pass_id, "full", "test", NOW)
            assert conn.execute(sa.text("SHOW synchronous_commit")).scalar_one() == "on"
        ctx = pages.PassContext(source_id, "instagram", pass_id, run_id, full=True, baseline=True)
        with engine.begin() as conn:
            pages.apply_page(conn, ctx, parse_page(page_body([item(1)]), "instagram"), NOW, 1)
            assert conn.execute(sa.text("SHOW synchronous_commit")).scalar_one() == "off"
        with engine.begin() as conn:  # the next transaction on the same connection: durable again
            assert conn.execute(sa.text("SHOW synchronous_commit")).scalar_one() == "on"
    finally:
        engine.dispose()


@pytest.mark.parametrize("provider", ["linkedin", "instagram"])
@pytest.mark.parametrize("full", [True, False])
def test_the_page_statement_is_short_enough_for_the_driver_to_convert_it_once(
    provider: str, full: bool
) -> None:
    """psycopg converts and caches a statement's text only up to MAX_CACHED_STATEMENT_LENGTH bytes: a
    longer page statement is parsed again for every page (~5% of a pass over an unchanged listing)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH  # the driver's limit, read where it lives

    from followersync.store.pages.postgresql import _page_sql

    assert len(_page_sql(provider, full).encode()) <= MAX_CACHED_STATEMENT_LENGTH
