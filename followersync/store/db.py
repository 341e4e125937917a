"""Connecting to the database and bringing its schema up to date (alembic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from followersync.config import ConfigError, sqlite_file
from followersync.store import statements
from followersync.store.dialects import execute

# Re-exported: callers know them as db.HEAD_REVISION, db.SchemaMissing, db.SchemaNewer, ....
from followersync.store.schema_version import HEAD_REVISION as HEAD_REVISION
from followersync.store.schema_version import KNOWN_REVISIONS as KNOWN_REVISIONS
from followersync.store.schema_version import SchemaMissing as SchemaMissing
from followersync.store.schema_version import SchemaNewer as SchemaNewer
from followersync.store.schema_version import SchemaOutOfDate as SchemaOutOfDate
from followersync.store.schema_version import check_revision, newer_than_us, require_revision

# alembic is imported only where the schema is changed: a sync that finds its schema current reads
# the revision with one query, and never pays alembic's memory.
if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def create_engine(url: str, *, read_only: bool = False) -> sa.Engine:
    """An engine for `url`, with the settings each dialect needs for several writers.

    `read_only`: for the commands that only read, which must not change a database that is not
    followersync's: an SQLite file keeps its journal mode (a followersync database is in WAL already).
    """
    parsed = sa.make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_on_connect_reading if read_only else _sqlite_on_connect)
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
    # Copy the WAL back into the database every 10,000 pages (~40 MB) rather than SQLite's 1,000: a
    # page of followers with random ids dirties a few hundred database pages, so the default ran a
    # checkpoint inside every few commits, and a longer WAL writes each hot page back once instead
    # of many times.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_on_connect_reading(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(bind: sa.Engine | sa.Connection) -> AlembicConfig:
    """Alembic's configuration, migrating through `bind`: an engine, or a connection whose open
    transaction the migration joins (migrations/env.py)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    # The directory of the package followersync.migrations ("package:path" is alembic's
    # importlib.resources form). Not "followersync:migrations", a migrations/ directory inside
    # followersync/: a wheel has one, but the migrations are the repository's top-level migrations/
    # folder installed under that package name (pyproject.toml), and an editable install only maps
    # the name to the folder.
    cfg.set_main_option("script_location", "followersync.migrations:.")
    cfg.attributes["connection" if isinstance(bind, sa.Connection) else "engine"] = bind
    return cfg


def head_revision() -> str:
    """The schema revision this version of followersync needs (any database's: it is the code's)."""
    return HEAD_REVISION


def current_revision(engine: sa.Engine) -> str | None:
    """The database's schema revision (None for a database followersync has not migrated)."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: sa.Connection) -> str | None:
    if not execute(conn, statements.VERSION_TABLE[conn.dialect.name]).scalar_one():
        return None
    revision: str | None = execute(conn, statements.REVISION).scalar()
    return revision


# The key of the PostgreSQL advisory lock that schema changes take (any constant will do, as long as
# every followersync uses the same one; advisory locks are per database).
SCHEMA_LOCK_KEY = 0x666F6C6C6F776572  # "follower"


@contextmanager
def schema_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside a transaction that holds the database's schema lock, committed at the end.

    Several processes may start on an empty database at once (a fleet's first deploy): whoever reads
    the schema's revision and then acts on it must do both under this lock, and migrate through this
    connection, in this transaction, so that the others wait for the whole migration and then see it
    done. PostgreSQL: a transaction-level advisory lock, released with the migration's commit (or a
    killed process's rollback). SQLite: BEGIN IMMEDIATE takes the file's write lock at once; the
    others wait for it (busy_timeout) and their reads start after the migration's commit.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction: this explicit BEGIN makes the revision check
            # and the whole migration, version stamp included, a single transaction, so a process
            # killed half way leaves nothing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        yield conn
        conn.commit()


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (alembic upgrade), one process at a time. A database a newer
    followersync migrated raises SchemaNewer: alembic would fail on the revision it cannot find."""
    from alembic import command

    with schema_lock(engine) as conn:
        refuse_newer(_revision(conn))
        command.upgrade(alembic_config(conn), revision)


def refuse_newer(current: str | None) -> None:
    """SchemaNewer if `current` is a revision this followersync does not know."""
    if current is not None and current not in KNOWN_REVISIONS:
        raise SchemaNewer(newer_than_us(current))


def downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    with schema_lock(engine) as conn:
        command.downgrade(alembic_config(conn), revision)


def require_schema(engine: sa.Engine) -> None:
    """For the commands that only read: the schema must be there, at this version's revision.

    Creates nothing: SQLite creates a missing file as it connects, so a missing file is not connected
    to (a `file:` URI is left to SQLite, whose own `mode=` says whether it may create).
    """
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is not None and not engine.url.query.get("uri") and not Path(path).exists():
        raise SchemaMissing()
    require_revision(current_revision(engine))


def ensure_schema(engine: sa.Engine) -> None:
    """Make the schema usable for a sync: migrate an empty database, refuse an older schema.

    docs/semantics.md#first-start: `sync` migrates implicitly only when the database is empty, so that
    an upgrade of a database with data in it is always a deliberate `followersync migrate`. Any number
    of processes may call this at once on an empty database: one migrates, the others wait for it
    (`schema_lock`).
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return  # the usual case: no lock, no alembic
    if current is not None:
        check_revision(current)  # older or newer: either way, not for a sync to change
    with schema_lock(engine) as conn:
        # Read again under the lock: another process may have created the schema while we waited.
        current = _revision(conn)
        if current == head:
            return
        if current is None:
            if sa.inspect(conn).get_table_names():
                raise SchemaOutOfDate(
                    "the database has tables but no followersync schema version; "
                    "point database.url at an empty database or run `followersync migrate`"
                )
            from alembic import command

            command.upgrade(alembic_config(conn), "head")
            return
    check_revision(current)
