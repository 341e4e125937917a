"""Account leases: one syncer per linked account, across processes and machines
(docs/semantics.md#one-syncer-per-account).

Every function takes a Connection inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from followersync.store.dialects import insert
from followersync.store.schema import account_leases


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
