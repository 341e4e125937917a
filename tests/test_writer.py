"""The page writer on its own: idempotent, duplicates and NUL characters handled, unchanged rows kept."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from followersync.api.models import parse_page
from followersync.store import writer
from tests.writer_support import NOW, apply_body, item, page_body


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_the_same_page_twice_changes_nothing_but_last_seen(
    engine: sa.Engine, ctx: writer.PassContext
) -> None:
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


def test_a_changed_profile_is_rewritten(engine: sa.Engine, ctx: writer.PassContext) -> None:
    apply_body(engine, ctx, page_body([item(1)]))
    apply_body(engine, ctx, page_body([item(1, name="Renamed")]), NOW + timedelta(hours=1))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, updated_at, first_seen_at FROM instagram_profiles")).one()
    assert row.name == "Renamed"
    assert str(row.updated_at) > str(row.first_seen_at)


def test_duplicates_within_a_page_count_once(engine: sa.Engine, ctx: writer.PassContext) -> None:
    outcome = apply_body(engine, ctx, page_body([item(1), item(2), item(1)]))
    assert (outcome.items, outcome.baseline) == (3, 2)
    assert _count(engine, "SELECT count(*) FROM follow_events") == 2


def test_nul_characters_are_stored_safely(engine: sa.Engine, ctx: writer.PassContext) -> None:
    apply_body(engine, ctx, page_body([item(1, name="Ada\u0000Lovelace 🚀")]))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, raw FROM instagram_profiles")).one()
    assert row.name == "Ada\ufffdLovelace 🚀"
    raw = row.raw if isinstance(row.raw, dict) else json.loads(row.raw)
    assert raw["name"] == "Ada\ufffdLovelace 🚀"


def test_page_checkpoint_and_run_counters_commit_together(engine: sa.Engine, ctx: writer.PassContext) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        writer.apply_page(conn, ctx, parse_page(page_body([item(1)], "c2"), "instagram"), NOW, 1)
        raise RuntimeError("crash before commit")
    assert _count(engine, "SELECT count(*) FROM followers") == 0
    assert _count(engine, "SELECT count(*) FROM sync_checkpoints") == 0
    assert _count(engine, "SELECT pages FROM sync_runs") == 0
    apply_body(engine, ctx, page_body([item(1)], "c2"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT cursor, pages FROM sync_checkpoints")).one() == ("c2", 1)
    assert _count(engine, "SELECT pages FROM sync_runs") == 1
