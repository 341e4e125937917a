"""The schema is created only by alembic migrations, which agree with the table definitions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from followersync.migrations.frozen import views_0001, views_0003, views_0004, views_0005
from followersync.store import db
from followersync.store.schema import (
    follow_events,
    followers,
    instagram_profiles,
    metadata,
    sources,
    sync_passes,
    sync_runs,
)
from followersync.store.views import VIEW_NAMES, create_view_statements
from tests.harness import query, run_cli, start_cli, write_config
from tests.page_support import NOW, SOURCE, item

pytestmark = pytest.mark.cli_in_process

PUBLIC_COLUMNS = {
    "sources": {"id", "name", "provider", "account_id", "user_id"},
    "sync_runs": {
        "id", "source_id", "mode", "status", "started_at", "finished_at", "pages", "items",
        "followers_new", "followers_missing", "followers_lost", "unfollows_withheld", "requests", "retries",
        "error_type", "error_detail",
    },
    "sync_checkpoints": {"source_id", "run_id", "cursor", "pages", "updated_at"},
    "v_followers": {
        "source", "provider", "follower_id", "name", "handle", "first_seen_at", "last_seen_at",
        "missing_since", "unfollowed_at", "is_active",
    },
    "v_follow_events": {"source", "follower_id", "event", "occurred_at", "run_id"},
    "v_follower_growth_daily": {"source", "day", "followers", "gained", "lost"},
    "v_profile_changes": {
        "provider", "follower_id", "field", "old_value", "new_value", "changed_at", "run_id",
    },
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
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_the_head_revision_constant_is_alembic_head(sqlite_url: str) -> None:
    from alembic.script import ScriptDirectory

    engine = db.create_engine(sqlite_url)
    assert ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head() == db.HEAD_REVISION
    engine.dispose()


def test_the_known_revisions_are_alembics_history(sqlite_url: str) -> None:
    from alembic.script import ScriptDirectory

    engine = db.create_engine(sqlite_url)
    scripts = ScriptDirectory.from_config(db.alembic_config(engine))
    oldest_first = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert tuple(oldest_first) == db.KNOWN_REVISIONS
    engine.dispose()


# Every command that opens the database, with what it needs to get that far.
EVERY_COMMAND = [
    ["migrate"],
    ["sync"],
    ["worker", "--once"],
    ["status"],
    ["status", "--format", "json"],
    ["runs"],
    ["report", "unfollows"],
    ["report", "growth"],
    ["report", "changes"],
]


def test_a_schema_newer_than_this_followersync_is_one_line_for_every_command(
    tmp_path: Path, db_url: str
) -> None:
    """After a rollback, or in a fleet running mixed versions, the database was migrated by a newer
    followersync: a revision this one does not know. No command may use it or try to migrate it (alembic
    would end in a traceback about the revision it cannot find); each says so, exit 2 (issue #22)."""
    engine = db.create_engine(db_url)
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    config = write_config(tmp_path / "f.toml", db_url, "http://127.0.0.1:9/api/v1", [SOURCE])
    for command in EVERY_COMMAND:
        done = run_cli(command, config=config)
        assert (done.returncode, done.stdout) == (2, ""), (command, done.stderr)
        assert done.stderr.splitlines() == [
            f"Error: the database is at revision 0099, newer than this followersync ({db.HEAD_REVISION}): "
            "upgrade followersync"
        ], command
    assert [tuple(r) for r in query(db_url, "SELECT version_num FROM alembic_version")] == [("0099",)]


def test_an_older_schema_still_asks_for_migrate(tmp_path: Path, db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine, db.KNOWN_REVISIONS[-2])
    engine.dispose()
    config = write_config(tmp_path / "f.toml", db_url, "http://127.0.0.1:9/api/v1", [SOURCE])
    done = run_cli(["status"], config=config)
    assert done.returncode == 2
    assert "run `followersync migrate` first" in done.stderr
    assert run_cli(["migrate"], config=config).returncode == 0


def _rows_of_an_older_schema(engine: sa.Engine) -> None:
    """A synced source's rows, written with only the columns every revision has (the page writer of
    today needs today's schema): one source, pass and run, five followers with their events and
    profiles, one of them unfollowed."""
    with engine.begin() as conn:
        conn.execute(
            sources.insert().values(
                id=1, name=SOURCE.name, provider="instagram", account_id=SOURCE.account_id, created_at=NOW
            )
        )
        conn.execute(
            sync_passes.insert().values(id=1, source_id=1, mode="full", started_at=NOW, completed_at=NOW)
        )
        conn.execute(
            sync_runs.insert().values(
                id=1, source_id=1, pass_id=1, mode="full", status="succeeded", started_at=NOW,
                finished_at=NOW, followers_lost=1, holder="test",
            )
        )  # fmt: skip
        # What versions before 0003 wrote for a run without error: the JSON text `null`.
        json_null = "'null'::jsonb" if conn.dialect.name == "postgresql" else "'null'"
        conn.execute(sa.text(f"UPDATE sync_runs SET error_detail = {json_null}"))
        ids = [str(item(i)["id"]) for i in range(5)]
        conn.execute(
            instagram_profiles.insert(),
            [
                {**{k: v for k, v in item(i).items() if k != "object"}, "raw": json.dumps(item(i)),
                 "first_seen_at": NOW, "updated_at": NOW}
                for i in range(5)
            ],
        )  # fmt: skip
        conn.execute(
            followers.insert(),
            [
                {"source_id": 1, "follower_id": i, "first_seen_at": NOW, "last_seen_at": NOW,
                 "last_seen_pass_id": 1, "unfollowed_at": NOW if i == ids[0] else None}
                for i in ids
            ],
        )  # fmt: skip
        conn.execute(
            follow_events.insert(),
            [
                {"source_id": 1, "follower_id": i, "event": "baseline", "occurred_at": NOW, "run_id": 1}
                for i in ids
            ]
            + [{"source_id": 1, "follower_id": ids[0], "event": "unfollow", "occurred_at": NOW, "run_id": 1}],
        )


def _contents(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT count(*) FROM {relation}")).scalar()
            # The views every revision has.
            for relation in ("followers", "follow_events", "instagram_profiles", *VIEW_NAMES[:3])
        ] + [conn.execute(sa.text("SELECT count(*) FROM v_followers WHERE is_active")).scalar()]


def test_0002_keeps_every_row_and_drops_only_the_per_follower_foreign_keys(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine, "0001")
    _rows_of_an_older_schema(engine)
    before = _contents(engine)
    assert before[:3] == [5, 6, 5]
    db.migrate(engine, "0002")
    assert _contents(engine) == before
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
    assert _contents(engine) == before
    referred = {fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("follow_events")}
    assert referred == {"sources", "sync_runs"}
    engine.dispose()


def test_0003_keeps_every_row_and_marks_nobody_missing(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine, "0002")
    _rows_of_an_older_schema(engine)
    before = _contents(engine)
    db.migrate(engine, "0003")
    assert _contents(engine) == before  # the unfollowed one stays unfollowed, the others active
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT missing_since, missed_passes FROM followers")).all()
        assert [tuple(r) for r in rows] == [(None, 0)] * 5
        run = conn.execute(sa.text("SELECT followers_missing, followers_lost, error_detail FROM sync_runs"))
        assert tuple(run.one()) == (0, 1, None)  # SQL NULL: `null` was a run without error
        assert (
            conn.execute(sa.text("SELECT count(*) FROM v_followers WHERE missing_since IS NULL")).scalar()
            == 5
        )
        unfollowed = conn.execute(sa.text("SELECT count(*) FROM v_followers WHERE unfollowed_at IS NOT NULL"))
        assert unfollowed.scalar() == 1
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("followers")}
    assert "ix_followers_missing" in indexes

    db.downgrade(engine, "0002")
    assert _contents(engine) == before
    columns = {c["name"] for c in sa.inspect(engine).get_columns("followers")}
    assert {"missing_since", "missed_passes"}.isdisjoint(columns)
    engine.dispose()


def test_0004_keeps_every_row_and_counts_earlier_runs_as_notified(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine, "0003")
    _rows_of_an_older_schema(engine)
    before = _contents(engine)
    db.migrate(engine, "0004")
    assert _contents(engine) == before
    with engine.connect() as conn:
        # A hook added after the upgrade must not replay the runs before it.
        notified = conn.execute(sa.text("SELECT notified_at, finished_at FROM sync_runs")).one()
        assert notified[0] is not None and notified[0] == notified[1]
        for relation in ("profile_changes", "v_profile_changes", "notification_outbox"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {relation}")).scalar() == 0

    db.downgrade(engine, "0003")
    assert _contents(engine) == before
    inspector = sa.inspect(engine)
    assert "notified_at" not in {c["name"] for c in inspector.get_columns("sync_runs")}
    assert {"profile_changes", "notification_outbox"}.isdisjoint(inspector.get_table_names())
    engine.dispose()


# --- each revision creates the views of its own day -------------------------------------------------

# The frozen view module of each revision (a revision that left the views alone has its
# predecessor's): what the database must hold at that revision, whatever the current code says.
FROZEN_VIEWS = {
    "0001": views_0001,
    "0002": views_0001,
    "0003": views_0003,
    "0004": views_0004,
    "0005": views_0005,
    "0006": views_0005,
}


def _view_name(statement: str) -> str:
    found = re.search(r"CREATE VIEW (\w+) ", statement)
    assert found is not None, statement
    return found[1]


def _view_definitions(engine: sa.Engine, statements: list[str] | None = None) -> dict[str, str]:
    """The database's own text of each view, normalised by the database: PostgreSQL's pg_get_viewdef,
    SQLite's stored statement. With `statements`, those CREATE VIEWs are made under other names, their
    text read, and dropped again, so that both sides are spelled alike."""
    with engine.begin() as conn:
        if statements is None:
            views = sorted(sa.inspect(conn).get_view_names())
            names = views
        else:
            views = sorted(_view_name(s) for s in statements)
            for statement in statements:
                name = _view_name(statement)
                conn.exec_driver_sql(
                    statement.replace(f"CREATE VIEW {name} ", f"CREATE VIEW check_{name} ", 1)
                )
            names = [f"check_{name}" for name in views]
        if engine.dialect.name == "postgresql":
            texts = [conn.execute(sa.text("SELECT pg_get_viewdef(:v)"), {"v": n}).scalar() for n in names]
        else:
            texts = [
                conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = :v"), {"v": n})
                .scalar_one()
                .split(" AS", 1)[1]
                for n in names
            ]
        if statements is not None:
            for name in reversed(names):
                conn.exec_driver_sql(f"DROP VIEW {name}")
    return dict(zip(views, texts, strict=True))


def test_the_newest_revision_creates_the_views_of_the_current_code(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    assert _view_definitions(engine) == _view_definitions(engine, create_view_statements(engine.dialect.name))
    engine.dispose()


def test_each_revision_up_and_down_has_its_own_views(db_url: str) -> None:
    engine = db.create_engine(db_url)
    revisions = list(FROZEN_VIEWS)
    assert revisions[-1] == db.HEAD_REVISION
    for revision in revisions:  # up, one step at a time
        db.migrate(engine, revision)
        frozen = FROZEN_VIEWS[revision].create_view_statements(engine.dialect.name)
        assert _view_definitions(engine) == _view_definitions(engine, frozen), revision
    for revision in reversed(revisions[:-1]):  # and down again
        db.downgrade(engine, revision)
        frozen = FROZEN_VIEWS[revision].create_view_statements(engine.dialect.name)
        assert _view_definitions(engine) == _view_definitions(engine, frozen), revision
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff != []  # at 0001, the models of head are not what the database has
    db.migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    engine.dispose()


def test_migrate_commands_started_at_once_create_the_schema_once(tmp_path: Path, db_url: str) -> None:
    """`followersync migrate` in several processes at once on an empty database: one creates the
    schema, the others wait for it and find it done."""
    config = write_config(tmp_path / "f.toml", db_url, "http://127.0.0.1:9", [])
    procs = [start_cli(["migrate"], config=config) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    assert all(out.endswith(f"-> {db.HEAD_REVISION}\n") for out, _ in outputs), outputs
    assert [tuple(r) for r in query(db_url, "SELECT version_num FROM alembic_version")] == [
        (db.HEAD_REVISION,)
    ]
