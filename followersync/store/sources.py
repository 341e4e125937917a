"""The sources (the configured follower listings) as the database knows them, and what is known of
each: its followers now, and what the worker needs to decide whether it is due.

Every function takes a Connection inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from followersync.config import SourceConfig
from followersync.domain import RunStatus
from followersync.store import statements
from followersync.store.dialects import execute, insert
from followersync.store.passes import last_full_passes
from followersync.store.schema import account_cooldowns, followers, sources, sync_checkpoints, sync_runs


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
    return dict(execute(conn, statements.SOURCE_IDS, {"names": list(names)}).tuples().all())


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


# --- what the worker needs to know to decide whether a source is due ------------------------------


@dataclass(frozen=True)
class SourceState:
    source_id: int
    last_run_status: RunStatus | None
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
    full_passes = last_full_passes(conn, source_ids)
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
            last_run_status=RunStatus(run.status) if run is not None else None,
            last_run_finished_at=run.finished_at if run is not None else None,
            last_run_error_type=run.error_type if run is not None else None,
            last_run_retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            last_full_pass_at=full_passes.get(source_id),
            pass_in_progress=source_id in in_progress,
            missing=missing.get(source_id, 0),
            resting_until=resting.get(source_id),
        )
    return states
