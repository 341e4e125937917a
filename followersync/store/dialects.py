"""Statements whose spelling differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
