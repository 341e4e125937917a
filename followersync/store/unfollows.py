"""After a complete full pass: who is missing, and which unfollows are confirmed.

The listing is offset-paged. A follower who leaves while a pass runs moves everyone behind them up one
place, so the pass never sees the follower at the next page boundary; and real listings drop a
follower now and then. Not being listed once is therefore no proof of an unfollow:

    listed by any page            -> not missing (the page writer clears it: no event, no count)
    not listed by a complete pass -> missing since that pass completed (`missing_since`)
    missed by `confirmations` complete full passes in a row
                                  -> unfollowed at `missing_since`, with an `unfollow` event then

"Not listed" means neither this pass nor any page since the pass began saw them (an incremental pass
may have listed a new follower the full pass had already moved past). Every step is one set-based
statement; the counts come first, in one scan of the source's active followers, so a pass over an
unchanged listing costs one query here.

A complete pass marks nothing at all, neither new misses nor confirmations, when its listing is no
evidence of absence (docs/unfollows.md#when-unfollows-are-withheld):

- the pass was marked untrusted while it ran (it rejected items, or was served an answer the
  upstream had cached from before the pass began);
- the fixed guard: it would newly mark more than `guard_fraction` of the active followers missing
  (and more than `guard_min`): a truncated or glitching listing;
- the history guard: it would newly mark more than max(`history_min`, `history_factor` x the most
  this source newly missed in any of its last `HISTORY_PASSES` complete full passes after the
  baseline), once it has at least `HISTORY_NEEDED` of them: a listing that is short by the same few
  percent on every pass stays under the fixed guard, but not under this one.

`accept` (sync --accept-unfollows) is the user vouching for the pass: everyone it did not list is
unfollowed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from followersync.domain import PassMode, RunStatus
from followersync.store import bookkeeping
from followersync.store.dialects import utc_day
from followersync.store.schema import follow_events, followers, sync_passes, sync_runs

HISTORY_PASSES = 10  # the complete full passes the history guard looks back on
# Fewer than this (the baseline pass not counted: it can miss no one): no history yet, only the fixed
# guard. With three, two ordinary days decided what "usual" was, and a third day with four times their
# loss, common at small churn, was withheld.
HISTORY_NEEDED = 5


@dataclass(frozen=True)
class UnfollowRule:
    """How a complete full pass turns followers it did not list into unfollows (docs/unfollows.md)."""

    confirmations: int  # consecutive complete full passes that must miss a follower (1 = the first)
    guard_fraction: float
    guard_min: int
    history_factor: float = 5.0  # 0 turns the history guard off
    history_min: int = 10
    accept: bool = False  # --accept-unfollows: unfollow everyone not listed, at once, whatever the guard


@dataclass(frozen=True)
class UnfollowOutcome:
    missing: int  # newly missing: not listed by this pass, not missing before
    lost: int  # unfollows confirmed by this pass
    unfollows_withheld: int  # held back by a guard or an untrusted listing (then missing and lost are 0)
    withheld_reason: str | None = None  # why, in a sentence for `status` and the run summary


def settle_pass(
    conn: sa.Connection,
    *,
    source_id: int,
    pass_id: int,
    pass_started_at: datetime,
    run_id: int,
    now: datetime,
    rule: UnfollowRule,
) -> UnfollowOutcome:
    """Mark the active followers this complete full pass did not list missing, and confirm unfollows."""
    f = followers.c
    active = sa.and_(f.source_id == source_id, f.unfollowed_at.is_(None))
    not_listed = sa.and_(
        active,
        f.last_seen_pass_id.is_distinct_from(pass_id),
        f.last_seen_at < pass_started_at,
    )

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    counts = conn.execute(
        sa.select(
            sa.func.count(),
            count(sa.and_(not_listed, f.missing_since.is_(None))),
            count(sa.and_(not_listed, f.missing_since.is_not(None))),
        ).where(active)
    ).one()
    active_count, newly, again = int(counts[0]), int(counts[1]), int(counts[2])
    if newly == 0 and again == 0:
        return UnfollowOutcome(missing=0, lost=0, unfollows_withheld=0)
    if not rule.accept:
        reason = _withheld_because(conn, source_id, pass_id, run_id, rule, active_count, newly)
        if reason is not None:
            return UnfollowOutcome(
                missing=0, lost=0, unfollows_withheld=newly or again, withheld_reason=reason
            )
    if rule.accept:
        return UnfollowOutcome(
            missing=newly, lost=_confirm(conn, not_listed, run_id, now), unfollows_withheld=0
        )
    if again:  # first, so that the newly missing are not counted twice
        conn.execute(
            followers.update()
            .where(not_listed, f.missing_since.is_not(None))
            .values(missed_passes=f.missed_passes + 1)
        )
    if newly:
        conn.execute(
            followers.update()
            .where(not_listed, f.missing_since.is_(None))
            .values(missing_since=now, missed_passes=1)
        )
    confirmed = sa.and_(active, f.missed_passes >= rule.confirmations)
    return UnfollowOutcome(missing=newly, lost=_confirm(conn, confirmed, run_id, now), unfollows_withheld=0)


def _withheld_because(
    conn: sa.Connection,
    source_id: int,
    pass_id: int,
    run_id: int,
    rule: UnfollowRule,
    active: int,
    newly: int,
) -> str | None:
    """Why this complete pass must not mark anyone (None: it may), cheapest test first."""
    untrusted = conn.execute(
        sa.select(sync_passes.c.untrusted_reason).where(sync_passes.c.id == pass_id)
    ).scalar_one_or_none()
    if untrusted is not None:
        return f"the pass is no evidence of absence: {untrusted}"
    if newly > rule.guard_fraction * active and newly > rule.guard_min:
        return (
            f"{newly} of {active} active followers went missing in one pass "
            f"(more than {rule.guard_fraction:.0%} and more than {rule.guard_min})"
        )
    if rule.history_factor <= 0 or newly <= rule.history_min:
        return None
    r = sync_runs.c
    completed = sa.and_(r.source_id == source_id, r.mode == PassMode.FULL, r.status == RunStatus.SUCCEEDED)
    baseline_run = sa.select(sa.func.min(r.id)).where(completed).scalar_subquery()
    history = [
        int(n)
        for n in conn.execute(
            sa.select(r.followers_missing)
            .where(completed, r.id < run_id, r.id > baseline_run, r.unfollows_withheld == 0)
            .order_by(r.id.desc())
            .limit(HISTORY_PASSES)
        ).scalars()
    ]
    if len(history) < HISTORY_NEEDED:
        return None
    usual = max(history)
    if newly > max(rule.history_min, rule.history_factor * usual):
        return (
            f"{newly} followers went missing in one pass, far more than this source usually loses "
            f"(at most {usual} in each of its last {len(history)} complete full passes)"
        )
    return None


def _confirm(conn: sa.Connection, which: sa.ColumnElement[bool], run_id: int, now: datetime) -> int:
    """Unfollow the followers `which` selects, dated when they were first missed (else `now`)."""
    f = followers.c
    since = sa.func.coalesce(f.missing_since, sa.literal(now, follow_events.c.occurred_at.type))
    _add_to_daily_growth(conn, which, since)
    conn.execute(
        follow_events.insert().from_select(
            ["source_id", "follower_id", "event", "occurred_at", "run_id"],
            sa.select(
                f.source_id,
                f.follower_id,
                sa.literal("unfollow", sa.String),
                since,
                sa.literal(run_id, sa.Integer),
            ).where(which),
        )
    )
    # Every SET expression reads the row as it was (both databases), so `since` is the old value.
    result = conn.execute(
        followers.update().where(which).values(unfollowed_at=since, missing_since=None, missed_passes=0)
    )
    return int(result.rowcount)


def _add_to_daily_growth(
    conn: sa.Connection, which: sa.ColumnElement[bool], since: sa.ColumnElement[Any]
) -> None:
    """Count the unfollows about to be confirmed in their days' sums (`daily_growth`): each on the day
    it is dated, the day its follower was first missed, which may be a day already summed."""
    f = followers.c
    day = utc_day(conn, since)
    per_day = sa.select(f.source_id, day, sa.func.count()).where(which).group_by(f.source_id, day)
    rows = [
        {"source_id": source_id, "day": day, "net": -lost, "lost": lost}
        for source_id, day, lost in conn.execute(per_day)
    ]
    if rows:
        conn.exec_driver_sql(_GROWTH[conn.dialect.name], rows)


_LOST = bookkeeping.daily_growth("VALUES (:source_id, :day, :net, 0, :lost)")
_GROWTH = {"sqlite": _LOST, "postgresql": bookkeeping.for_psycopg(_LOST)}
