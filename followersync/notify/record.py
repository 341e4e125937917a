"""Turn what a run found into payloads in the outbox, once per run (README, "Notifications").

Called by the process that holds the source's account lease, right after each run of the source:
it writes the payloads of every finished run of the source not notified yet (this one, and any whose
process died before it could), and marks those runs notified, in one transaction. A crash before
that commit leaves the runs unmarked, so the next run of the source writes them: nothing is lost,
and nothing is written twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from followersync import reports, status
from followersync.config import HookConfig, SourceConfig
from followersync.domain import NOTIFY_EVENTS, RunStatus
from followersync.notify.payloads import event_record, payload_bodies
from followersync.store import outbox
from followersync.store.outbox import FinishedRun, FollowerEvent, NewPayload


def wants(hook: HookConfig, event: str, source: str | None) -> bool:
    """Whether `hook` asked for `event` of `source` (None: not about one source)."""
    return event in hook.events and (hook.sources is None or source is None or source in hook.sources)


def record_runs(
    conn: sa.Connection, hooks: Sequence[HookConfig], source: SourceConfig, source_id: int, now: datetime
) -> int:
    """Write the payloads of the source's finished runs not notified yet; returns how many."""
    runs = outbox.unnotified_runs(conn, source_id)
    if not runs:
        return 0
    wanted = {event for event in NOTIFY_EVENTS if any(wants(hook, event, source.name) for hook in hooks)}
    payloads: list[NewPayload] = []
    for run in runs:
        events = _run_events(conn, wanted, source, source_id, run)
        if run is runs[-1] and "attention" in wanted:
            events.extend(_attention(conn, source_id, run, now))
        for hook in hooks:
            chosen = [e for e in events if wants(hook, e["event"], source.name)]
            for payload_id, count, body in payload_bodies(source.name, run.id, chosen, now):
                payloads.append(NewPayload(payload_id, hook.name, source_id, run.id, count, body))
    outbox.add_payloads(conn, payloads, now)
    outbox.mark_notified(conn, [run.id for run in runs], now)
    return len(payloads)


def _follower_record(e: FollowerEvent) -> dict[str, Any]:
    more = {"field": e.field, "old_value": e.old_value, "new_value": e.new_value} if e.field else {}
    return event_record(
        e.event, e.occurred_at, follower_id=e.follower_id, name=e.name, handle=e.handle, **more
    )


def _run_events(
    conn: sa.Connection, wanted: set[str], source: SourceConfig, source_id: int, run: FinishedRun
) -> list[dict[str, Any]]:
    """The run's events that some hook asked for; the baseline never is one."""
    found: list[FollowerEvent] = []
    if "unfollow" in wanted:
        found += outbox.run_unfollows(conn, source_id, source.provider, run)
    if "follow" in wanted:
        found += outbox.run_follows(conn, source_id, source.provider, run)
    if "profile_change" in wanted:
        found += outbox.run_changes(conn, source.provider, run)
    events = [_follower_record(e) for e in found]
    if "withheld" in wanted and run.unfollows_withheld:
        events.append(
            event_record(
                "withheld",
                run.finished_at or run.started_at,
                count=run.unfollows_withheld,
                reason=run.withheld_reason,
                command=f"followersync sync --source {source.name} --mode full --accept-unfollows",
            )
        )
    return events


def _attention(conn: sa.Connection, source_id: int, run: FinishedRun, now: datetime) -> list[dict[str, Any]]:
    """The `status` sentence when this failed run made the source need the user: its first failure
    in a row (credentials, restriction, ...) or the failure that makes the streak worth a look. Not
    on every failed run: a broken credential would otherwise notify every hour."""
    if run.status != RunStatus.FAILED:
        return []
    (state,) = reports.status(conn, [source_id], now)
    sentence = status.attention(state)
    if state.failed_streak != 1:
        # Only the streak reaching the count `status` flags, and only with news: a sentence the
        # first failure already gave (a credential error) is not sent again.
        told = status.attention(dataclasses.replace(state, failed_streak=1))
        if state.failed_streak != status.FAILED_RUNS_FOR_ATTENTION or sentence == told:
            return []
    if sentence is None:
        return []
    return [event_record("attention", run.finished_at or now, message=sentence)]
