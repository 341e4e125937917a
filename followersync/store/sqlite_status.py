"""What `followersync status` reads from a SQLite file, through the sqlite3 driver alone.

Importing SQLAlchemy takes longer than all the rest of `status` (bench/RESULTS.md, "start-up"), and a
SQLite file is the usual small install that cron jobs and shell prompts ask. So there `status` runs
the statements of store/statements.py, the very text SQLAlchemy runs everywhere else, through the
driver, and makes the records with the same functions (followersync/status.py). What is left here
is what SQLAlchemy would otherwise do: connect as `db.create_engine(read_only=True)` does, bind the
parameters and read the columns as store/types.py stores them in SQLite (times as naive UTC text,
JSON as text).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from followersync import status as records
from followersync.status import SourceStatus
from followersync.store import statements
from followersync.store.schema_version import SchemaMissing, require_revision
from followersync.store.statements import Statement


def open_reading(path: str) -> sqlite3.Connection:
    """The file at `path`, connected to as `db.create_engine(read_only=True)` and checked as
    `db.require_schema` does: a missing file is not created (SchemaMissing), and the schema must be at
    this version's revision (SchemaMissing, SchemaOutOfDate, SchemaNewer)."""
    if not os.path.exists(path):
        raise SchemaMissing()
    # The driver's defaults otherwise, as SQLAlchemy leaves them; a relative path is the working
    # directory's, as SQLAlchemy makes it.
    conn = sqlite3.connect(os.path.abspath(path), timeout=30)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        require_revision(_revision(conn))
    except BaseException:
        conn.close()
        raise
    return conn


def _revision(conn: sqlite3.Connection) -> str | None:
    """`db.current_revision`, through the driver."""
    if not _execute(conn, statements.VERSION_TABLE["sqlite"]).fetchone()[0]:
        return None
    row = _execute(conn, statements.REVISION).fetchone()
    return None if row is None else row[0]


def mark_abandoned_runs(conn: sqlite3.Connection, now: datetime) -> int:
    """`runs.mark_abandoned_runs`, committed."""
    with conn:
        return _execute(conn, statements.MARK_ABANDONED_RUNS, {"now": now}).rowcount


def source_ids(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, int]:
    """`sources.source_ids`: name -> id of the sources the database knows among `names`."""
    return dict(_execute(conn, statements.SOURCE_IDS, {"names": list(names)}).fetchall())


def status(conn: sqlite3.Connection, ids: Sequence[int], now: datetime) -> list[SourceStatus]:
    """`reports.status`: the state of each source in `ids`, in that order."""
    rows = _rows(statements.STATUS, _execute(conn, statements.STATUS, statements.status_params(ids, now)))
    payloads = _execute(conn, statements.PENDING_PAYLOADS, statements.payload_params(ids, now))
    return records.statuses(ids, rows, payloads)


def _execute(
    conn: sqlite3.Connection, statement: Statement, params: Mapping[str, Any] | None = None
) -> sqlite3.Cursor:
    """Run `statement` with `params` bound as SQLAlchemy binds them: each list as one parameter per
    value, each time as `time_text`."""
    sql = statement.sql
    values: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if name in statement.lists:
            keys = [f"{name}_{i}" for i in range(len(value))]
            marks = "(" + ", ".join(f":{key}" for key in keys) + ")"  # SQLite accepts an empty list
            sql = re.sub(rf":{name}\b", marks, sql)
            values.update(zip(keys, value, strict=True))
        elif name in statement.time_params:
            values[name] = time_text(value)
        else:
            values[name] = value
    return conn.execute(sql, values)


def _rows(statement: Statement, cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """The cursor's rows by column name, read as SQLAlchemy's types read them: times as aware UTC
    datetimes, JSON decoded."""
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor]
    for row in rows:
        for name in statement.time_columns:
            if row[name] is not None:
                row[name] = datetime.fromisoformat(row[name]).replace(tzinfo=UTC)
        for name in statement.json_columns:
            if row[name] is not None:
                row[name] = json.loads(row[name])
    return rows


def time_text(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite DATETIME stores it (naive UTC, always with microseconds)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
