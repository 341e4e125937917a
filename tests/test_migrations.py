"""The schema is created only by alembic migrations, which agree with the table definitions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from followersync.store import db
from followersync.store.schema import metadata
from followersync.store.views import VIEW_NAMES

PUBLIC_COLUMNS = {
    "sources": {"id", "name", "provider", "account_id", "user_id"},
    "sync_runs": {
        "id", "source_id", "mode", "status", "started_at", "finished_at", "pages", "items",
        "followers_new", "followers_lost", "unfollows_withheld", "requests", "retries",
        "error_type", "error_detail",
    },
    "sync_checkpoints": {"source_id", "run_id", "cursor", "pages", "updated_at"},
    "v_followers": {
        "source", "provider", "follower_id", "name", "handle", "first_seen_at", "last_seen_at",
        "unfollowed_at", "is_active",
    },
    "v_follow_events": {"source", "follower_id", "event", "occurred_at", "run_id"},
    "v_follower_growth_daily": {"source", "day", "followers", "gained", "lost"},
}  # fmt: skip


def test_migrations_match_table_definitions(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    engine.dispose()


def test_public_relations_have_the_contract_columns(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    inspector = sa.inspect(engine)
    assert set(VIEW_NAMES) <= set(inspector.get_view_names())
    for relation, columns in PUBLIC_COLUMNS.items():
        found = {c["name"] for c in inspector.get_columns(relation)}
        assert columns <= found, f"{relation} lacks {columns - found}"
    engine.dispose()


def test_every_migration_goes_down_and_up_again(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    head = db.current_revision(engine)
    db.downgrade(engine, "base")
    assert db.current_revision(engine) is None
    leftover = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    assert leftover == set()
    db.migrate(engine)
    assert db.current_revision(engine) == head
    engine.dispose()


def test_ensure_schema_migrates_only_an_empty_database(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.ensure_schema(engine)
    assert db.current_revision(engine) == db.head_revision(engine)
    engine.dispose()


def test_the_head_revision_constant_is_alembic_head(sqlite_url: str) -> None:
    from alembic.script import ScriptDirectory

    engine = db.create_engine(sqlite_url)
    assert ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head() == db.HEAD_REVISION
    engine.dispose()
