"""The schedule's rules, free of any I/O: what a pass runs as (full or incremental, resumed or new) and
when a source is next due (docs/semantics.md#passes, docs/semantics.md#rate-limits-and-budget).

Cheap to import (the store's records are only named in annotations): `status` asks `full_pass_due`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from followersync.config import Settings, SyncSettings
from followersync.domain import ErrorType, PassMode, RunStatus

if TYPE_CHECKING:
    from followersync.store.passes import Checkpoint
    from followersync.store.sources import SourceState

# How long a source waits after a 429 that did not say how long to wait (the provider's own limit).
RATE_LIMIT_PAUSE = 900.0


@dataclass(frozen=True)
class Plan:
    mode: PassMode  # the mode actually run
    resume: Checkpoint | None  # the checkpoint of a full pass to continue


def plan_pass(
    requested: str,
    checkpoint: Checkpoint | None,
    last_full_pass_at: datetime | None,
    missing: int,
    now: datetime,
    settings: Settings,
) -> Plan:
    """Decide the mode and whether to continue a pass in progress (docs/semantics.md#passes,
    docs/semantics.md#checkpoints-and-resume).

    `missing` is how many followers await confirmation: while some do, a full pass is due
    `sync.confirm_after` after the last one instead of `sync.full_pass_interval`.
    """
    # A pass paused on purpose (its last run deferred: the daily budget, a limit, a stop) resumes however
    # old its checkpoint: a big account's pass spans days at its budget, and restarting it would never
    # let it end. Only a pass that was abandoned or failed restarts once its checkpoint is too old.
    fresh = checkpoint is not None and (
        checkpoint.last_run_status == RunStatus.DEFERRED
        or (now - checkpoint.updated_at).total_seconds() <= settings.sync.checkpoint_max_age
    )
    if requested == PassMode.INCREMENTAL:
        return Plan(PassMode.INCREMENTAL, None)
    if requested == PassMode.FULL or fresh:
        return Plan(PassMode.FULL, checkpoint if fresh else None)
    if last_full_pass_at is None:
        return Plan(PassMode.FULL, None)
    full_due = now >= full_pass_due(settings.sync, last_full_pass_at, missing)
    return Plan(PassMode.FULL if full_due else PassMode.INCREMENTAL, None)


def next_due(state: SourceState, settings: Settings, now: datetime) -> datetime:
    """When a source should next be synced (docs/semantics.md#passes, and for deferred runs
    docs/semantics.md#rate-limits-and-budget).

    Never run, or a pass left half done by a dead process: now. Deferred: once its cause has passed
    (the Retry-After wait, the account's cool-down, the next UTC day for the budget; at once after a
    stop). Never before its account's cool-down ends. Failed: after
    `sync.interval`. Otherwise the next incremental pass after `sync.interval`, or a full pass as
    soon as the last complete one is older than `sync.full_pass_interval` (`sync.confirm_after`
    while followers it missed await confirmation).
    """
    due = _due_by_runs(state, settings, now)
    if state.resting_until is not None and state.resting_until > due:
        return state.resting_until  # its account rests after the provider's limits
    return due


def _due_by_runs(state: SourceState, settings: Settings, now: datetime) -> datetime:
    finished = state.last_run_finished_at
    if state.last_run_status is None or finished is None:
        return now
    interval = timedelta(seconds=settings.sync.interval)
    if state.last_run_status == RunStatus.DEFERRED:
        if state.last_run_error_type == ErrorType.BUDGET_EXHAUSTED:
            return datetime.combine(finished.date() + timedelta(days=1), time(), finished.tzinfo)
        if state.last_run_retry_after is not None:
            return finished + timedelta(seconds=state.last_run_retry_after)
        if state.last_run_error_type is not None:  # a 429 without Retry-After
            return finished + min(interval, timedelta(seconds=RATE_LIMIT_PAUSE))
        return now  # stopped by a signal: carry on
    if state.last_run_status == RunStatus.FAILED:
        return finished + interval
    if state.pass_in_progress:
        return now
    due = finished + interval
    if state.last_full_pass_at is None:
        return now
    return min(due, full_pass_due(settings.sync, state.last_full_pass_at, state.missing))


def full_pass_due(sync: SyncSettings, last_full_pass_at: datetime, missing: int) -> datetime:
    """When a source's next full pass is due: `confirm_after` after the last one while `missing`
    followers await confirmation (so unfollows are confirmed within the hour), else
    `full_pass_interval` after it."""
    wait = min(sync.confirm_after, sync.full_pass_interval) if missing else sync.full_pass_interval
    return last_full_pass_at + timedelta(seconds=wait)
