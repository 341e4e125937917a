"""The page writer on its own: idempotent, duplicates and NUL characters handled, unchanged rows kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from followersync.api.models import parse_page
from followersync.config import SourceConfig
from followersync.store import db, runs, writer

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SOURCE = SourceConfig(name="brand-ig", provider="instagram", account_id="acc_ig")


def _item(i: int, name: str | None = None) -> dict[str, object]:
    return {
        "object": "UserFollower",
        "id": f"17841{i:06d}",
        "messaging_id": f"m{i}",
        "username": f"user_{i}",
        "name": name or f"User {i}",
        "profile_picture_url": f"https://cdn.example/{i}.jpg",
        "is_private": i % 2 == 0,
        "is_verified": False,
    }


def _page(items: list[dict[str, object]], cursor: str | None = "next") -> bytes:
    return json.dumps({"object": "UserFollowersList", "items": items, "cursor": cursor}).encode()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ctx(engine: sa.Engine) -> writer.PassContext:
    with engine.begin() as conn:
        source_id = runs.sync_sources(conn, [SOURCE], NOW)["brand-ig"]
        pass_id = runs.start_pass(conn, source_id, "full", NOW)
        run_id = runs.start_run(conn, source_id, pass_id, "full", "test", NOW)
    return writer.PassContext(source_id, "instagram", pass_id, run_id, full=True, baseline=True)


def _apply(
    engine: sa.Engine, ctx: writer.PassContext, body: bytes, now: datetime = NOW
) -> writer.PageOutcome:
    with engine.begin() as conn:
        return writer.apply_page(conn, ctx, parse_page(body, "instagram"), now, 1)


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_the_same_page_twice_changes_nothing_but_last_seen(
    engine: sa.Engine, ctx: writer.PassContext
) -> None:
    body = _page([_item(i) for i in range(50)])
    assert _apply(engine, ctx, body).new == 50
    snapshot = "SELECT id, updated_at FROM instagram_profiles ORDER BY id"
    with engine.connect() as conn:
        before = list(conn.execute(sa.text(snapshot)))
    second = _apply(engine, ctx, body, NOW + timedelta(minutes=5))
    assert second.new == 0
    assert _count(engine, "SELECT count(*) FROM follow_events") == 50
    assert _count(engine, "SELECT count(*) FROM followers") == 50
    with engine.connect() as conn:
        assert list(conn.execute(sa.text(snapshot))) == before  # unchanged profiles not rewritten
        last_seen = conn.execute(sa.text("SELECT min(last_seen_at) FROM followers")).scalar_one()
    assert str(last_seen).startswith("2026-03-01 12:05")


def test_a_changed_profile_is_rewritten(engine: sa.Engine, ctx: writer.PassContext) -> None:
    _apply(engine, ctx, _page([_item(1)]))
    _apply(engine, ctx, _page([_item(1, name="Renamed")]), NOW + timedelta(hours=1))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, updated_at, first_seen_at FROM instagram_profiles")).one()
    assert row.name == "Renamed"
    assert str(row.updated_at) > str(row.first_seen_at)


def test_duplicates_within_a_page_count_once(engine: sa.Engine, ctx: writer.PassContext) -> None:
    outcome = _apply(engine, ctx, _page([_item(1), _item(2), _item(1)]))
    assert (outcome.items, outcome.new) == (3, 2)
    assert _count(engine, "SELECT count(*) FROM follow_events") == 2


def test_nul_characters_are_stored_safely(engine: sa.Engine, ctx: writer.PassContext) -> None:
    _apply(engine, ctx, _page([_item(1, name="Ada\u0000Lovelace 🚀")]))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, raw FROM instagram_profiles")).one()
    assert row.name == "Ada\ufffdLovelace 🚀"
    raw = row.raw if isinstance(row.raw, dict) else json.loads(row.raw)
    assert raw["name"] == "Ada\ufffdLovelace 🚀"


def test_page_checkpoint_and_run_counters_commit_together(engine: sa.Engine, ctx: writer.PassContext) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        writer.apply_page(conn, ctx, parse_page(_page([_item(1)], "c2"), "instagram"), NOW, 1)
        raise RuntimeError("crash before commit")
    assert _count(engine, "SELECT count(*) FROM followers") == 0
    assert _count(engine, "SELECT count(*) FROM sync_checkpoints") == 0
    assert _count(engine, "SELECT pages FROM sync_runs") == 0
    _apply(engine, ctx, _page([_item(1)], "c2"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT cursor, pages FROM sync_checkpoints")).one() == ("c2", 1)
    assert _count(engine, "SELECT pages FROM sync_runs") == 1
