"""What `followersync status` reads from a SQLite file, through the sqlite3 driver alone.

Importing SQLAlchemy takes longer than all the rest of `status` (bench/RESULTS.md, "start-up"), and a
SQLite file is the usual small install that cron jobs and shell prompts ask. So there `status` reads
with the statements SQLAlchemy sends for `runs.mark_abandoned_runs`, `runs.source_ids`,
`reports.status` and `outbox.pending_by_source`, written out here, and makes the same records:
tests/test_sqlite_status.py runs both on the same databases and compares them. A change to one of
those functions is a change here too.

Values are read and written as SQLAlchemy stores them in SQLite (store/types.py): times as naive UTC
text, JSON as text.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from followersync.status import GIVEN_UP_SHOWN_DAYS, RECENT_DAYS, Payload, SourceStatus, source_status
from followersync.store.schema_version import SchemaMissing, check_revision


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
        if not conn.execute('PRAGMA main.table_info("alembic_version")').fetchall():
            raise SchemaMissing()
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if row is None or row[0] is None:
            raise SchemaMissing()
        check_revision(row[0])
    except BaseException:
        conn.close()
        raise
    return conn


def mark_abandoned_runs(conn: sqlite3.Connection, now: datetime) -> int:
    """`runs.mark_abandoned_runs`, committed: runs left `running` by a process that no longer holds
    its account's lease are `abandoned`."""
    with conn:
        cursor = conn.execute(
            """
            UPDATE sync_runs SET status = 'abandoned', finished_at = :now
            WHERE sync_runs.status = 'running' AND NOT EXISTS (
                SELECT account_leases.account_id
                FROM account_leases JOIN sources ON sources.account_id = account_leases.account_id
                WHERE sources.id = sync_runs.source_id
                  AND account_leases.holder = sync_runs.holder
                  AND account_leases.expires_at >= :now
            )
            """,
            {"now": _time_text(now)},
        )
    return cursor.rowcount


def source_ids(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, int]:
    """`runs.source_ids`: name -> id of the sources the database knows among `names`."""
    marks, values = _in_list("name", names)
    rows = conn.execute(
        f"SELECT sources.name, sources.id FROM sources WHERE sources.name IN ({marks})", values
    )
    return {name: source_id for name, source_id in rows}


# `reports.status`'s statement: one row per source, each figure a subquery on the source's id.
_STATUS = """
SELECT
    sources.id, sources.name, sources.provider, sources.account_id, sources.user_id,
    (SELECT count(*) FROM followers
     WHERE followers.source_id = sources.id AND followers.unfollowed_at IS NULL) AS followers,
    (SELECT count(*) FROM followers
     WHERE followers.source_id = sources.id AND followers.missing_since IS NOT NULL) AS missing,
    (SELECT min(followers.missing_since) FROM followers
     WHERE followers.source_id = sources.id AND followers.missing_since IS NOT NULL) AS missing_since,
    (SELECT count(*) FROM follow_events
     WHERE follow_events.source_id = sources.id AND follow_events.event = 'follow'
       AND follow_events.occurred_at >= :recent) AS gained_7d,
    (SELECT count(*) FROM follow_events
     WHERE follow_events.source_id = sources.id AND follow_events.event = 'unfollow'
       AND follow_events.occurred_at >= :recent) AS lost_7d,
    (SELECT max(sync_passes.completed_at) FROM sync_passes
     WHERE sync_passes.source_id = sources.id AND sync_passes.mode = 'full') AS last_full_pass_at,
    (SELECT count(*) FROM sync_runs AS failed
     WHERE failed.source_id = sources.id AND failed.status = 'failed'
       AND failed.id > coalesce(
           (SELECT max(r.id) FROM sync_runs AS r WHERE r.source_id = sources.id AND r.status != 'failed'),
           0)) AS failed_streak,
    (SELECT full_run.unfollows_withheld FROM sync_runs AS full_run
     WHERE full_run.id = (SELECT max(r.id) FROM sync_runs AS r
                          WHERE r.source_id = sources.id AND r.mode = 'full' AND r.status = 'succeeded')
    ) AS unfollows_withheld,
    (SELECT full_run.withheld_reason FROM sync_runs AS full_run
     WHERE full_run.id = (SELECT max(r.id) FROM sync_runs AS r
                          WHERE r.source_id = sources.id AND r.mode = 'full' AND r.status = 'succeeded')
    ) AS withheld_reason,
    last_run.id AS run_id, last_run.mode AS run_mode, last_run.status AS run_status,
    last_run.started_at AS run_started_at, last_run.finished_at AS run_finished_at,
    last_run.error_type AS run_error_type, last_run.error_detail AS run_error_detail,
    sync_checkpoints.pages AS checkpoint_pages, sync_checkpoints.updated_at AS checkpoint_updated_at,
    account_leases.holder AS lease_holder, account_leases.expires_at AS lease_expires_at,
    account_cooldowns.until AS resting_until, account_cooldowns.error_type AS resting_after
FROM sources
LEFT OUTER JOIN sync_runs AS last_run
    ON last_run.id = (SELECT max(r.id) FROM sync_runs AS r WHERE r.source_id = sources.id)
LEFT OUTER JOIN sync_checkpoints ON sync_checkpoints.source_id = sources.id
LEFT OUTER JOIN account_leases
    ON account_leases.account_id = sources.account_id AND account_leases.expires_at >= :now
LEFT OUTER JOIN account_cooldowns
    ON account_cooldowns.account_id = sources.account_id AND account_cooldowns.until > :now
WHERE sources.id IN ({ids})
"""


def status(conn: sqlite3.Connection, ids: Sequence[int], now: datetime) -> list[SourceStatus]:
    """`reports.status`: the state of each source in `ids`, in that order."""
    marks, values = _in_list("id", ids)
    parameters = {"now": _time_text(now), "recent": _time_text(now - timedelta(days=RECENT_DAYS)), **values}
    cursor = conn.execute(_STATUS.format(ids=marks), parameters)
    names = [column[0] for column in cursor.description]
    by_id = {
        row["id"]: _as_sqlalchemy_reads(row) for row in (dict(zip(names, r, strict=True)) for r in cursor)
    }
    payloads = _payloads(conn, list(by_id), now)
    return [source_status(by_id[i], payloads.get(i, [])) for i in ids if i in by_id]


_TIMES = (
    "missing_since",
    "last_full_pass_at",
    "run_started_at",
    "run_finished_at",
    "checkpoint_updated_at",
    "lease_expires_at",
    "resting_until",
)


def _as_sqlalchemy_reads(row: dict[str, Any]) -> dict[str, Any]:
    """The row's stored text as SQLAlchemy's types read it: times as aware UTC datetimes, the error
    detail as decoded JSON."""
    for name in _TIMES:
        row[name] = _optional_time(row[name])
    if row["run_error_detail"] is not None:
        row["run_error_detail"] = json.loads(row["run_error_detail"])
    return row


def _payloads(conn: sqlite3.Connection, ids: Sequence[int], now: datetime) -> dict[int, list[Payload]]:
    """`outbox.pending_by_source`: each source's payloads not delivered, still tried or given up
    recently, in the order they were written."""
    marks, values = _in_list("id", ids)
    recent = _time_text(now - timedelta(days=GIVEN_UP_SHOWN_DAYS))
    rows = conn.execute(
        f"""
        SELECT source_id, hook, given_up_at, last_error FROM notification_outbox
        WHERE source_id IN ({marks}) AND delivered_at IS NULL
          AND (given_up_at IS NULL OR given_up_at >= :recent)
        ORDER BY seq
        """,
        {"recent": recent, **values},
    )
    by_source: dict[int, list[Payload]] = {}
    for source_id, hook, given_up_at, last_error in rows:
        by_source.setdefault(source_id, []).append((hook, given_up_at is not None, last_error))
    return by_source


def _in_list(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """The placeholders of an `IN (...)` list of `values` (SQLite accepts an empty one), and their values."""
    keys = [f"{name}_{i}" for i in range(len(values))]
    return ", ".join(f":{key}" for key in keys), dict(zip(keys, values, strict=True))


def _time_text(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite DATETIME stores it (naive UTC, always with microseconds)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else _time(text)
