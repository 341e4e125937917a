"""Passes (one walk through a source's listing, over one or more runs) and their checkpoints.

Every function takes a Connection inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from followersync.domain import PassMode, RunStatus
from followersync.store import statements
from followersync.store.dialects import execute
from followersync.store.schema import sync_checkpoints, sync_passes, sync_runs


@dataclass(frozen=True)
class Checkpoint:
    pass_id: int
    pass_started_at: datetime
    cursor: str | None  # None: the listing is complete, only unfollow marking remains
    pages: int
    updated_at: datetime
    # How the pass's last run ended: `deferred` (the budget, a limit, a stop) is a pause that resumes
    # however old the checkpoint; `failed` or `abandoned` is subject to `sync.checkpoint_max_age`.
    last_run_status: RunStatus | None = None


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
    if row is None:
        return None
    pass_id, pass_started_at, cursor, pages, updated_at, status = row
    return Checkpoint(
        pass_id, pass_started_at, cursor, pages, updated_at, RunStatus(status) if status is not None else None
    )


def drop_checkpoint(conn: sa.Connection, source_id: int) -> None:
    conn.execute(sync_checkpoints.delete().where(sync_checkpoints.c.source_id == source_id))


def last_full_pass_at(conn: sa.Connection, source_id: int) -> datetime | None:
    """When the source's last complete full pass finished (None: it never had one)."""
    return last_full_passes(conn, [source_id]).get(source_id)


def last_full_passes(conn: sa.Connection, source_ids: Sequence[int]) -> dict[int, datetime | None]:
    """Source id -> when its last complete full pass finished (None: it never had one), for the
    sources among `source_ids` the database knows (`statements.LAST_FULL_PASSES`, the statement
    `status` reads it with too)."""
    rows = execute(conn, statements.LAST_FULL_PASSES, {"ids": list(source_ids)})
    return {source_id: at for source_id, at in rows}


def start_pass(conn: sa.Connection, source_id: int, mode: PassMode, now: datetime) -> int:
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
