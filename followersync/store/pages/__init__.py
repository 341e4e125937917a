"""The write path: one page of followers into the database, in the caller's transaction
(docs/semantics.md#page-transactions).

A page's profiles, relationships, events, run counters and (full pass) checkpoint commit together or
not at all, in a handful of statements whatever the page's size. Both dialects write the same rows:

- the profile of each follower: inserted, or rewritten only when its raw item changed (a pass over
  an unchanged listing rewrites no profile);
- a `profile_changes` row for each tracked field whose value the page changes, with the old and the
  new value (README, "Profile history"): none for a first sighting, nor for a new picture URL;
- the (source, follower) relationship: inserted, or its last-seen time (and, in a full pass, the
  pass that saw it) moved forward; a follower who was missing is not any more (no event); a
  follower who had unfollowed is active again;
- a `baseline` or `follow` event for each arrival, and nothing at all in the events table otherwise;
- the items that could not be stored (no usable id) in `rejected_items`, and the items stored with a
  field the API left out or sent unusable counted in the run's `items_coerced`.

    apply_page ─┬─ PostgreSQL: postgresql.write_page (one statement: profiles and their changes,
                │      followers, events, run counters, checkpoint)
                └─ SQLite: sqlite.write_page (the stored profiles read under the write lock;
                       executemany of profiles, changes, followers; the events in one statement;
                       run counters; checkpoint)

What a complete full pass then does about the followers it did not list is `store/unfollows.py`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from followersync.page import Page
from followersync.store.pages import postgresql, sqlite
from followersync.store.pages.context import PageOutcome, PassContext, RequestCounts
from followersync.store.schema import rejected_items, sync_passes

__all__ = ["PageOutcome", "PassContext", "RequestCounts", "apply_page", "distrust_pass", "quarantine"]


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
    """
    write = postgresql.write_page if conn.dialect.name == "postgresql" else sqlite.write_page
    new, baseline = write(conn, ctx, page, now=now, pages_in_pass=pages_in_pass, requests=requests)
    if page.rejected:
        quarantine(conn, ctx, page, now, pages_in_pass)
    return PageOutcome(items=len(page.items), new=new, baseline=baseline)


def quarantine(conn: sa.Connection, ctx: PassContext, page: Page, now: datetime, pages_in_pass: int) -> None:
    """Keep the page's items that could not be stored (no usable id) in `rejected_items`, raw, and
    make a full pass untrusted for absence: a follower behind a rejected item may be someone it did
    not list (docs/semantics.md#bad-input)."""
    conn.execute(
        rejected_items.insert(),
        [
            {
                "source_id": ctx.source_id,
                "run_id": ctx.run_id,
                "page": pages_in_pass,
                "position": item.position,
                "reason": item.reason,
                "raw": item.raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                "rejected_at": now,
            }
            for item in page.rejected
        ],
    )
    if ctx.full:
        count = len(page.rejected)
        distrust_pass(conn, ctx.pass_id, f"{count} item{'s' if count != 1 else ''} without a usable id")


def distrust_pass(conn: sa.Connection, pass_id: int, reason: str) -> None:
    """Mark the pass as no evidence of absence, keeping the first reason it got."""
    conn.execute(
        sync_passes.update()
        .where(sync_passes.c.id == pass_id, sync_passes.c.untrusted_reason.is_(None))
        .values(untrusted_reason=reason)
    )
