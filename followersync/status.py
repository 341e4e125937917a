"""What `status` knows of a source, and the one sentence it shows when the user must act or look.

Plain records, free of any database library: they are made from the rows of the status statements
(store/statements.py), whichever driver ran them: SQLAlchemy in `reports.status`, or the sqlite3
driver alone in `store.sqlite_status` (the quick start of `followersync status` on a SQLite file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from followersync.domain import ErrorKind, ErrorType, PassMode, RunStatus, kind_of

FAILED_RUNS_FOR_ATTENTION = 3
RECENT_DAYS = 7  # the window of `gained_7d` / `lost_7d` in status
GIVEN_UP_SHOWN_DAYS = 7  # `status` shows notifications given up in this many recent days


@dataclass(frozen=True)
class LastRun:
    """The newest run of a source, as `status` shows it."""

    id: int
    mode: PassMode
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    error_type: str | None


@dataclass(frozen=True)
class CheckpointPosition:
    """Where a full pass in progress stands: the next run of the source continues from here."""

    pages: int
    updated_at: datetime


@dataclass(frozen=True)
class Lease:
    """The live hold of a process on the source's linked account (it is syncing it right now)."""

    holder: str
    expires_at: datetime


@dataclass(frozen=True)
class SourceStatus:
    source: str
    provider: str
    account_id: str
    user_id: str | None
    followers: int  # active: the missing still count until their unfollow is confirmed
    missing: int  # followers awaiting confirmation
    missing_since: datetime | None  # when the earliest of them was first missed
    gained_7d: int
    lost_7d: int
    last_run: LastRun | None
    last_full_pass_at: datetime | None
    checkpoint: CheckpointPosition | None
    lease: Lease | None
    # What `attention()` needs beyond the fields above.
    last_error_status: int | None  # the HTTP status recorded with the last run's error, if any
    failed_streak: int  # how many of the newest runs failed in a row
    unfollows_withheld: int  # held back by a guard on the last successful full pass
    withheld_reason: str | None = None  # why (sync.result.SourceResult.withheld_reason)
    resting_until: datetime | None = None  # its account rests after the provider's limits until then
    resting_after: str | None = None  # the error that started the rest
    notifications_pending: int = 0  # payloads not delivered yet, still being retried
    notifications_given_up: int = 0  # payloads given up in the last GIVEN_UP_SHOWN_DAYS days
    given_up_hooks: tuple[str, ...] = ()
    given_up_error: str | None = None  # the newest given-up payload's last error


Payload = tuple[str, bool, str | None]
"""A source's undelivered payload as `status` counts it: its hook, whether it was given up, its last
error."""


def statuses(
    source_ids: Sequence[int], rows: Iterable[Mapping[Any, Any]], payload_rows: Iterable[Sequence[Any]]
) -> list[SourceStatus]:
    """The state of each source in `source_ids` the database knows, in that order, from the rows of
    `statements.STATUS` and `statements.PENDING_PAYLOADS`."""
    by_id = {row["id"]: row for row in rows}
    payloads = payloads_by_source(payload_rows)
    return [source_status(by_id[i], payloads.get(i, [])) for i in source_ids if i in by_id]


def payloads_by_source(rows: Iterable[Sequence[Any]]) -> dict[int, list[Payload]]:
    """Source id -> its undelivered payloads, in the order of `rows` (source_id, hook, given_up_at,
    last_error: the columns of `statements.PENDING_PAYLOADS`)."""
    by_source: dict[int, list[Payload]] = {}
    for source_id, hook, given_up_at, last_error in rows:
        by_source.setdefault(source_id, []).append((hook, given_up_at is not None, last_error))
    return by_source


def source_status(row: Mapping[Any, Any], payloads: Sequence[Payload]) -> SourceStatus:
    """A source's state from its row of the status statement and its undelivered payloads (in the
    order they were written). The row's columns are those of `statements.STATUS`, by name; its times
    aware UTC datetimes and `run_error_detail` the decoded JSON."""
    last_run = None
    if row["run_id"] is not None:
        last_run = LastRun(
            id=row["run_id"],
            mode=PassMode(row["run_mode"]),
            status=RunStatus(row["run_status"]),
            started_at=row["run_started_at"],
            finished_at=row["run_finished_at"],
            error_type=row["run_error_type"],
        )
    checkpoint = None
    if row["checkpoint_pages"] is not None:
        checkpoint = CheckpointPosition(
            pages=row["checkpoint_pages"], updated_at=row["checkpoint_updated_at"]
        )
    lease = None
    if row["lease_holder"] is not None:
        lease = Lease(holder=row["lease_holder"], expires_at=row["lease_expires_at"])
    detail = row["run_error_detail"]
    error_status = detail.get("status") if isinstance(detail, dict) else None
    given_up = [(hook, error) for hook, gave_up, error in payloads if gave_up]
    return SourceStatus(
        source=row["name"],
        provider=row["provider"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        followers=int(row["followers"]),
        missing=int(row["missing"]),
        missing_since=row["missing_since"],
        gained_7d=int(row["gained_7d"]),
        lost_7d=int(row["lost_7d"]),
        last_run=last_run,
        last_full_pass_at=row["last_full_pass_at"],
        checkpoint=checkpoint,
        lease=lease,
        last_error_status=error_status if isinstance(error_status, int) else None,
        failed_streak=int(row["failed_streak"]),
        unfollows_withheld=int(row["unfollows_withheld"] or 0),
        withheld_reason=row["withheld_reason"],
        resting_until=row["resting_until"],
        resting_after=row["resting_after"],
        notifications_pending=len(payloads) - len(given_up),
        notifications_given_up=len(given_up),
        given_up_hooks=tuple(dict.fromkeys(hook for hook, _ in given_up)),
        given_up_error=given_up[-1][1] if given_up else None,
    )


def attention(s: SourceStatus) -> str | None:
    """One sentence when the user must act or look at the source, else None (a healthy source).

    The most pressing reason wins: credentials the API refused (the account's, or the API key: a 401
    of another type) outrank everything else, because nothing else can be fixed (or even observed)
    until they are.
    """
    run = s.last_run
    if run is None:
        return None
    error = run.error_type or "an error"
    kind = kind_of(run.error_type, s.last_error_status)
    if run.status == RunStatus.FAILED:
        if kind is ErrorKind.ACCOUNT_CREDENTIALS:
            return (
                f"reconnect the account in postpress: the last run failed with {error} "
                f"(account {s.account_id})"
            )
        if kind is ErrorKind.API_KEY:
            return (
                f"check POSTPRESS_API_KEY: the API did not accept the key ({error}); "
                f"if the key is right, reconnect the account in postpress (account {s.account_id})"
            )
        if kind is ErrorKind.RESTRICTED:
            return (
                f"the provider restricted account {s.account_id} ({error}): resolve it with the provider, "
                "then sync again"
            )
        if kind is ErrorKind.FORBIDDEN:
            return f"the API refused the listing ({error}): check the API key's scopes and subscription"
        if kind is ErrorKind.NOT_FOUND:
            return f"the API does not know this account or user ({error}): check account_id and user_id"
    if s.failed_streak >= FAILED_RUNS_FOR_ATTENTION:
        return (
            f"the last {s.failed_streak} runs failed (last error: {error}): "
            f"see `followersync runs --source {s.source}`"
        )
    if s.notifications_given_up:
        hooks = ", ".join(s.given_up_hooks)
        return (
            f"{s.notifications_given_up} notification{'s' if s.notifications_given_up != 1 else ''} given up "
            f"after a day of failed deliveries to {hooks} (last error: {s.given_up_error}); check the "
            f"receiver with `followersync notify test --name {s.given_up_hooks[0]}`"
        )
    if s.unfollows_withheld:
        why = f" ({s.withheld_reason})" if s.withheld_reason else ""
        return (
            f"{s.unfollows_withheld} unfollows withheld on the last full pass{why}; if they really "
            f"left, run `followersync sync --source {s.source} --mode full --accept-unfollows`"
        )
    if s.resting_until is not None:
        return (
            f"resting after {s.resting_after}: the provider's limits stopped account {s.account_id}; "
            f"the pass resumes from its checkpoint after {s.resting_until:%Y-%m-%d %H:%M} UTC"
        )
    if run.status == RunStatus.DEFERRED and run.error_type == ErrorType.BUDGET_EXHAUSTED:
        return "deferred: the account's daily request budget is used up; the next UTC day resumes the pass"
    if run.status == RunStatus.DEFERRED and run.error_type is not None:
        return f"deferred: the provider rate-limited the account ({error}); the next run resumes the pass"
    return None
