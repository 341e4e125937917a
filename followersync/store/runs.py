"""Runs: one process's attempt at a pass of a source, from its start to how it ended.

Every function takes a Connection inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from followersync.domain import PassMode, RunStatus
from followersync.store import statements
from followersync.store.dialects import execute
from followersync.store.schema import sync_runs


def start_run(
    conn: sa.Connection, source_id: int, pass_id: int, mode: PassMode, holder: str, now: datetime
) -> int:
    run_id: int = conn.execute(
        sync_runs.insert()
        .values(
            source_id=source_id,
            pass_id=pass_id,
            mode=mode,
            status=RunStatus.RUNNING,
            started_at=now,
            holder=holder,
        )
        .returning(sync_runs.c.id)
    ).scalar_one()
    return run_id


def finish_run(
    conn: sa.Connection,
    run_id: int,
    *,
    status: RunStatus,
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


def mark_abandoned_runs(conn: sa.Connection, now: datetime) -> int:
    """Runs left `running` by a process that no longer holds its account's lease are `abandoned`
    (docs/semantics.md#one-syncer-per-account)."""
    return int(execute(conn, statements.MARK_ABANDONED_RUNS, {"now": now}).rowcount)
