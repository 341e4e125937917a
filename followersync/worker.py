"""Many sources: one lease per linked account, concurrency across accounts, the shared budget.

Sources are grouped by linked account. A group runs in one thread, holding the account's lease in the
database for as long as it works, renewed by a heartbeat; its sources run one after the other, so an
account never sees two of our requests at once, whichever process sends them. Groups of different
accounts run side by side, up to `sync.concurrency` (docs/semantics.md#one-syncer-per-account).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from followersync import logging as fslogging
from followersync import sizing
from followersync.api.client import Client
from followersync.clock import Clock, StopRequested
from followersync.config import Settings, SourceConfig
from followersync.notify.deliver import deliver_due
from followersync.notify.record import record_runs
from followersync.passes import BudgetExhausted, PassRunner, SourceResult
from followersync.store import leases, limits, runs
from followersync.store.sources import SourceState, source_states

# How long a source waits after a 429 that did not say how long to wait (the provider's own limit).
RATE_LIMIT_PAUSE = 900.0
# The longest a worker sleeps before looking again: other workers' runs change what is due.
MAX_IDLE = 60.0
# While the database is away, a worker tries again after 1 s, then waits twice as long each time, up to
# a minute: back soon after a restart, and no storm of connection attempts during a long outage.
OUTAGE_FIRST_WAIT = 1.0
OUTAGE_MAX_WAIT = 60.0

DueCheck = Callable[[sa.Connection, int], bool]

log = fslogging.get_logger("followersync.worker")


def new_holder_id() -> str:
    """Who holds a lease: host, process and a random part (pids repeat across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{pid_namespace()}"


def pid_namespace() -> str:
    """Which process-id namespace this process lives in (Linux: the inode of /proc/self/ns/pid; "" where
    there is none to read). Containers that share a hostname (`network_mode: host`, a fixed
    `hostname:`) each number their processes anew: a pid is only meaningful within its namespace."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def holder_is_gone(holder: str) -> bool:
    """True only when the lease's holder was a process of this host that no longer exists
    (docs/semantics.md#one-syncer-per-account): its lease need not be waited out.

    Every doubt is "alive": another host or another pid namespace (we cannot look at its processes),
    a holder id not in new_holder_id's form, a pid that exists, whoever it belongs to now (the kernel
    reuses pids: then the lease simply expires as before), or one we may not signal (PermissionError:
    it exists).
    """
    parts = holder.split(":")
    if len(parts) != 4:  # not new_holder_id's form (an older followersync's, a test's): wait it out
        return False
    host, pid_text, _, namespace = parts
    # Same host and same pid namespace, or the pid says nothing: a process of another container with
    # our hostname is missing from our namespace while it runs.
    if (
        host != socket.gethostname()
        or not namespace
        or namespace != pid_namespace()
        or not pid_text.isdigit()
    ):
        return False
    pid = int(pid_text)
    if pid <= 1 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: sends nothing, only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class BudgetGate:
    """Counts every request against its account's daily budget, in the database shared by all workers."""

    def __init__(self, database: sa.Engine, settings: Settings, clock: Clock) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock

    def __call__(self, source: SourceConfig) -> None:
        budget = self._settings.provider(source.provider).daily_request_budget
        if budget == 0:
            return
        with self._database.begin() as conn:
            allowed = limits.consume_budget(conn, source.account_id, self._clock.now(), budget)
        if not allowed:
            raise BudgetExhausted(
                f"daily request budget of {budget} for account {source.account_id} is used up "
                "for this UTC day"
            )


class _Heartbeat:
    """Renews an account's lease every third of its lifetime while a group works."""

    def __init__(self, database: sa.Engine, account_id: str, holder: str, clock: Clock, ttl: float) -> None:
        self.lost = threading.Event()
        self._done = threading.Event()
        self._args = (database, account_id, holder, clock, ttl)
        self._thread = threading.Thread(target=self._beat, name=f"lease-{account_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        database, account_id, holder, clock, ttl = self._args
        while not self._done.wait(ttl / 3):
            try:
                with database.begin() as conn:
                    if not leases.renew_lease(conn, account_id, holder, clock.now(), ttl):
                        self.lost.set()
                        return
            except sa.exc.DBAPIError:
                log.warning("lease.renew_failed", account_id=account_id)


@dataclass
class Fleet:
    """Syncs a set of sources once, each account under its lease."""

    runner: PassRunner
    settings: Settings
    # Sources whose size this process has checked against their pacing and budget (said once).
    _sized: set[str] = field(default_factory=set)

    @property
    def database(self) -> sa.Engine:
        return self.runner.database

    def sync(
        self,
        sources: Sequence[tuple[SourceConfig, int]],
        *,
        mode: str = "auto",
        accept_unfollows: bool = False,
        still_due: DueCheck | None = None,
    ) -> list[SourceResult]:
        """Sync `sources` (config, id) once. With `still_due`, a source is run only if it is still due
        once its account's lease is ours: another worker may have synced it a moment ago."""
        groups: dict[str, list[tuple[SourceConfig, int]]] = {}
        for source, source_id in sources:
            groups.setdefault(source.account_id, []).append((source, source_id))
        workers = max(1, min(self.settings.sync.concurrency, len(groups)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
            futures = [
                pool.submit(self._sync_account, account_id, group, mode, accept_unfollows, still_due)
                for account_id, group in groups.items()
            ]
            results = [r for f in futures for r in f.result()]
        order = {source.name: i for i, (source, _) in enumerate(sources)}
        return sorted(results, key=lambda r: order[r.source])

    def _sync_account(
        self,
        account_id: str,
        group: list[tuple[SourceConfig, int]],
        mode: str,
        accept_unfollows: bool,
        still_due: DueCheck | None,
    ) -> list[SourceResult]:
        clock, holder, ttl = self.runner.clock, self.runner.holder, self.settings.sync.lease_ttl
        try:
            with self.database.begin() as conn:
                current = leases.live_lease_holder(conn, account_id, clock.now())
                if current is not None and current != holder and holder_is_gone(current):
                    # A process of this host killed without releasing its lease (kill -9, OOM): its
                    # lease goes now, not `sync.lease_ttl` later, and its run is abandoned just below.
                    log.warning("lease.holder_gone", account_id=account_id, holder=current)
                    leases.release_lease(conn, account_id, current)
                runs.mark_abandoned_runs(conn, clock.now())
                rest = limits.cooldown_of(conn, account_id)
                resting = rest is not None and rest.until > clock.now()
                acquired = not resting and leases.acquire_lease(conn, account_id, holder, clock.now(), ttl)
        except sa.exc.DBAPIError as exc:
            # This account's sources fail; the other accounts' threads go on
            # (docs/semantics.md#database-outage).
            return [database_failure(source.name, exc) for source, _ in group]
        if resting:
            assert rest is not None
            log.info("account.resting", account_id=account_id, until=rest.until.isoformat())
            # Not called at all: the provider's limits stopped the account a moment ago
            # (docs/semantics.md#rate-limits-and-budget). No run row; its checkpoint waits.
            return [
                SourceResult(
                    source=s.name,
                    status="deferred",
                    error_type=rest.error_type,
                    message=f"not called: account {account_id} rests until {rest.until:%Y-%m-%d %H:%M} UTC "
                    f"after {rest.error_type} (checkpoint kept)",
                )
                for s, _ in group
            ]
        if not acquired:
            log.info("account.skipped", account_id=account_id, reason="another process holds its lease")
            return [
                SourceResult(
                    source=s.name,
                    status="skipped",
                    message=f"skipped: another process is syncing account {account_id}",
                )
                for s, _ in group
            ]
        results: list[SourceResult] = []
        try:
            with _Heartbeat(self.database, account_id, holder, clock, ttl) as heartbeat:
                for source, source_id in group:
                    if self.runner.stop.is_set():
                        results.append(SourceResult(source.name, "skipped", message="stopped before start"))
                        continue
                    try:
                        if still_due is not None:
                            with self.database.connect() as conn:
                                if not still_due(conn, source_id):
                                    continue
                    except sa.exc.DBAPIError as exc:
                        results.append(database_failure(source.name, exc))
                        continue
                    stopped = next((r for r in results if r.account_stopped), None)
                    if stopped is not None:
                        results.append(
                            SourceResult(
                                source.name,
                                stopped.status,
                                error_type=stopped.error_type,
                                message=f"not called: account {account_id} stopped this run "
                                f"({stopped.error_type}, seen on source {stopped.source})",
                            )
                        )
                        continue
                    try:
                        result = self.runner.run(
                            source,
                            source_id,
                            mode=mode,
                            accept_unfollows=accept_unfollows,
                            lease_lost=heartbeat.lost,
                        )
                    except sa.exc.DBAPIError as exc:
                        # The transaction that opens the run failed (and rolled back): the pass runner
                        # records every failure after that in the run itself.
                        result = database_failure(source.name, exc)
                    results.append(result)
                    self._record_notifications(source, source_id)
                    self._check_size(source, result.followers)
        finally:
            try:
                with self.database.begin() as conn:
                    leases.release_lease(conn, account_id, holder)
            except sa.exc.DBAPIError:
                log.warning("lease.release_failed", account_id=account_id)
        return results

    def _check_size(self, source: SourceConfig, followers: int | None) -> None:
        """Say once per process when the source cannot complete a full pass and its confirming pass
        within `sync.full_pass_interval` at its pacing and budget (docs/configuration.md#sizing).
        `followers` is the count its run already read for the summary (None: the database failed)."""
        if source.name in self._sized:
            return
        self._sized.add(source.name)
        if followers is None:
            return  # only advice: the next process says it
        provider = self.settings.provider(source.provider)
        size = sizing.PassSize.of(followers, provider)
        slow = sizing.too_slow(source.name, source.provider, size, provider, self.settings.sync)
        if slow is not None:
            log.warning("source.too_slow", source=source.name, detail=slow)

    def deliver_notifications(self) -> None:
        """Deliver the outbox's due payloads: after a command's runs, between a worker's rounds, never
        during a pass. The database going away meanwhile is logged; the payloads wait in the outbox."""
        try:
            deliver_due(self.database, self.settings.notify, self.runner.clock, self.runner.stop)
        except sa.exc.DBAPIError as exc:
            log.warning("notify.not_delivered", error=" ".join(str(exc.orig).split())[:500])
        except Exception:
            # Notifications must never break syncing; what was not delivered waits in the outbox.
            log.exception("notify.crash")

    def _record_notifications(self, source: SourceConfig, source_id: int) -> None:
        """The source's finished runs into the notification outbox, under its account's lease (so
        no other process writes the same runs'). A database failure here loses nothing: the runs stay
        unmarked and the next run of the source writes them."""
        try:
            with self.database.begin() as conn:
                record_runs(conn, self.settings.notify, source, source_id, self.runner.clock.now())
        except sa.exc.DBAPIError as exc:
            log.warning(
                "notify.not_recorded", source=source.name, error=" ".join(str(exc.orig).split())[:500]
            )
        except Exception:
            log.exception("notify.crash", source=source.name)


def database_failure(source: str, exc: sa.exc.DBAPIError) -> SourceResult:
    """The result of a source the database failed before its run began: there is no run row to record
    it in, so it is logged and reported (the command exits 1)."""
    detail = " ".join(str(exc.orig).split())[:500]  # the driver's words, not the SQL statement
    log.error("source.database_error", source=source, error=detail)
    return SourceResult(
        source, "failed", error_type="database_error", message=f"database error before the run: {detail}"
    )


def build_client(settings: Settings, database: sa.Engine, clock: Clock) -> Client:
    """The API client with the shared daily budget wired in."""
    return Client(
        settings.api,
        settings.providers,
        settings.require_api_key(),
        clock=clock,
        before_request=BudgetGate(database, settings, clock),
    )


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
    if state.last_run_status == "deferred":
        if state.last_run_error_type == "budget_exhausted":
            return datetime.combine(finished.date() + timedelta(days=1), time(), finished.tzinfo)
        if state.last_run_retry_after is not None:
            return finished + timedelta(seconds=state.last_run_retry_after)
        if state.last_run_error_type is not None:  # a 429 without Retry-After
            return finished + min(interval, timedelta(seconds=RATE_LIMIT_PAUSE))
        return now  # stopped by a signal: carry on
    if state.last_run_status == "failed":
        return finished + interval
    if state.pass_in_progress:
        return now
    due = finished + interval
    if state.last_full_pass_at is None:
        return now
    return min(due, settings.sync.full_pass_due(state.last_full_pass_at, state.missing))


@dataclass
class Worker:
    """`followersync worker`: claim due sources, sync them, sleep until the next is due."""

    fleet: Fleet
    sources: Sequence[tuple[SourceConfig, int]]

    def due_now(self, conn: sa.Connection, source_id: int) -> bool:
        now = self.fleet.runner.clock.now()
        state = source_states(conn, [source_id])[source_id]
        return next_due(state, self.fleet.settings, now) <= now

    def round(self) -> list[SourceResult]:
        """Sync what is due now. Raises the database's error if it cannot tell what is due."""
        now = self.fleet.runner.clock.now()
        with self.fleet.database.begin() as conn:
            runs.mark_abandoned_runs(conn, now)
            states = source_states(conn, [source_id for _, source_id in self.sources])
        due = [(s, i) for s, i in self.sources if next_due(states[i], self.fleet.settings, now) <= now]
        return self.fleet.sync(due, still_due=self.due_now) if due else []

    def next_wake(self) -> datetime:
        """When the next source falls due."""
        upcoming = self.next_source_due()
        return upcoming[1] if upcoming else self.fleet.runner.clock.now() + timedelta(seconds=MAX_IDLE)

    def next_source_due(self) -> tuple[str, datetime] | None:
        """The source that falls due first, and when (None without sources)."""
        with self.fleet.database.connect() as conn:
            states = source_states(conn, [source_id for _, source_id in self.sources])
        now = self.fleet.runner.clock.now()
        upcoming = [(next_due(states[i], self.fleet.settings, now), s.name) for s, i in self.sources]
        return min(((name, due) for due, name in upcoming), key=lambda pair: pair[1], default=None)

    def run(self, *, once: bool) -> list[SourceResult]:
        """Rounds until stopped (or one round with `once`); returns the last round's results, for the
        exit code of `--once`. Nothing of a round outlives the next: a worker runs for weeks.

        A database that goes away is an outage to wait out, not the end
        (docs/semantics.md#database-outage): the worker logs it and tries again after OUTAGE_FIRST_WAIT,
        doubling up to OUTAGE_MAX_WAIT, until the database is back or the worker is stopped. With
        `once`, the sources it could not sync fail.
        """
        runner = self.fleet.runner
        log.info("worker.start", holder=runner.holder, sources=len(self.sources), once=once)
        results: list[SourceResult] = []
        synced = 0
        outage_wait = OUTAGE_FIRST_WAIT
        try:
            while not runner.stop.is_set():
                try:
                    results = self.round()
                    synced += len(results)
                    self.fleet.deliver_notifications()
                    if once:
                        break
                    failed = [r.source for r in results if r.error_type == "database_error"]
                    outage = f"database_error in the runs of {', '.join(failed)}" if failed else None
                    wake = self.next_wake()
                except sa.exc.DBAPIError as exc:
                    if once:  # no source ran: the schedule could not be read
                        results = [database_failure(s.name, exc) for s, _ in self.sources]
                        break
                    outage = " ".join(str(exc.orig).split())[:500]
                if outage is not None:
                    log.warning(
                        "worker.database_unavailable",
                        holder=runner.holder,
                        error=outage,
                        retry_in=outage_wait,
                    )
                    runner.clock.sleep(outage_wait)
                    outage_wait = min(outage_wait * 2, OUTAGE_MAX_WAIT)
                    continue
                if outage_wait > OUTAGE_FIRST_WAIT:
                    log.info("worker.database_back", holder=runner.holder)
                    outage_wait = OUTAGE_FIRST_WAIT
                idle = (wake - runner.clock.now()).total_seconds()
                idle = min(max(idle, 1.0), MAX_IDLE)
                log.info("worker.idle", holder=runner.holder, seconds=round(idle, 1))
                runner.clock.sleep(idle)
        except StopRequested:
            pass
        log.info("worker.stop", holder=runner.holder, synced=synced)
        return results
