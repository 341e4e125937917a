"""The write path: one page of followers into the database, and unfollow marking after a full pass.

Everything here is set-based: a page is a handful of statements whatever its size, and unfollow
marking is one statement per table. The caller owns the transaction (`engine.begin()`), so a page's
profiles, relationships, events, run counters and checkpoint commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from followersync.api.models import InstagramFollower, LinkedInFollower, Page
from followersync.store.schema import (
    follow_events,
    followers,
    instagram_profiles,
    linkedin_profiles,
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


@dataclass(frozen=True)
class PageOutcome:
    items: int  # items on the page (duplicates included)
    new: int  # followers never seen before, or back after an unfollow


@dataclass(frozen=True)
class UnfollowOutcome:
    lost: int  # marked unfollowed
    withheld: int  # held back by the guard


@dataclass(frozen=True)
class UnfollowGuard:
    fraction: float
    minimum: int
    accept: bool  # --accept-unfollows: mark them whatever their number


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _clean(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL; keep the rest of the string and say where it was.
    return text.replace("\x00", "\ufffd")


def _linkedin_row(item: LinkedInFollower, raw: str, now: datetime) -> dict[str, Any]:
    return {
        "id": item.id,
        "urn": item.urn,
        "name": item.name,
        "headline": item.headline,
        "profile_url": item.profile_url,
        "profile_picture_url": item.profile_picture_url,
        "profile_picture_url_large": item.profile_picture_url_large,
        "raw": raw,
        "first_seen_at": now,
        "updated_at": now,
    }


def _instagram_row(item: InstagramFollower, raw: str, now: datetime) -> dict[str, Any]:
    return {
        "id": item.id,
        "messaging_id": item.messaging_id,
        "username": item.username,
        "name": item.name,
        "profile_picture_url": item.profile_picture_url,
        "is_private": item.is_private,
        "is_verified": item.is_verified,
        "raw": raw,
        "first_seen_at": now,
        "updated_at": now,
    }


def _profile_rows(page: Page, now: datetime) -> list[dict[str, Any]]:
    """One row per distinct follower (the last occurrence wins), NUL characters made safe."""
    rows: dict[str, dict[str, Any]] = {}
    for item, raw_bytes in zip(page.items, page.raw_items, strict=True):
        raw = raw_bytes.decode("utf-8")
        row = (
            _linkedin_row(item, raw, now)
            if isinstance(item, LinkedInFollower)
            else _instagram_row(item, raw, now)
        )
        if "\\u0000" in raw:  # a NUL in some string of this item (JSON escapes it)
            row = {k: _clean(v) if isinstance(v, str) else v for k, v in row.items()}
            row["raw"] = raw.replace("\\u0000", "\\ufffd")
        rows[row["id"]] = row
    return list(rows.values())


def upsert_profiles(conn: sa.Connection, provider: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new profiles; rewrite a known one only when its raw item changed."""
    table = linkedin_profiles if provider == "linkedin" else instagram_profiles
    stmt = _insert(conn, table)
    changing = [c.name for c in table.columns if c.name not in {"id", "first_seen_at"}]
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: stmt.excluded[name] for name in changing},
        where=table.c.raw.is_distinct_from(stmt.excluded.raw),
    )
    conn.execute(stmt, list(rows))


def apply_page(
    conn: sa.Connection, ctx: PassContext, page: Page, now: datetime, pages_in_pass: int
) -> PageOutcome:
    """Write one page: profiles, relationships, events, run counters and (full pass) the checkpoint."""
    profile_rows = _profile_rows(page, now)
    ids = [row["id"] for row in profile_rows]
    if profile_rows:
        upsert_profiles(conn, ctx.provider, profile_rows)
    arrived = _arrivals(conn, ctx, ids)
    if ids:
        _upsert_relationships(conn, ctx, ids, now)
    if arrived:
        conn.execute(
            follow_events.insert(),
            [
                {
                    "source_id": ctx.source_id,
                    "follower_id": follower_id,
                    "event": "baseline" if ctx.baseline and is_first_time else "follow",
                    "occurred_at": now,
                    "run_id": ctx.run_id,
                }
                for follower_id, is_first_time in arrived
            ],
        )
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.id == ctx.run_id)
        .values(
            pages=sync_runs.c.pages + 1,
            items=sync_runs.c["items"] + len(page.items),
            followers_new=sync_runs.c.followers_new + len(arrived),
        )
    )
    if ctx.full:
        save_checkpoint(conn, ctx, page.cursor, pages_in_pass, now)
    return PageOutcome(items=len(page.items), new=len(arrived))


def _arrivals(conn: sa.Connection, ctx: PassContext, ids: list[str]) -> list[tuple[str, bool]]:
    """The followers on this page that are new to the source (True) or back after leaving (False)."""
    if not ids:
        return []
    rows = conn.execute(
        sa.select(followers.c.follower_id, followers.c.unfollowed_at).where(
            followers.c.source_id == ctx.source_id, followers.c.follower_id.in_(ids)
        )
    )
    known = {follower_id: unfollowed_at for follower_id, unfollowed_at in rows}
    arrived: list[tuple[str, bool]] = []
    for follower_id in ids:
        if follower_id not in known:
            arrived.append((follower_id, True))
        elif known[follower_id] is not None:
            arrived.append((follower_id, False))
    return arrived


def _upsert_relationships(conn: sa.Connection, ctx: PassContext, ids: list[str], now: datetime) -> None:
    stmt = _insert(conn, followers)
    # Only a full pass records itself as the last pass that saw a follower: an incremental pass in the
    # middle of a full one must not make the full pass think it saw followers it never listed.
    update: dict[str, Any] = {"last_seen_at": stmt.excluded.last_seen_at, "unfollowed_at": None}
    if ctx.full:
        update["last_seen_pass_id"] = stmt.excluded.last_seen_pass_id
    stmt = stmt.on_conflict_do_update(
        index_elements=[followers.c.source_id, followers.c.follower_id], set_=update
    )
    seen_by = ctx.pass_id if ctx.full else None
    conn.execute(
        stmt,
        [
            {
                "source_id": ctx.source_id,
                "follower_id": follower_id,
                "first_seen_at": now,
                "last_seen_at": now,
                "last_seen_pass_id": seen_by,
                "unfollowed_at": None,
            }
            for follower_id in ids
        ],
    )


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


def mark_unfollows(
    conn: sa.Connection,
    ctx: PassContext,
    pass_started_at: datetime,
    now: datetime,
    guard: UnfollowGuard,
) -> UnfollowOutcome:
    """After a complete full pass: every active follower it did not list is unfollowed, unless the
    guard holds them back.

    "Did not list" means neither this pass saw them nor anything else since the pass began (an
    incremental pass may have seen a new follower the full pass had already moved past).
    """
    missing = sa.and_(
        followers.c.source_id == ctx.source_id,
        followers.c.unfollowed_at.is_(None),
        followers.c.last_seen_pass_id.is_distinct_from(ctx.pass_id),
        followers.c.last_seen_at < pass_started_at,
    )
    candidates = conn.execute(sa.select(sa.func.count()).where(missing)).scalar_one()
    if candidates == 0:
        return UnfollowOutcome(lost=0, withheld=0)
    active = conn.execute(
        sa.select(sa.func.count()).where(
            followers.c.source_id == ctx.source_id, followers.c.unfollowed_at.is_(None)
        )
    ).scalar_one()
    if not guard.accept and candidates > guard.fraction * active and candidates > guard.minimum:
        return UnfollowOutcome(lost=0, withheld=candidates)
    conn.execute(
        follow_events.insert().from_select(
            ["source_id", "follower_id", "event", "occurred_at", "run_id"],
            sa.select(
                followers.c.source_id,
                followers.c.follower_id,
                sa.literal("unfollow", sa.String),
                sa.literal(now, follow_events.c.occurred_at.type),
                sa.literal(ctx.run_id, sa.Integer),
            ).where(missing),
        )
    )
    lost = conn.execute(followers.update().where(missing).values(unfollowed_at=now)).rowcount
    return UnfollowOutcome(lost=lost, withheld=0)


def complete_pass(conn: sa.Connection, ctx: PassContext, now: datetime) -> None:
    """The pass is over: record when, and drop its checkpoint."""
    conn.execute(sync_passes.update().where(sync_passes.c.id == ctx.pass_id).values(completed_at=now))
    conn.execute(
        sync_checkpoints.delete().where(
            sync_checkpoints.c.source_id == ctx.source_id,
            sync_checkpoints.c.pass_id == ctx.pass_id,
        )
    )
