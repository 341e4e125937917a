"""Connecting to the database and bringing its schema up to date (alembic)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from followersync.config import ConfigError


class SchemaOutOfDate(Exception):
    """The database schema is older than this version of followersync: run `followersync migrate`."""


def create_engine(url: str) -> sa.Engine:
    """An engine for `url`, with the settings each dialect needs for several writers."""
    parsed = sa.make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if parsed.drivername in {"postgresql", "postgres"}:
        # Users write the URL they know; psycopg 3 is the driver we ship.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    elif not parsed.drivername.startswith("postgresql"):
        raise ConfigError(
            f"database.url: unsupported database {parsed.drivername!r} "
            "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
        )
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (status, reports) run beside a sync; busy_timeout makes a second writer wait
    # instead of failing at once; foreign keys are off by default in SQLite.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: sa.Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "followersync:migrations")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: sa.Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (alembic upgrade)."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def ensure_schema(engine: sa.Engine) -> None:
    """Make the schema usable for a sync: migrate an empty database, refuse an older schema.

    SPEC section 4: `sync` migrates implicitly only when the database is empty, so that an upgrade of
    a database with data in it is always a deliberate `followersync migrate`.
    """
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return
    if current is None:
        if sa.inspect(engine).get_table_names():
            raise SchemaOutOfDate(
                "the database has tables but no followersync schema version; "
                "point database.url at an empty database or run `followersync migrate`"
            )
        migrate(engine)
        return
    raise SchemaOutOfDate(
        f"the database schema is at revision {current}, this followersync needs {head}: "
        "run `followersync migrate` first"
    )
