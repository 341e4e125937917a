"""The schema revision this version of followersync needs, and the errors of a database not at it.

Free of SQLAlchemy and alembic: the driver-only SQLite read of `followersync status`
(store/sqlite_status.py) checks the revision too, with `require_revision` as `db.require_schema` does.
"""

from __future__ import annotations

from followersync.domain import FollowersyncError

# Every migration's revision, oldest first, and the newest of them. Kept here so that a sync can check
# its schema without loading alembic; tests/test_migrations.py proves them alembic's history and head.
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
HEAD_REVISION = KNOWN_REVISIONS[-1]


class SchemaOutOfDate(FollowersyncError):
    """The database schema is older than this version of followersync: run `followersync migrate`."""


class SchemaNewer(FollowersyncError):
    """The database schema is at a revision this version of followersync does not know: a newer
    followersync migrated it (a rollback, a fleet running mixed versions). Nothing here can use or
    change it, `migrate` included: alembic cannot find the revision, let alone go down from it."""


class SchemaMissing(FollowersyncError):
    """The database has no followersync schema (or, SQLite, does not exist): nothing to read yet."""


def out_of_date(current: str) -> str:
    return (
        f"the database schema is at revision {current}, this followersync needs {HEAD_REVISION}: "
        "run `followersync migrate` first"
    )


def newer_than_us(current: str) -> str:
    return (
        f"the database is at revision {current}, newer than this followersync ({HEAD_REVISION}): "
        "upgrade followersync"
    )


def check_revision(current: str) -> None:
    """Nothing if `current` is this version's revision; else SchemaOutOfDate for an older one we can
    migrate from, SchemaNewer for one we do not know (docs/semantics.md#first-start)."""
    if current == HEAD_REVISION:
        return
    if current not in KNOWN_REVISIONS:
        raise SchemaNewer(newer_than_us(current))
    raise SchemaOutOfDate(out_of_date(current))


def require_revision(current: str | None) -> None:
    """What the reading commands require of the database's revision (`current`, None for a database
    without followersync's schema): SchemaMissing, or `check_revision`."""
    if current is None:
        raise SchemaMissing()
    check_revision(current)
