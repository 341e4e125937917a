"""The schema is created only by alembic migrations, which agree with the table definitions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from followersync.api.models import parse_page
from followersync.store import db, runs, writer
from followersync.store.schema import metadata
from followersync.store.views import VIEW_NAMES
from tests.writer_support import NOW, SOURCE, item, page_body

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


def test_0002_keeps_every_row_and_drops_only_the_per_follower_foreign_keys(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine, "0001")
    with engine.begin() as conn:
        source_id = runs.sync_sources(conn, [SOURCE], NOW)[SOURCE.name]
        pass_id = runs.start_pass(conn, source_id, "full", NOW)
        run_id = runs.start_run(conn, source_id, pass_id, "full", "test", NOW)
        ctx = writer.PassContext(source_id, "instagram", pass_id, run_id, full=True, baseline=True)
        page = parse_page(page_body([item(i) for i in range(5)]), "instagram")
        writer.apply_page(conn, ctx, page, NOW, 1)

    def contents() -> list[object]:
        with engine.connect() as conn:
            return [
                conn.execute(sa.text(f"SELECT count(*) FROM {relation}")).scalar()
                for relation in ("followers", "follow_events", "instagram_profiles", *VIEW_NAMES)
            ]

    before = contents()
    assert before[:3] == [5, 5, 5]
    db.migrate(engine)
    assert contents() == before
    inspector = sa.inspect(engine)
    assert inspector.get_foreign_keys("followers") == []
    assert inspector.get_foreign_keys("follow_events") == []
    assert {fk["referred_table"] for fk in inspector.get_foreign_keys("sync_checkpoints")} == {
        "sources",
        "sync_passes",
        "sync_runs",
    }
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            options = conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE relname = 'followers'"))
            assert options.scalar() == ["fillfactor=50"]

    db.downgrade(engine, "0001")
    assert contents() == before
    referred = {fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("follow_events")}
    assert referred == {"sources", "sync_runs"}
    engine.dispose()
