"""A page of followers on PostgreSQL: one statement and its COMMIT, whatever the page's size.

The page travels as one parameter, the JSON array of its items exactly as the API sent them, and one
statement (data-modifying CTEs) parses it, upserts the profiles and the relationships, writes the
events and their day's sums, the run counters and the checkpoint. The upsert's RETURNING says which
followers are new, so nothing is looked up beforehand, and every row is found through its primary
key by ON CONFLICT, never through a plan built on statistics that a pass makes stale
(bench/RESULTS.md, "The page writers: why they are written as they are"). No per-row statement
and no per-item Python work, and the page commits asynchronously (`_ASYNC_COMMIT` says why that is
as safe).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from followersync.page import Page
from followersync.store import bookkeeping
from followersync.store.bookkeeping import for_psycopg
from followersync.store.pages.context import (
    PassContext,
    RequestCounts,
    item_columns,
    tracked_fields,
    without_nul_escapes,
)
from followersync.store.schema import PROFILE_TABLES


def page_json(page: Page) -> bytes:
    """The page's items as one JSON array, NUL characters made safe (PostgreSQL's whole input).

    Bytes, not str: the API's UTF-8 goes to the database as it came, never decoded and encoded again.
    """
    body = b"[" + b",".join(page.raw_items) + b"]"
    if b"\\u0000" in body:  # NULs are rare, and JSON always escapes them: one search for the page
        body = without_nul_escapes(body)
    return body


# The page commits asynchronously: COMMIT returns before the WAL is flushed to disk, most of the cost
# of a page's commit (bench/RESULTS.md, "The page writers"). What this gives up is only the
# durability of the last pages (PostgreSQL flushes within 3 x wal_writer_delay, 0.6 s by default) if
# the database server or its machine crashes; never atomicity or consistency: a page and its
# checkpoint are lost together, and the next run resumes from the checkpoint that survived and
# reapplies the pages after it, which is idempotent. A crash of followersync itself loses nothing
# committed. The transaction that ends a run (unfollows, pass, run row) commits normally, which
# flushes every page before it: a finished run is durable. SQLite's `synchronous=NORMAL`
# (store/db.py) makes the same trade.
# `set_config(..., true)` is SET LOCAL as an expression, so that it travels inside the page's statement.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


def _without_comments(sql: str) -> str:
    """`sql` without its `--` comments, indentation and blank lines. They are for the reader of this
    file; the driver converts and caches a statement only up to 4 kB of text (psycopg's
    MAX_CACHED_STATEMENT_LENGTH), and converting it anew for every page costs a pass time
    (bench/RESULTS.md, "The page writers"). (No string literal of the statement spans lines.)"""
    lines = (re.sub(r"\s*--.*$", "", line).strip() for line in sql.splitlines())
    return "\n".join(line for line in lines if line)


def _plain(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.Boolean):
        return f"(raw ->> '{column.name}')::boolean"
    return f"NULLIF(raw ->> '{column.name}', '')"


def _tolerant(column: sa.Column[Any]) -> str:
    json_type = "boolean" if isinstance(column.type, sa.Boolean) else "string"
    value = (
        f"(raw -> '{column.name}')::boolean"
        if json_type == "boolean"
        else f"NULLIF(raw ->> '{column.name}', '')"
    )
    return f"CASE WHEN jsonb_typeof(raw -> '{column.name}') = '{json_type}' THEN {value} END"


@cache
def _page_sql(provider: str, full: bool, tolerant: bool = False) -> str:
    """The statement that writes a page (a JSON array of items): profiles, relationships, events, run
    counters and (full pass) the checkpoint, as data-modifying CTEs. It returns one row, the numbers
    of `follow` and `baseline` events, and reads no table beforehand (the module's docstring says why).
    """
    table = PROFILE_TABLES[provider].name
    columns = item_columns(provider)
    # The item's fields come out of the raw JSON server-side, with no per-field Python work, as
    # `api.models` read them: `->>` gives JSON null (or a missing field) as SQL NULL, and NULLIF an
    # empty string, like the item's None. A page with a value of the wrong JSON type (`tolerant`: rare)
    # needs a longer expression per field; it is a statement of its own so that the usual one stays
    # short enough for the driver to cache (`_without_comments`).
    extracted = [_tolerant(c) if tolerant else _plain(c) for c in columns]
    names = [c.name for c in columns]
    rewritten = ", ".join(f"{n} = excluded.{n}" for n in [*names, "raw", "updated_at"])
    # Only a full pass records itself as the last pass that saw a follower: an incremental pass in the
    # middle of a full one must not make the full pass think it saw followers it never listed.
    seen_by = ", last_seen_pass_id = excluded.last_seen_pass_id" if full else ""
    # A full pass saves its cursor with the page (an incremental pass has no checkpoint to resume).
    checkpoint = f", checkpoint AS ({for_psycopg(bookkeeping.CHECKPOINT)})" if full else ""
    # The day's sums and the run's counters, from the page's tally of events.
    growth = for_psycopg(bookkeeping.daily_growth(_GROWTH_ROWS))
    counters = for_psycopg(bookkeeping.run_counters("(SELECT new FROM tally)"))
    # The profile history's fields: `fields` names them, `tracked(alias)` gives their values as text
    # in the same order (booleans as `true` / `false`, as SQLite's writer spells them).
    history = tracked_fields(provider)
    fields = ", ".join(f"'{name}'" for name, _ in history)

    def tracked(alias: str) -> str:
        return ", ".join(
            f"{alias}.{name}::text" if boolean else f"{alias}.{name}" for name, boolean in history
        )

    return _without_comments(f"""
WITH page AS MATERIALIZED (
    -- One row per follower, each item parsed once. A follower listed twice on the page (the listing
    -- shifted under the cursor) counts once, as its last occurrence.
    SELECT DISTINCT ON (item ->> 'id') item ->> 'id' AS id, item AS raw
    FROM jsonb_array_elements(%(items)t) WITH ORDINALITY AS listed (item, position)
    ORDER BY item ->> 'id', position DESC
), profiles AS (
    INSERT INTO {table} AS t (id, {", ".join(names)}, raw, first_seen_at, updated_at)
    SELECT id, {", ".join(extracted)}, raw, %(now)s, %(now)s FROM page
    -- Rows are locked in id order, so two syncs sharing followers (a profile belongs to every source
    -- it follows) wait for each other instead of deadlocking.
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET {rewritten}
    WHERE t.raw IS DISTINCT FROM excluded.raw
    -- For the profile history: the tracked fields' new values and, for a row that was there already
    -- (xmax is 0 only in a row this statement inserted: a first sighting is no change, and costs no
    -- lookup), their old values. The subquery sees the row as it was before this statement, as all
    -- CTEs share its snapshot; it finds it through the primary key. An unchanged profile is not
    -- updated, hence not returned: a pass over an unchanged listing reads nothing more.
    RETURNING t.id, ARRAY[{tracked("t")}] AS new,
        CASE WHEN t.xmax <> 0 THEN (SELECT ARRAY[{tracked("o")}] FROM {table} o WHERE o.id = t.id) END AS old
), changes AS (
    -- One row per tracked field whose value changed (README, "Profile history").
    -- The one imprecision: `old` comes from the statement's snapshot, not from the row version the
    -- upsert replaced. Two syncs of different sources sharing a follower whose profile changes at that
    -- very moment may then both record the change (a duplicated row). And a profile another sync
    -- inserted after our snapshot has no old values here (`old` IS NULL): a change between its
    -- listing and ours is not recorded.
    INSERT INTO profile_changes (provider, follower_id, field, old_value, new_value, changed_at, run_id)
    SELECT '{provider}', p.id, c.field, c.old, c.new, %(now)s, %(run_id)s::int
    FROM profiles p, unnest(ARRAY[{fields}], p.old, p.new) AS c (field, old, new)
    WHERE p.old IS NOT NULL AND c.old IS DISTINCT FROM c.new
), seen AS (
    INSERT INTO followers AS f
        (source_id, follower_id, first_seen_at, last_seen_at, last_seen_pass_id, unfollowed_at)
    SELECT %(source_id)s::int, id, %(now)s, %(now)s, %(seen_by)s::int, NULL FROM page
    -- Listed again: whoever was missing is not any more (no event: they never left).
    ON CONFLICT (source_id, follower_id) DO UPDATE
    SET last_seen_at = excluded.last_seen_at, missing_since = NULL, missed_passes = 0{seen_by}
    -- A follower who had unfollowed is only locked here, not updated nor returned: the page's ids
    -- missing from `seen` are exactly the comebacks, found without reading the table beforehand.
    WHERE f.unfollowed_at IS NULL
    -- xmax is 0 only in a row version this statement inserted (an updated one carries our xid).
    RETURNING f.follower_id, f.xmax = 0 AS inserted
), back AS (
    -- The comebacks, active again. An upsert of rows known to exist rather than an UPDATE ... WHERE,
    -- for the same reason as above: ON CONFLICT finds each row through the primary key.
    INSERT INTO followers AS f
        (source_id, follower_id, first_seen_at, last_seen_at, last_seen_pass_id, unfollowed_at)
    SELECT %(source_id)s::int, id, %(now)s, %(now)s, %(seen_by)s::int, NULL
    FROM (SELECT id FROM page EXCEPT SELECT follower_id FROM seen) AS missing
    ON CONFLICT (source_id, follower_id) DO UPDATE
    SET unfollowed_at = NULL, last_seen_at = excluded.last_seen_at{seen_by}
    RETURNING f.follower_id
), arrivals AS (
    SELECT follower_id, %(first_event)s AS event FROM seen WHERE inserted
    UNION ALL
    SELECT follower_id, 'follow' FROM back
), events AS (
    INSERT INTO follow_events (source_id, follower_id, event, occurred_at, run_id)
    SELECT %(source_id)s::int, follower_id, event, %(now)s, %(run_id)s::int FROM arrivals
), tally AS (
    SELECT count(*) FILTER (WHERE event = 'follow') AS new,
           count(*) FILTER (WHERE event = 'baseline') AS baseline
    FROM arrivals
), growth AS (
    {growth}
), counters AS (
    {counters}
){checkpoint}
SELECT new, baseline, {_ASYNC_COMMIT} AS commit_mode FROM tally
""")


@contextmanager
def _as_sqlalchemy_errors(conn: sa.Connection, what: str) -> Iterator[None]:
    """Driver errors as SQLAlchemy raises them for its own statements: wrapped in `DBAPIError` (which
    a pass records as `database_error`), and a lost connection invalidated, so the pool replaces
    it and the rollback does not try to use it."""
    dialect = conn.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            what,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc


# The rows of the day's sums: a page's events are all of `now`.
_GROWTH_ROWS = (
    "SELECT %(source_id)s::int, (%(now)s AT TIME ZONE 'UTC')::date, new + baseline, new, 0"
    " FROM tally WHERE new + baseline > 0"
)


def _verbatim(json_text: bytes) -> bytes:
    return json_text


def _page_params(
    ctx: PassContext, page: Page, *, now: datetime, pages_in_pass: int, requests: RequestCounts | None
) -> dict[str, Any]:
    """The parameters of the page's statement (`_page_sql`)."""
    from psycopg.types.json import Jsonb as _Jsonb  # here: SQLite users never need psycopg loaded

    return {
        "now": now,
        "source_id": ctx.source_id,
        "pass_id": ctx.pass_id,
        "run_id": ctx.run_id,
        "seen_by": ctx.pass_id if ctx.full else None,
        "first_event": "baseline" if ctx.baseline else "follow",
        "count": len(page.items),
        "coerced": page.coerced,
        "cursor": page.cursor,
        "pages": pages_in_pass,
        "requests": None if requests is None else requests.requests,
        "retries": None if requests is None else requests.retries,
        # The items' JSON text is sent as it is, typed jsonb, in text format (`%t` in the statement):
        # no decoding, no re-encoding, no binary-format copy.
        "items": _Jsonb(page_json(page), dumps=_verbatim),
    }


def write_page(
    conn: sa.Connection,
    ctx: PassContext,
    page: Page,
    *,
    now: datetime,
    pages_in_pass: int,
    requests: RequestCounts | None = None,
) -> tuple[int, int]:
    """Write one page on PostgreSQL: profiles, followers, events, run counters and (full pass) the
    checkpoint. Returns the numbers of `follow` events (new followers, or back after an unfollow) and
    `baseline` events.

    One statement whatever the page's size, so with the caller's COMMIT a page is two round trips;
    the transaction commits asynchronously (`_ASYNC_COMMIT` says why that is safe).
    """
    # The driver's own cursor: no SQLAlchemy per-parameter processing, and `%t` (text format) for the
    # items. It works on the same connection, hence inside the caller's transaction.
    driver = conn.connection.driver_connection
    assert driver is not None
    params = _page_params(ctx, page, now=now, pages_in_pass=pages_in_pass, requests=requests)
    with _as_sqlalchemy_errors(conn, f"write a page of {ctx.provider} followers"), driver.cursor() as cur:
        cur.execute(_page_sql(ctx.provider, ctx.full, page.wrong_types), params)
        row = cur.fetchone()
        assert row is not None
    return int(row[0]), int(row[1])
