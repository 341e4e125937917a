"""Many sources at once: one lease per linked account, concurrency across accounts.

Sources are grouped by linked account. A group runs in one thread, holding the account's lease in the
database for as long as it works, renewed by a heartbeat; its sources run one after the other, so an
account never sees two of our requests at once, whichever process sends them. Groups of different
accounts run side by side, up to `sync.concurrency` (docs/semantics.md#one-syncer-per-account).
`followersync sync` runs a fleet once; the worker runs one each round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa

from followersync import logging as fslogging
from followersync.config import Settings, SourceConfig
from followersync.domain import ErrorType, RunStatus
from followersync.notify.deliver import deliver_due
from followersync.notify.record import record_runs
from followersync.store import leases, limits, runs
from followersync.sync import sizing
from followersync.sync.leases import Heartbeat, holder_is_gone
from followersync.sync.result import SourceResult
from followersync.sync.runner import PassRunner
from followersync.text import one_line

# Whether a source is still due, asked once its account's lease is held (the worker's schedule).
DueCheck = Callable[[sa.Connection, int], bool]

log = fslogging.get_logger("followersync.worker")  # the logger name users filter on


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
                    status=RunStatus.DEFERRED,
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
            with Heartbeat(self.database, account_id, holder, clock, ttl) as heartbeat:
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
            log.warning("notify.not_delivered", error=one_line(str(exc.orig)))
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
            log.warning("notify.not_recorded", source=source.name, error=one_line(str(exc.orig)))
        except Exception:
            log.exception("notify.crash", source=source.name)


def database_failure(source: str, exc: sa.exc.DBAPIError) -> SourceResult:
    """The result of a source the database failed before its run began: there is no run row to record
    it in, so it is logged and reported (the command exits 1)."""
    detail = one_line(str(exc.orig))  # the driver's words, not the SQL statement
    log.error("source.database_error", source=source, error=detail)
    return SourceResult(
        source,
        RunStatus.FAILED,
        error_type=ErrorType.DATABASE_ERROR,
        message=f"database error before the run: {detail}",
    )
