"""`followersync worker`: rounds of "sync what is due, deliver notifications, sleep until the next is
due", and a database outage waited out instead of ending the process (docs/semantics.md#database-outage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from followersync import logging as fslogging
from followersync.clock import StopRequested
from followersync.config import SourceConfig
from followersync.domain import ErrorType
from followersync.store import runs, sources
from followersync.sync.fleet import Fleet, database_failure
from followersync.sync.result import SourceResult
from followersync.sync.rules import next_due
from followersync.text import one_line

# The longest a worker sleeps before looking again: other workers' runs change what is due.
MAX_IDLE = 60.0
# While the database is away, a worker tries again after 1 s, then waits twice as long each time, up to
# a minute: back soon after a restart, and no storm of connection attempts during a long outage.
OUTAGE_FIRST_WAIT = 1.0
OUTAGE_MAX_WAIT = 60.0

log = fslogging.get_logger("followersync.worker")


@dataclass
class Worker:
    """`followersync worker`: claim due sources, sync them, sleep until the next is due."""

    fleet: Fleet
    sources: Sequence[tuple[SourceConfig, int]]

    def due_now(self, conn: sa.Connection, source_id: int) -> bool:
        now = self.fleet.runner.clock.now()
        state = sources.source_states(conn, [source_id])[source_id]
        return next_due(state, self.fleet.settings, now) <= now

    def round(self) -> list[SourceResult]:
        """Sync what is due now. Raises the database's error if it cannot tell what is due."""
        now = self.fleet.runner.clock.now()
        with self.fleet.database.begin() as conn:
            runs.mark_abandoned_runs(conn, now)
            states = sources.source_states(conn, [source_id for _, source_id in self.sources])
        due = [(s, i) for s, i in self.sources if next_due(states[i], self.fleet.settings, now) <= now]
        return self.fleet.sync(due, still_due=self.due_now) if due else []

    def next_wake(self) -> datetime:
        """When the next source falls due."""
        upcoming = self.next_source_due()
        return upcoming[1] if upcoming else self.fleet.runner.clock.now() + timedelta(seconds=MAX_IDLE)

    def next_source_due(self) -> tuple[str, datetime] | None:
        """The source that falls due first, and when (None without sources)."""
        with self.fleet.database.connect() as conn:
            states = sources.source_states(conn, [source_id for _, source_id in self.sources])
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
                    failed = [r.source for r in results if r.error_type == ErrorType.DATABASE_ERROR]
                    outage = f"database_error in the runs of {', '.join(failed)}" if failed else None
                    wake = self.next_wake()
                except sa.exc.DBAPIError as exc:
                    if once:  # no source ran: the schedule could not be read
                        results = [database_failure(s.name, exc) for s, _ in self.sources]
                        break
                    outage = one_line(str(exc.orig))
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
