"""The notification outbox in SQL: what a run's notifications are made of, and each payload's fate.

    unnotified_runs() -> run_follows() / run_unfollows() / run_changes()   what a run found
    add_payloads() + mark_notified()                                         one transaction
    pending() -> claim() -> delivered() | failed()                           each delivery attempt

A run's notifications go into the outbox in one transaction with the mark that they did
(`sync_runs.notified_at`), so a run is notified exactly once, and a run whose process died before is
notified by the next run of its source. The payload's body is stored as first written: every retry
sends the same bytes. `notify/` decides what goes in a payload and where it goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from followersync.domain import RunStatus
from followersync.store.schema import (
    PROFILE_TABLES,
    follow_events,
    notification_outbox,
    profile_changes,
    sync_runs,
)


@dataclass(frozen=True)
class FinishedRun:
    """A run whose notifications are not written yet (the newest last)."""

    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    followers_new: int
    followers_lost: int
    unfollows_withheld: int
    withheld_reason: str | None = None


@dataclass(frozen=True)
class FollowerEvent:
    """A follow, an unfollow or a profile change, with who it is about as the profile says now."""

    event: str
    follower_id: str
    name: str | None
    handle: str | None
    occurred_at: datetime
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None


def unnotified_runs(conn: sa.Connection, source_id: int) -> list[FinishedRun]:
    r = sync_runs.c
    rows = conn.execute(
        sa.select(
            r.id,
            r.status,
            r.started_at,
            r.finished_at,
            r.followers_new,
            r.followers_lost,
            r.unfollows_withheld,
            r.withheld_reason,
        )
        .where(r.source_id == source_id, r.notified_at.is_(None), r.status != RunStatus.RUNNING)
        .order_by(r.id)
    )
    return [FinishedRun(*row) for row in rows]


def _who(provider: str) -> tuple[sa.Table, sa.ColumnElement[Any]]:
    """The profile table and the column the views call `handle` (Instagram username, LinkedIn URL)."""
    table = PROFILE_TABLES[provider]
    return table, table.c.username if provider == "instagram" else table.c.profile_url


def _events(conn: sa.Connection, provider: str, *where: sa.ColumnElement[bool]) -> list[FollowerEvent]:
    """The follow events `where` selects, with who they are about."""
    e = follow_events.c
    profiles, handle = _who(provider)
    rows = conn.execute(
        sa.select(e.event, e.follower_id, profiles.c.name, handle.label("handle"), e.occurred_at)
        .select_from(follow_events.outerjoin(profiles, profiles.c.id == e.follower_id))
        .where(*where)
        .order_by(e.id)
    )
    return [FollowerEvent(row.event, row.follower_id, row.name, row.handle, row.occurred_at) for row in rows]


def run_follows(conn: sa.Connection, source_id: int, provider: str, run: FinishedRun) -> list[FollowerEvent]:
    """The run's `follow` events (new followers and comebacks; never the baseline)."""
    if run.followers_new == 0:  # the run's counter says: no need to look (a baseline pass has 0)
        return []
    e = follow_events.c
    # Through the (source_id, occurred_at) index: a page's events are dated after its run began.
    return _events(
        conn, provider, e.source_id == source_id, e.occurred_at >= run.started_at, e.run_id == run.id,
        e.event == "follow",
    )  # fmt: skip


def run_unfollows(
    conn: sa.Connection, source_id: int, provider: str, run: FinishedRun
) -> list[FollowerEvent]:
    """The unfollows the run confirmed, dated when the follower was first missed, so not findable by
    time: through the partial index of unfollow events by run."""
    if run.followers_lost == 0:
        return []
    e = follow_events.c
    # A literal, not a parameter: the planners match a partial index's condition only against one.
    unfollows = e.event == sa.literal_column("'unfollow'")
    return _events(conn, provider, e.run_id == run.id, unfollows, e.source_id == source_id)


def run_changes(conn: sa.Connection, provider: str, run: FinishedRun) -> list[FollowerEvent]:
    """The profile changes the run's pages recorded."""
    c = profile_changes.c
    profiles, handle = _who(provider)
    rows = conn.execute(
        sa.select(
            c.follower_id,
            profiles.c.name,
            handle.label("handle"),
            c.changed_at,
            c.field,
            c.old_value,
            c.new_value,
        )
        .select_from(profile_changes.outerjoin(profiles, profiles.c.id == c.follower_id))
        .where(c.run_id == run.id, c.provider == provider)
        .order_by(c.id)
    )
    return [FollowerEvent("profile_change", *row) for row in rows]


@dataclass(frozen=True)
class NewPayload:
    id: str
    hook: str
    source_id: int | None
    run_id: int | None
    events: int
    body: bytes


def add_payloads(conn: sa.Connection, payloads: Sequence[NewPayload], now: datetime) -> None:
    if payloads:
        conn.execute(
            notification_outbox.insert(),
            [
                {
                    "id": p.id,
                    "hook": p.hook,
                    "source_id": p.source_id,
                    "run_id": p.run_id,
                    "events": p.events,
                    "body": p.body.decode("utf-8"),
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for p in payloads
            ],
        )


def mark_notified(conn: sa.Connection, run_ids: Sequence[int], now: datetime) -> None:
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.id.in_(list(run_ids)), sync_runs.c.notified_at.is_(None))
        .values(notified_at=now)
    )


# --- delivery ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A payload to deliver now."""

    id: str
    hook: str
    body: bytes
    created_at: datetime
    attempts: int
    next_attempt_at: datetime


_PENDING = sa.and_(notification_outbox.c.delivered_at.is_(None), notification_outbox.c.given_up_at.is_(None))


def pending(conn: sa.Connection, hooks: Sequence[str], limit: int = 1000) -> list[Pending]:
    """The payloads of `hooks` not delivered nor given up, oldest first, due now or not."""
    o = notification_outbox.c
    rows = conn.execute(
        sa.select(o.id, o.hook, o.body, o.created_at, o.attempts, o.next_attempt_at)
        .where(_PENDING, o.hook.in_(list(hooks)))
        .order_by(o.seq)
        .limit(limit)
    )
    return [Pending(row.id, row.hook, row.body.encode("utf-8"), *row[3:]) for row in rows]


def give_up_unconfigured(
    conn: sa.Connection, hooks: Sequence[str], written_before: datetime, now: datetime
) -> int:
    """Give up the payloads, written before `written_before`, of hooks no longer configured (they
    wait that long in case the hook comes back, e.g. a configuration rolled back)."""
    o = notification_outbox.c
    result = conn.execute(
        notification_outbox.update()
        .where(_PENDING, o.hook.not_in(list(hooks)), o.created_at < written_before)
        .values(given_up_at=now, last_error="the hook is no longer configured")
    )
    return int(result.rowcount)


def claim(conn: sa.Connection, payload: Pending, until: datetime) -> bool:
    """Take the payload for one attempt: no other process attempts it before `until` (when this one
    would have given up on it). False when another process took it first."""
    o = notification_outbox.c
    taken = conn.execute(
        notification_outbox.update()
        .where(o.id == payload.id, _PENDING, o.next_attempt_at == payload.next_attempt_at)
        .values(next_attempt_at=until)
    )
    return taken.rowcount == 1


def delivered(conn: sa.Connection, payload_id: str, now: datetime) -> None:
    conn.execute(
        notification_outbox.update()
        .where(notification_outbox.c.id == payload_id)
        .values(delivered_at=now, attempts=notification_outbox.c.attempts + 1, last_error=None)
    )


def failed(
    conn: sa.Connection, payload_id: str, error: str, *, retry_at: datetime, given_up_at: datetime | None
) -> None:
    conn.execute(
        notification_outbox.update()
        .where(notification_outbox.c.id == payload_id)
        .values(
            attempts=notification_outbox.c.attempts + 1,
            last_error=error,
            next_attempt_at=retry_at,
            given_up_at=given_up_at,
        )
    )
