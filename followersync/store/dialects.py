"""Statements whose spelling differs between SQLite and PostgreSQL, and the SQL text of
store/statements.py as SQLAlchemy runs it, in one place."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from followersync.store.statements import Statement
from followersync.store.types import UTCDateTime, json_column_type


def insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def utc_day(conn: sa.Connection, moment: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC calendar day of a timestamp column as the database computes it: PostgreSQL's
    timestamptz converted to UTC, SQLite's UTC text cut to its date (as `date()` does)."""
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", moment), sa.Date)
    return sa.func.date(moment)


@cache
def text(statement: Statement) -> sa.Executable:
    """`statement` for SQLAlchemy, on either database: its lists expanded, its times and JSON typed
    as the tables' columns are (store/types.py)."""
    clause = sa.text(statement.sql).bindparams(
        *(
            sa.bindparam(
                name, expanding=True, type_=sa.String() if name in statement.text_params else sa.Integer()
            )
            for name in statement.lists
        ),
        *(sa.bindparam(name, type_=UTCDateTime()) for name in statement.time_params),
    )
    types: dict[str, Any] = {name: UTCDateTime() for name in statement.time_columns}
    types |= {name: json_column_type() for name in statement.json_columns}
    return clause.columns(**types) if types else clause


def execute(
    conn: sa.Connection, statement: Statement, params: dict[str, Any] | None = None
) -> sa.CursorResult[Any]:
    """Run `statement` (store/statements.py) through SQLAlchemy."""
    return conn.execute(text(statement), params or {})
