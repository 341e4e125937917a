"""The write path: one page of followers into the database, and the end of a pass.

Everything here is set-based: a page is a handful of statements whatever its size (what a complete
full pass then does about the followers it did not list is `unfollows.py`). The caller owns the
transaction (`engine.begin()`), so a page's profiles, relationships, events, run counters and
checkpoint commit together or not at all.

    apply_page ─┬─ PostgreSQL: _page_json (NULs made safe) -> fastpath.write_page_postgresql
                │      (profiles, followers, events, run counters, checkpoint: two round trips)
                └─ SQLite: _page_rows (duplicates, NULs) -> fastpath.merge_page_sqlite
                       (profiles, followers, events), then run counters and save_checkpoint
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from followersync.api.models import Follower, Page
from followersync.store import fastpath
from followersync.store.schema import (
    sync_checkpoints,
    sync_passes,
    sync_runs,
)


@dataclass(frozen=True)
class PassContext:
    """What the writer needs to know about the pass a page belongs to."""

    source_id: int
    provider: str
    pass_id: int
    run_id: int
    full: bool  # a full pass marks what it saw (for unfollow detection) and keeps a checkpoint
    baseline: bool  # no complete full pass yet: followers found now are the baseline, not growth


class RequestCounts(Protocol):
    """A run's HTTP requests so far, retries included (`api.client.RequestStats` is one)."""

    @property
    def requests(self) -> int: ...

    @property
    def retries(self) -> int: ...


@dataclass(frozen=True)
class PageOutcome:
    items: int  # items on the page (duplicates included)
    new: int  # `follow` events: followers new since the baseline, or back after an unfollow
    baseline: int  # `baseline` events: followers found before the source's first complete pass


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _clean(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL; keep the rest of the string and say where it was.
    return text.replace("\x00", "\ufffd")


# A NUL escape in the JSON text: `\u0000` whose backslash is not itself escaped (`\\u0000` is a
# backslash followed by the letters u0000, which is no NUL and stays as it is).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def _without_nul(item: Follower, raw: bytes) -> tuple[Follower, bytes]:
    """The item and its JSON text with every NUL character replaced by U+FFFD, the same in both."""
    fields = {
        name: _clean(value)
        for name in item.__struct_fields__
        if isinstance(value := getattr(item, name), str) and "\x00" in value
    }
    return msgspec.structs.replace(item, **fields), _NUL_ESCAPE.sub(rb"\1\\ufffd", raw)


def _page_json(page: Page) -> bytes:
    """The page's items as one JSON array, NUL characters made safe (PostgreSQL's whole input).

    Bytes, not str: the API's UTF-8 goes to the database as it came, never decoded and encoded again.
    """
    body = b"[" + b",".join(page.raw_items) + b"]"
    if b"\\u0000" in body:  # NULs are rare, and JSON always escapes them: one search for the page
        body = _NUL_ESCAPE.sub(rb"\1\\ufffd", body)
    return body


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


def apply_page(
    conn: sa.Connection,
    ctx: PassContext,
    page: Page,
    now: datetime,
    pages_in_pass: int,
    requests: RequestCounts | None = None,
) -> PageOutcome:
    """Write one page: profiles, relationships, events, run counters and (full pass) the checkpoint.

    `requests`, when given, are the run's HTTP requests and retries so far, saved with the page's
    counters (in the same statement: a page costs no extra round trip to keep them current).

    On PostgreSQL the transaction then commits asynchronously (fastpath.py says why that is safe).
    """
    if conn.dialect.name == "postgresql":
        new, baseline = fastpath.write_page_postgresql(
            conn,
            ctx,
            _page_json(page),
            count=len(page.items),
            cursor=page.cursor,
            pages_in_pass=pages_in_pass,
            now=now,
            requests=requests,
        )
        return PageOutcome(items=len(page.items), new=new, baseline=baseline)
    rows = _page_rows(page)
    new, baseline = fastpath.merge_page_sqlite(conn, ctx, rows, now) if rows else (0, 0)
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.id == ctx.run_id)
        .values(
            pages=sync_runs.c.pages + 1,
            items=sync_runs.c["items"] + len(page.items),
            followers_new=sync_runs.c.followers_new + new,
            **({} if requests is None else {"requests": requests.requests, "retries": requests.retries}),
        )
    )
    if ctx.full:
        save_checkpoint(conn, ctx, page.cursor, pages_in_pass, now)
    return PageOutcome(items=len(page.items), new=new, baseline=baseline)


def save_checkpoint(
    conn: sa.Connection, ctx: PassContext, cursor: str | None, pages: int, now: datetime
) -> None:
    stmt = _insert(conn, sync_checkpoints)
    values = {
        "source_id": ctx.source_id,
        "pass_id": ctx.pass_id,
        "run_id": ctx.run_id,
        "cursor": cursor,
        "pages": pages,
        "updated_at": now,
    }
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[sync_checkpoints.c.source_id],
            set_={k: v for k, v in values.items() if k != "source_id"},
        ).values(values)
    )


def complete_pass(conn: sa.Connection, ctx: PassContext, now: datetime) -> None:
    """The pass is over: record when, and drop its checkpoint."""
    conn.execute(sync_passes.update().where(sync_passes.c.id == ctx.pass_id).values(completed_at=now))
    conn.execute(
        sync_checkpoints.delete().where(
            sync_checkpoints.c.source_id == ctx.source_id,
            sync_checkpoints.c.pass_id == ctx.pass_id,
        )
    )
