"""What the provider's limits leave an account: the daily request budget, shared by every process
through the database, and the cool-downs of an account the limits stopped, longer on each repeat
(docs/semantics.md#rate-limits-and-budget).

Every function takes a Connection inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from followersync.store.dialects import insert
from followersync.store.schema import account_cooldowns, request_budget


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
