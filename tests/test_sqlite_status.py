"""The driver-only SQLite read of `followersync status` (followersync/store/sqlite_status.py) speaks
SQLAlchemy's SQLite dialect: the same time text, the same schema checks. Its records are compared with
`reports.status` wherever the tests read a status (tests/harness.py, `source_states`)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.store import db, sqlite_status
from followersync.store.schema import account_leases


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 12, 4, 8, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 4, 8, 30, 1, tzinfo=UTC),  # no microseconds: still written with six digits
        datetime(2026, 12, 4, 9, 30, 1, 5, tzinfo=UTC),
    ],
)
def test_times_are_the_text_sqlalchemy_writes(tmp_path: Path, when: datetime) -> None:
    path = tmp_path / "followersync.db"
    engine = db.create_engine(f"sqlite:///{path}")
    try:
        db.migrate(engine)
        with engine.begin() as conn:
            values = {"holder": "h", "acquired_at": when, "expires_at": when}
            conn.execute(sa.insert(account_leases).values(account_id="a", **values))
    finally:
        engine.dispose()
    with sqlite3.connect(path) as conn:
        [(stored,)] = conn.execute("SELECT expires_at FROM account_leases").fetchall()
    assert stored == sqlite_status._time_text(when)
    assert sqlite_status._time(stored) == when


def test_a_file_without_the_schema_or_out_of_date_is_refused_without_creating_anything(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(db.SchemaMissing):
        sqlite_status.open_reading(str(missing))
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(db.SchemaMissing):
        sqlite_status.open_reading(str(empty))

    old = tmp_path / "old.db"
    engine = db.create_engine(f"sqlite:///{old}")
    try:
        db.migrate(engine, "0001")
    finally:
        engine.dispose()
    with pytest.raises(db.SchemaOutOfDate, match="at revision 0001"):
        sqlite_status.open_reading(str(old))
