"""The schema revision this version of followersync needs, and the errors of a database not at it.

Free of SQLAlchemy and alembic: the driver-only SQLite read of `followersync status`
(store/sqlite_status.py) checks the revision too. `db` uses the same names.
"""

from __future__ import annotations

# The newest migration's revision. Kept here so that a sync can check its schema without loading
# alembic; tests/test_migrations.py proves it equals alembic's head.
HEAD_REVISION = "0006"


class SchemaOutOfDate(Exception):
    """The database schema is older than this version of followersync: run `followersync migrate`."""


class SchemaMissing(Exception):
    """The database has no followersync schema (or, SQLite, does not exist): nothing to read yet."""


def out_of_date(current: str) -> str:
    return (
        f"the database schema is at revision {current}, this followersync needs {HEAD_REVISION}: "
        "run `followersync migrate` first"
    )
