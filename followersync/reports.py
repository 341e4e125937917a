"""What the database says about each source: status, run history, unfollows, daily growth and its
followers' profile changes.

Every function here takes a Connection, runs one SQL statement (`status`: two, the sources and their
pending notifications; bound parameters only) and returns plain records whose field names are those
of the README's "Reports and status". Nothing here prints: `report_commands` turns the records into
tables, CSV, JSON or a chart.

    status()      one SourceStatus per source: followers now, last run, last full pass, checkpoint
    run_history() sync_runs rows, newest first
    unfollows()   v_followers rows that are no longer active, newest unfollow first
    growth()      v_follower_growth_daily rows of the last days, oldest day first
    profile_changes()
                  v_profile_changes rows of each source's followers, newest first

The unfollow, growth and profile change reports read the public views (the README's "The
database"), the same relations analysts query, so a report and a hand-written SQL query can never
disagree. `status` reads the base tables, for what no view holds (runs, checkpoints, leases, the
missing); its statements (store/statements.py) and records (followersync/status.py, with `attention`,
the one sentence it shows when the user must act or look) are shared with the driver-only SQLite
read of `followersync status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from followersync.status import SourceStatus, statuses
from followersync.store import statements
from followersync.store.dialects import execute
from followersync.store.schema import sources, sync_runs
from followersync.store.types import UTCDateTime

# The views as typed Core selectables. The types matter on SQLite, which returns view columns as bare
# text: with them both databases give back aware datetimes, dates and ints.
v_followers = sa.table(
    "v_followers",
    sa.column("source", sa.String),
    sa.column("provider", sa.String),
    sa.column("follower_id", sa.String),
    sa.column("name", sa.String),
    sa.column("handle", sa.String),
    sa.column("first_seen_at", UTCDateTime),
    sa.column("last_seen_at", UTCDateTime),
    sa.column("missing_since", UTCDateTime),
    sa.column("unfollowed_at", UTCDateTime),
    sa.column("is_active", sa.Boolean),
)
v_follower_growth_daily = sa.table(
    "v_follower_growth_daily",
    sa.column("source", sa.String),
    sa.column("day", sa.Date),
    sa.column("followers", sa.Integer),
    sa.column("gained", sa.Integer),
    sa.column("lost", sa.Integer),
)

v_profile_changes = sa.table(
    "v_profile_changes",
    sa.column("provider", sa.String),
    sa.column("follower_id", sa.String),
    sa.column("field", sa.String),
    sa.column("old_value", sa.String),
    sa.column("new_value", sa.String),
    sa.column("changed_at", UTCDateTime),
    sa.column("run_id", sa.Integer),
)

RUN_FIELDS = (
    "id",
    "source_id",
    "mode",
    "status",
    "started_at",
    "finished_at",
    "pages",
    "items",
    "items_coerced",
    "followers_new",
    "followers_missing",
    "followers_lost",
    "unfollows_withheld",
    "withheld_reason",
    "requests",
    "retries",
    "error_type",
    "error_detail",
)
"""The `sync_runs` columns of the README's "The database", in its order: the fields of `followersync runs`."""


# --- status ----------------------------------------------------------------------------------------
# The statements are in store/statements.py and the records they make in followersync/status.py: the
# driver-only SQLite read of `followersync status` (store/sqlite_status.py) runs the same.


def status(conn: sa.Connection, source_ids: Sequence[int], now: datetime) -> list[SourceStatus]:
    """The state of each source in `source_ids`, in that order."""
    rows = execute(conn, statements.STATUS, statements.status_params(source_ids, now)).mappings()
    payloads = execute(conn, statements.PENDING_PAYLOADS, statements.payload_params(source_ids, now))
    return statuses(source_ids, rows, payloads)


# --- run history -------------------------------------------------------------------------------------


def run_history(conn: sa.Connection, *, source: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The newest `limit` runs (of one source, when given), newest first: `source` + RUN_FIELDS."""
    query = (
        sa.select(sources.c.name.label("source"), *(sync_runs.c[name] for name in RUN_FIELDS))
        .join(sources, sources.c.id == sync_runs.c.source_id)
        .order_by(sync_runs.c.id.desc())
        .limit(limit)
    )
    if source is not None:
        query = query.where(sources.c.name == source)
    return [dict(row._mapping) for row in conn.execute(query)]


def source_names(conn: sa.Connection) -> list[str]:
    """Every source the database has history for, configured now or not."""
    return list(conn.execute(sa.select(sources.c.name).order_by(sources.c.name)).scalars())


# --- reports -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unfollow:
    source: str
    follower_id: str
    name: str | None
    handle: str | None
    unfollowed_at: datetime


def unfollows(
    conn: sa.Connection, *, source: str | None = None, since: datetime | None = None
) -> list[Unfollow]:
    """Followers who are gone (unfollowed and not back), newest unfollow first."""
    v = v_followers.c
    query = (
        sa.select(v.source, v.follower_id, v.name, v.handle, v.unfollowed_at)
        .where(v.unfollowed_at.is_not(None))  # the view's `NOT is_active`, as an indexable test
        .order_by(v.unfollowed_at.desc(), v.source, v.follower_id)
    )
    if source is not None:
        query = query.where(v.source == source)
    if since is not None:
        query = query.where(v.unfollowed_at >= since)
    return [Unfollow(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class GrowthDay:
    source: str
    day: date
    followers: int
    gained: int
    lost: int


def growth(conn: sa.Connection, *, since: date, source: str | None = None) -> list[GrowthDay]:
    """One row per source and UTC day from `since` to today, oldest day first."""
    v = v_follower_growth_daily.c
    query = (
        sa.select(v.source, v.day, v.followers, v.gained, v.lost)
        .where(v.day >= since)
        .order_by(v.source, v.day)
    )
    if source is not None:
        query = query.where(v.source == source)
    return [
        GrowthDay(row.source, as_date(row.day), int(row.followers), int(row.gained), int(row.lost))
        for row in conn.execute(query)
    ]


@dataclass(frozen=True)
class ProfileChange:
    source: str
    follower_id: str
    field: str
    old_value: str | None
    new_value: str | None
    changed_at: datetime


def profile_changes(
    conn: sa.Connection, *, source: str | None = None, since: datetime | None = None
) -> list[ProfileChange]:
    """The tracked profile changes of each source's followers, newest first.

    A profile is the provider's, shared by every source it follows (README, "Profile history"): a
    source's changes are those of the profiles among its followers, past ones included, so a follower
    of two sources has each change listed once per source.
    """
    c, f = v_profile_changes.c, v_followers.c
    query = (
        sa.select(f.source, c.follower_id, c.field, c.old_value, c.new_value, c.changed_at)
        .select_from(v_profile_changes)
        .join(v_followers, sa.and_(f.provider == c.provider, f.follower_id == c.follower_id))
        .order_by(c.changed_at.desc(), f.source, c.follower_id, c.field)
    )
    if source is not None:
        query = query.where(f.source == source)
    if since is not None:
        query = query.where(c.changed_at >= since)
    return [ProfileChange(*row) for row in conn.execute(query)]


# --- values ----------------------------------------------------------------------------------------------


def as_utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime; SQLite's aggregates return the stored offset-less UTC text or datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)
