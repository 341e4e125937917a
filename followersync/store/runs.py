"""Bookkeeping around passes: sources, runs, passes, checkpoints, account leases, the daily budget.

Every function takes a Connection inside the caller's transaction, except where it says it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from followersync.config import SourceConfig
from followersync.store.dialects import insert
from followersync.store.schema import (
    account_cooldowns,
    account_leases,
    followers,
    request_budget,
    sources,
    sync_checkpoints,
    sync_passes,
    sync_runs,
)


def reconcile_sources(
    conn: sa.Connection, configured: Sequence[SourceConfig], now: datetime
) -> dict[str, int]:
    """Keep the `sources` table in step with the configuration; return name -> id of configured sources.

    A source is matched by name. One that left the configuration is disabled, never deleted, so its
    history stays queryable. Several processes may start at once with the same configuration, so a
    new source is inserted with ON CONFLICT DO NOTHING and everyone reads the winner's row.
    """
    existing = {row.name: row for row in conn.execute(sa.select(sources))}
    for source in configured:
        values = {
            "provider": source.provider,
            "account_id": source.account_id,
            "user_id": source.user_id,
            "enabled": True,
        }
        row = existing.get(source.name)
        if row is None:
            conn.execute(
                insert(conn, sources)
                .values(name=source.name, created_at=now, **values)
                .on_conflict_do_nothing(index_elements=[sources.c.name])
            )
        elif any(getattr(row, key) != value for key, value in values.items()):
            conn.execute(sources.update().where(sources.c.id == row.id).values(**values))
    configured_names = {source.name for source in configured}
    gone = [row.id for name, row in existing.items() if name not in configured_names and row.enabled]
    if gone:
        conn.execute(sources.update().where(sources.c.id.in_(gone)).values(enabled=False))
    return source_ids(conn, list(configured_names))


def source_ids(conn: sa.Connection, names: Sequence[str]) -> dict[str, int]:
    """Name -> id of the sources the database knows among `names`; reads only (the reading commands)."""
    rows = conn.execute(sa.select(sources.c.name, sources.c.id).where(sources.c.name.in_(list(names))))
    return {name: source_id for name, source_id in rows}


@dataclass(frozen=True)
class Checkpoint:
    pass_id: int
    pass_started_at: datetime
    cursor: str | None  # None: the listing is complete, only unfollow marking remains
    pages: int
    updated_at: datetime
    # How the pass's last run ended: `deferred` (the budget, a limit, a stop) is a pause that resumes
    # however old the checkpoint; `failed` or `abandoned` is subject to `sync.checkpoint_max_age`.
    last_run_status: str | None = None


def load_checkpoint(conn: sa.Connection, source_id: int) -> Checkpoint | None:
    last_run_status = (
        sa.select(sync_runs.c.status)
        .where(sync_runs.c.pass_id == sync_checkpoints.c.pass_id)
        .order_by(sync_runs.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = conn.execute(
        sa.select(
            sync_checkpoints.c.pass_id,
            sync_passes.c.started_at,
            sync_checkpoints.c.cursor,
            sync_checkpoints.c.pages,
            sync_checkpoints.c.updated_at,
            last_run_status,
        )
        .join(sync_passes, sync_passes.c.id == sync_checkpoints.c.pass_id)
        .where(sync_checkpoints.c.source_id == source_id)
    ).first()
    return Checkpoint(*row) if row else None


def drop_checkpoint(conn: sa.Connection, source_id: int) -> None:
    conn.execute(sync_checkpoints.delete().where(sync_checkpoints.c.source_id == source_id))


def last_full_pass_at(conn: sa.Connection, source_id: int) -> datetime | None:
    """When the source's last complete full pass finished (None: it never had one)."""
    value: datetime | None = conn.execute(
        sa.select(sa.func.max(sync_passes.c.completed_at)).where(
            sync_passes.c.source_id == source_id, sync_passes.c.mode == "full"
        )
    ).scalar_one()
    return value


def active_followers(conn: sa.Connection, source_id: int) -> int:
    """How many followers the source has now (the missing included, until confirmed)."""
    count: int = conn.execute(
        sa.select(sa.func.count()).where(
            followers.c.source_id == source_id, followers.c.unfollowed_at.is_(None)
        )
    ).scalar_one()
    return count


def missing_followers(conn: sa.Connection, source_id: int) -> int:
    """How many of the source's followers await confirmation (missing, not unfollowed yet)."""
    return missing_by_source(conn, [source_id]).get(source_id, 0)


def missing_by_source(conn: sa.Connection, source_ids: Sequence[int]) -> dict[int, int]:
    """Source id -> followers awaiting confirmation, for the sources that have any.

    Through the partial index of the missing rows: it costs nothing for a source with none.
    """
    rows = conn.execute(
        sa.select(followers.c.source_id, sa.func.count())
        .where(followers.c.source_id.in_(source_ids), followers.c.missing_since.is_not(None))
        .group_by(followers.c.source_id)
    )
    return {source_id: int(n) for source_id, n in rows}


def start_pass(conn: sa.Connection, source_id: int, mode: str, now: datetime) -> int:
    pass_id: int = conn.execute(
        sync_passes.insert()
        .values(source_id=source_id, mode=mode, started_at=now)
        .returning(sync_passes.c.id)
    ).scalar_one()
    return pass_id


def complete_pass(conn: sa.Connection, source_id: int, pass_id: int, now: datetime) -> None:
    """The pass is over: record when, and drop its checkpoint."""
    conn.execute(sync_passes.update().where(sync_passes.c.id == pass_id).values(completed_at=now))
    conn.execute(
        sync_checkpoints.delete().where(
            sync_checkpoints.c.source_id == source_id,
            sync_checkpoints.c.pass_id == pass_id,
        )
    )


def start_run(
    conn: sa.Connection, source_id: int, pass_id: int, mode: str, holder: str, now: datetime
) -> int:
    run_id: int = conn.execute(
        sync_runs.insert()
        .values(
            source_id=source_id, pass_id=pass_id, mode=mode, status="running", started_at=now, holder=holder
        )
        .returning(sync_runs.c.id)
    ).scalar_one()
    return run_id


def finish_run(
    conn: sa.Connection,
    run_id: int,
    *,
    status: str,
    now: datetime,
    requests: int,
    retries: int,
    followers_missing: int = 0,
    followers_lost: int = 0,
    unfollows_withheld: int = 0,
    withheld_reason: str | None = None,
    error_type: str | None = None,
    error_detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        sync_runs.update()
        .where(sync_runs.c.id == run_id)
        .values(
            status=status,
            finished_at=now,
            requests=requests,
            retries=retries,
            followers_missing=followers_missing,
            followers_lost=followers_lost,
            unfollows_withheld=unfollows_withheld,
            withheld_reason=withheld_reason,
            error_type=error_type,
            error_detail=error_detail,
        )
    )


# --- leases: one syncer per linked account, across processes and machines ----------------------


def acquire_lease(conn: sa.Connection, account_id: str, holder: str, now: datetime, ttl: float) -> bool:
    """Take the account's lease if it is free, expired, or already ours. One atomic statement."""
    stmt = insert(conn, account_leases).values(
        account_id=account_id, holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=ttl)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[account_leases.c.account_id],
        set_={
            "holder": stmt.excluded.holder,
            "acquired_at": stmt.excluded.acquired_at,
            "expires_at": stmt.excluded.expires_at,
        },
        where=sa.or_(account_leases.c.expires_at < now, account_leases.c.holder == holder),
    ).returning(account_leases.c.holder)
    return conn.execute(stmt).first() is not None


def live_lease_holder(conn: sa.Connection, account_id: str, now: datetime) -> str | None:
    """Who holds the account's lease, if it has not expired."""
    holder: str | None = conn.execute(
        sa.select(account_leases.c.holder).where(
            account_leases.c.account_id == account_id, account_leases.c.expires_at >= now
        )
    ).scalar_one_or_none()
    return holder


def renew_lease(conn: sa.Connection, account_id: str, holder: str, now: datetime, ttl: float) -> bool:
    """Push the lease's expiry forward; False if it is no longer ours."""
    result = conn.execute(
        account_leases.update()
        .where(account_leases.c.account_id == account_id, account_leases.c.holder == holder)
        .values(expires_at=now + timedelta(seconds=ttl))
    )
    return result.rowcount == 1


def release_lease(conn: sa.Connection, account_id: str, holder: str) -> None:
    conn.execute(
        account_leases.delete().where(
            account_leases.c.account_id == account_id, account_leases.c.holder == holder
        )
    )


def mark_abandoned_runs(conn: sa.Connection, now: datetime) -> int:
    """Runs left `running` by a process that no longer holds its account's lease are `abandoned`
    (docs/semantics.md#one-syncer-per-account)."""
    live_lease = (
        sa.select(account_leases.c.account_id)
        .join(sources, sources.c.account_id == account_leases.c.account_id)
        .where(
            sources.c.id == sync_runs.c.source_id,
            account_leases.c.holder == sync_runs.c.holder,
            account_leases.c.expires_at >= now,
        )
        .exists()
    )
    result = conn.execute(
        sync_runs.update()
        .where(sync_runs.c.status == "running", ~live_lease)
        .values(status="abandoned", finished_at=now)
    )
    return result.rowcount


# --- the daily request budget, shared by every process through the database ---------------------


def consume_budget(conn: sa.Connection, account_id: str, now: datetime, limit: int) -> bool:
    """Count one request against the account's budget for this UTC day; False if it is used up."""
    day = now.date()
    stmt = insert(conn, request_budget).values(account_id=account_id, day=day, requests=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[request_budget.c.account_id, request_budget.c.day],
        set_={"requests": request_budget.c.requests + 1},
        where=request_budget.c.requests < limit,
    ).returning(request_budget.c.requests)
    return conn.execute(stmt).first() is not None


# --- cool-downs: an account the provider's limits stopped rests, longer on each repeat -------------


@dataclass(frozen=True)
class Cooldown:
    until: datetime
    seconds: float
    error_type: str


def cooldown_of(conn: sa.Connection, account_id: str) -> Cooldown | None:
    """The account's last cool-down, if a run of it has not succeeded since (it may be over)."""
    c = account_cooldowns.c
    row = conn.execute(sa.select(c.until, c.seconds, c.error_type).where(c.account_id == account_id)).first()
    return Cooldown(*row) if row else None


def start_cooldown(
    conn: sa.Connection, account_id: str, error_type: str, now: datetime, first: float, longest: float
) -> Cooldown:
    """Rest the account: `first` seconds, or twice the last cool-down if no run of the account has
    succeeded since, at most `longest`."""
    previous = cooldown_of(conn, account_id)
    seconds = first if previous is None else min(max(previous.seconds * 2, first), longest)
    cooldown = Cooldown(now + timedelta(seconds=seconds), seconds, error_type)
    stmt = insert(conn, account_cooldowns).values(
        account_id=account_id, until=cooldown.until, seconds=seconds, error_type=error_type
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[account_cooldowns.c.account_id],
            set_={"until": stmt.excluded.until, "seconds": stmt.excluded.seconds, "error_type": error_type},
        )
    )
    return cooldown


def end_cooldown(conn: sa.Connection, account_id: str) -> None:
    """A run of the account succeeded: the next limit starts from the first cool-down again."""
    conn.execute(account_cooldowns.delete().where(account_cooldowns.c.account_id == account_id))


# --- what the worker needs to know to decide whether a source is due ------------------------------


@dataclass(frozen=True)
class SourceState:
    source_id: int
    last_run_status: str | None
    last_run_finished_at: datetime | None
    last_run_error_type: str | None
    last_run_retry_after: float | None
    last_full_pass_at: datetime | None
    pass_in_progress: bool
    missing: int  # followers awaiting confirmation: the next full pass comes sooner
    resting_until: datetime | None = (
        None  # its account's cool-down (docs/semantics.md#rate-limits-and-budget)
    )


def source_states(conn: sa.Connection, source_ids: Sequence[int]) -> dict[int, SourceState]:
    """The last run, last complete full pass, checkpoint, missing followers and account cool-down of
    each source, in five queries."""
    last_run_ids = (
        sa.select(sa.func.max(sync_runs.c.id))
        .where(sync_runs.c.source_id.in_(source_ids))
        .group_by(sync_runs.c.source_id)
    )
    last_runs = {
        row.source_id: row
        for row in conn.execute(
            sa.select(
                sync_runs.c.source_id,
                sync_runs.c.status,
                sync_runs.c.finished_at,
                sync_runs.c.error_type,
                sync_runs.c.error_detail,
            ).where(sync_runs.c.id.in_(last_run_ids))
        )
    }
    full_passes: dict[int, datetime | None] = {
        source_id: completed_at
        for source_id, completed_at in conn.execute(
            sa.select(sync_passes.c.source_id, sa.func.max(sync_passes.c.completed_at))
            .where(sync_passes.c.source_id.in_(source_ids), sync_passes.c.mode == "full")
            .group_by(sync_passes.c.source_id)
        )
    }
    in_progress = set(
        conn.execute(
            sa.select(sync_checkpoints.c.source_id).where(sync_checkpoints.c.source_id.in_(source_ids))
        ).scalars()
    )
    missing = missing_by_source(conn, source_ids)
    resting: dict[int, datetime] = {
        source_id: until
        for source_id, until in conn.execute(
            sa.select(sources.c.id, account_cooldowns.c.until)
            .join(account_cooldowns, account_cooldowns.c.account_id == sources.c.account_id)
            .where(sources.c.id.in_(source_ids))
        )
    }
    states: dict[int, SourceState] = {}
    for source_id in source_ids:
        run = last_runs.get(source_id)
        detail = run.error_detail if run is not None and isinstance(run.error_detail, dict) else {}
        retry_after = detail.get("retry_after")
        states[source_id] = SourceState(
            source_id=source_id,
            last_run_status=run.status if run is not None else None,
            last_run_finished_at=run.finished_at if run is not None else None,
            last_run_error_type=run.error_type if run is not None else None,
            last_run_retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            last_full_pass_at=full_passes.get(source_id),
            pass_in_progress=source_id in in_progress,
            missing=missing.get(source_id, 0),
            resting_until=resting.get(source_id),
        )
    return states
