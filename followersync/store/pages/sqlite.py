"""A page of followers on SQLite: a few statements of driver-level SQL (`executemany` for profiles,
changes and followers, one statement for the events).

The database is in-process, so round trips cost nothing; driver-level SQL skips SQLAlchemy's per-row
parameter processing. The page's rows are deduplicated and made NUL-safe in one pass in Python; the
rest is set-based. The page's stored profiles are read first (under the write lock): only new and
changed ones are written, and the profile history compares their tracked fields in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache, lru_cache
from operator import attrgetter
from typing import Any

import msgspec
import sqlalchemy as sa

from followersync.page import Follower, Page
from followersync.store import bookkeeping
from followersync.store.pages.context import (
    PassContext,
    RequestCounts,
    item_columns,
    tracked_fields,
    without_nul_escapes,
)
from followersync.store.schema import PROFILE_TABLES, followers

PageRows = Mapping[str, tuple[Follower, str]]
"""A page for SQLite: follower id -> (the validated item, its raw JSON text), distinct ids, NUL-free."""


def _clean(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL; keep the rest of the string and say where it was.
    return text.replace("\x00", "\ufffd")


def _without_nul(item: Follower, raw: bytes) -> tuple[Follower, bytes]:
    """The item and its JSON text with every NUL character replaced by U+FFFD, the same in both."""
    fields = {
        name: _clean(value)
        for name in item.__struct_fields__
        if isinstance(value := getattr(item, name), str) and "\x00" in value
    }
    return msgspec.structs.replace(item, **fields), without_nul_escapes(raw)


def _page_rows(page: Page) -> dict[str, tuple[Follower, str]]:
    """The page's followers by id (the last occurrence of a repeated one wins), NUL characters made safe.

    This is the one pass over the page in Python; the merge does the rest set-based.
    """
    rows: dict[str, tuple[Follower, str]] = {}
    for item, raw in zip(page.items, page.raw_items, strict=True):
        if b"\\u0000" in raw:  # cheap test first: NULs are rare, and JSON always escapes them
            item, raw = _without_nul(item, raw)
        rows[item.id] = (item, raw.decode("utf-8"))
    return rows


@cache
def _sqlite_profile_sql(provider: str) -> str:
    table = PROFILE_TABLES[provider].name
    names = [c.name for c in item_columns(provider)]
    rewritten = ", ".join(f"{n} = excluded.{n}" for n in [*names, "raw", "updated_at"])
    marks = ", ".join("?" * (len(names) + 4))
    return (
        f"INSERT INTO {table} (id, {', '.join(names)}, raw, first_seen_at, updated_at) VALUES ({marks}) "
        f"ON CONFLICT (id) DO UPDATE SET {rewritten} WHERE {table}.raw IS NOT excluded.raw"
    )


@cache
def _sqlite_follower_sql(full: bool) -> str:
    seen_by = ", last_seen_pass_id = excluded.last_seen_pass_id" if full else ""
    return (
        "INSERT INTO followers (source_id, follower_id, first_seen_at, last_seen_at, last_seen_pass_id,"
        " unfollowed_at) VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (source_id, follower_id) DO UPDATE SET"
        f" last_seen_at = excluded.last_seen_at, unfollowed_at = NULL, missing_since = NULL,"
        f" missed_passes = 0{seen_by}"
    )


# Most events of a page cost one statement, rows as a VALUES list: one execution per row costs SQLite
# a temporary b-tree per row (bench/RESULTS.md, "The page writers: why they are written as they are").
_EVENT_ROWS = 400  # two bound parameters a row: a chunk stays under SQLite's oldest limit of 999


@lru_cache(maxsize=16)  # one text per chunk length: a pass uses one or two (the last page's)
def _sqlite_event_sql(rows: int) -> str:
    return (
        "INSERT INTO follow_events (source_id, follower_id, event, occurred_at, run_id)"
        f" SELECT ?, column1, column2, ?, ? FROM (VALUES {', '.join(['(?, ?)'] * rows)})"
    )


# The day's sums of events: a page's events are all of `:now`.
_GROWTH = bookkeeping.daily_growth("VALUES (:source_id, date(:now), :net, :gained, 0)")
ChangeRow = tuple[str, str, str, str | None, str | None, Any, int]
"""A `profile_changes` row: provider, follower_id, field, old_value, new_value, changed_at, run_id."""
_SQLITE_CHANGE = (
    "INSERT INTO profile_changes (provider, follower_id, field, old_value, new_value, changed_at, run_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# SQLite allows 32766 bound parameters since 3.32, 999 before: chunks stay under both.
_SQLITE_CHUNK = 500


def _chunks(ids: Sequence[str]) -> Iterator[tuple[Sequence[str], str]]:
    """`ids` in chunks small enough to bind, each with its `?, ?, ...` placeholders."""
    for start in range(0, len(ids), _SQLITE_CHUNK):
        chunk = ids[start : start + _SQLITE_CHUNK]
        yield chunk, ", ".join("?" * len(chunk))


def _sqlite_time(conn: sa.Connection, value: datetime) -> Any:
    """`value` as SQLAlchemy stores it in a UTC timestamp column: text on SQLite, always with
    microseconds, converted once per page.

    Through the dialect's implementation of the type: the column type's own `bind_processor` stops at
    a naive datetime, which sqlite3's default adapter turns into text without the `.000000` of a
    whole second, text that sorts before the same instant written by SQLAlchemy.
    """
    column_type = followers.c.last_seen_at.type
    process = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None else value


def write_page(
    conn: sa.Connection,
    ctx: PassContext,
    page: Page,
    *,
    now: datetime,
    pages_in_pass: int,
    requests: RequestCounts | None = None,
) -> tuple[int, int]:
    """Write one page on SQLite: profiles, followers, events, run counters and (full pass) the
    checkpoint. Returns the numbers of `follow` and `baseline` events."""
    rows = _page_rows(page)
    new, baseline = _merge(conn, ctx, rows, now) if rows else (0, 0)
    # Driver SQL, as the page's other statements: no SQLAlchemy compiling and parameter processing.
    conn.exec_driver_sql(
        _RUN_COUNTERS,
        {
            "count": len(page.items),
            "coerced": page.coerced,
            "new": new,
            "requests": None if requests is None else requests.requests,
            "retries": None if requests is None else requests.retries,
            "run_id": ctx.run_id,
        },
    )
    if ctx.full:
        save_checkpoint(conn, ctx, page.cursor, pages_in_pass, now)
    return new, baseline


_RUN_COUNTERS = bookkeeping.run_counters()


def _merge(conn: sa.Connection, ctx: PassContext, rows: PageRows, now: datetime) -> tuple[int, int]:
    """Merge one page's profiles, followers and events; returns the numbers of `follow` events (new
    followers, or back after an unfollow) and `baseline` events."""
    provider, source_id, run_id = ctx.provider, ctx.source_id, ctx.run_id
    at = _sqlite_time(conn, now)
    names = [c.name for c in item_columns(provider)]
    _hold_write_lock(conn)  # before reading the profiles the page then rewrites
    stored = _stored_profiles(conn, provider, list(rows))
    # Only the new and the changed profiles: a pass over an unchanged listing writes none and binds
    # no profile's columns (the upsert keeps its own test of `raw`, redundant under the lock).
    rewritten = [
        (follower_id, *(getattr(item, n) for n in names), raw, at, at)
        for follower_id, (item, raw) in rows.items()
        if follower_id not in stored or stored[follower_id][0] != raw
    ]
    if rewritten:
        conn.exec_driver_sql(_sqlite_profile_sql(provider), rewritten)
    changes = _profile_changes(ctx, rows, stored, at)
    if changes:
        conn.exec_driver_sql(_SQLITE_CHANGE, changes)
    ids = list(rows)
    known: dict[str, Any] = {}
    for chunk, marks in _chunks(ids):
        found = conn.exec_driver_sql(
            "SELECT follower_id, unfollowed_at FROM followers"
            f" WHERE source_id = ? AND follower_id IN ({marks})",
            (source_id, *chunk),
        )
        known.update((follower_id, unfollowed_at) for follower_id, unfollowed_at in found)
    seen_by = ctx.pass_id if ctx.full else None
    conn.exec_driver_sql(_sqlite_follower_sql(ctx.full), [(source_id, i, at, at, seen_by) for i in ids])
    first_time = "baseline" if ctx.baseline else "follow"
    events = [
        (i, first_time if i not in known else "follow") for i in ids if i not in known or known[i] is not None
    ]
    for start in range(0, len(events), _EVENT_ROWS):
        part = events[start : start + _EVENT_ROWS]
        conn.exec_driver_sql(
            _sqlite_event_sql(len(part)), (source_id, at, run_id, *itertools.chain.from_iterable(part))
        )
    new = sum(1 for _, event in events if event == "follow")
    if events:
        growth = {"source_id": source_id, "now": at, "net": len(events), "gained": new}
        conn.exec_driver_sql(_GROWTH, growth)
    return new, len(events) - new


def _hold_write_lock(conn: sa.Connection) -> None:
    """Take the database's write lock now, unless the page's transaction already holds it.

    pysqlite begins a transaction only before the first write: a read before it sees the database as
    it is then, and another process may rewrite a profile between that read and the page's write.
    Taken at once, the lock makes the page's reads and writes one serialised transaction. It adds no
    wait: the page's first write, a moment later, would take it anyway.
    """
    driver = conn.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


StoredProfile = tuple[Any, ...]
"""A stored profile as the page compares it: its raw JSON text, then its tracked fields (in the order
of `tracked_fields`)."""


def _stored_profiles(conn: sa.Connection, provider: str, ids: Sequence[str]) -> dict[str, StoredProfile]:
    """The stored profiles of `ids` (those found), by id: raw text and tracked fields."""
    table = PROFILE_TABLES[provider].name
    columns = ", ".join(["raw", *(name for name, _ in tracked_fields(provider))])
    stored: dict[str, StoredProfile] = {}
    for chunk, marks in _chunks(ids):
        found = conn.exec_driver_sql(f"SELECT id, {columns} FROM {table} WHERE id IN ({marks})", tuple(chunk))
        stored.update((follower_id, tuple(values)) for follower_id, *values in found)
    return stored


def _profile_changes(
    ctx: PassContext, rows: PageRows, stored: Mapping[str, StoredProfile], at: Any
) -> list[ChangeRow]:
    """The `profile_changes` rows of the page (README, "Profile history"): one per tracked field whose
    stored value differs from the page's. A profile not stored yet is a first sighting, no change;
    one whose raw item is unchanged is not looked at."""
    fields = tracked_fields(ctx.provider)
    sent = attrgetter(*(name for name, _ in fields))
    changes: list[ChangeRow] = []
    for follower_id, (item, raw) in rows.items():
        before = stored.get(follower_id)
        if before is None or before[0] == raw:
            continue
        old, new = before[1:], sent(item)
        if old == new:  # SQLite's 0 and 1 equal False and True
            continue
        changes.extend(
            (ctx.provider, follower_id, name, _text(was, boolean), _text(now, boolean), at, ctx.run_id)
            for (name, boolean), was, now in zip(fields, old, new, strict=True)
            if was != now
        )
    return changes


def _text(value: Any, boolean: bool) -> str | None:
    """A tracked value as `profile_changes` holds it: text, booleans as `true` / `false`."""
    if value is None:
        return None
    if boolean:
        return "true" if value else "false"
    return str(value)


def save_checkpoint(
    conn: sa.Connection, ctx: PassContext, cursor: str | None, pages: int, now: datetime
) -> None:
    values = {"source_id": ctx.source_id, "pass_id": ctx.pass_id, "run_id": ctx.run_id, "cursor": cursor}
    conn.exec_driver_sql(bookkeeping.CHECKPOINT, {**values, "pages": pages, "now": _sqlite_time(conn, now)})
