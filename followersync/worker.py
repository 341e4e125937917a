"""Many sources: one lease per linked account, concurrency across accounts, the shared budget.

Sources are grouped by linked account. A group runs in one thread, holding the account's lease in the
database for as long as it works, renewed by a heartbeat; its sources run one after the other, so an
account never sees two of our requests at once, whichever process sends them. Groups of different
accounts run side by side, up to `sync.concurrency`.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from followersync.api.client import Client
from followersync.clock import Clock
from followersync.config import Settings, SourceConfig
from followersync.engine import BudgetExhausted, PassRunner, SourceResult
from followersync.store import runs

log = structlog.get_logger("followersync.worker")


def new_holder_id() -> str:
    """Who holds a lease: host, process and a random part (pids repeat across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BudgetGate:
    """Counts every request against its account's daily budget, in the database shared by all workers."""

    def __init__(self, db: sa.Engine, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    def __call__(self, source: SourceConfig) -> None:
        budget = self._settings.provider(source.provider).daily_request_budget
        if budget == 0:
            return
        with self._db.begin() as conn:
            allowed = runs.consume_budget(conn, source.account_id, self._clock.now(), budget)
        if not allowed:
            raise BudgetExhausted(
                f"daily request budget of {budget} for account {source.account_id} is used up "
                "for this UTC day"
            )


class _Heartbeat:
    """Renews an account's lease every third of its lifetime while a group works."""

    def __init__(self, db: sa.Engine, account_id: str, holder: str, clock: Clock, ttl: float) -> None:
        self.lost = threading.Event()
        self._done = threading.Event()
        self._args = (db, account_id, holder, clock, ttl)
        self._thread = threading.Thread(target=self._beat, name=f"lease-{account_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        db, account_id, holder, clock, ttl = self._args
        while not self._done.wait(ttl / 3):
            try:
                with db.begin() as conn:
                    if not runs.renew_lease(conn, account_id, holder, clock.now(), ttl):
                        self.lost.set()
                        return
            except sa.exc.DBAPIError:
                log.warning("lease.renew_failed", account_id=account_id)


@dataclass
class Fleet:
    """Syncs a set of sources once, each account under its lease."""

    runner: PassRunner
    settings: Settings

    @property
    def db(self) -> sa.Engine:
        return self.runner.db

    def sync(
        self,
        sources: Sequence[tuple[SourceConfig, int]],
        *,
        mode: str = "auto",
        accept_unfollows: bool = False,
    ) -> list[SourceResult]:
        groups: dict[str, list[tuple[SourceConfig, int]]] = {}
        for source, source_id in sources:
            groups.setdefault(source.account_id, []).append((source, source_id))
        workers = max(1, min(self.settings.sync.concurrency, len(groups)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
            futures = [
                pool.submit(self._sync_account, account_id, group, mode, accept_unfollows)
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
    ) -> list[SourceResult]:
        clock, holder, ttl = self.runner.clock, self.runner.holder, self.settings.sync.lease_ttl
        with self.db.begin() as conn:
            runs.mark_abandoned_runs(conn, clock.now())
            acquired = runs.acquire_lease(conn, account_id, holder, clock.now(), ttl)
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
            with _Heartbeat(self.db, account_id, holder, clock, ttl) as heartbeat:
                # Runs left `running` for this account by a dead process are abandoned now that we
                # hold its lease (the statement above already caught those whose lease had expired).
                for source, source_id in group:
                    if self.runner.stop.is_set():
                        results.append(SourceResult(source.name, "skipped", message="stopped before start"))
                        continue
                    blocked = next((r for r in results if r.account_blocked), None)
                    if blocked is not None:
                        results.append(
                            SourceResult(
                                source.name,
                                "failed",
                                error_type=blocked.error_type,
                                message=f"not called: account {account_id} needs attention "
                                f"({blocked.error_type}, seen on source {blocked.source})",
                            )
                        )
                        continue
                    results.append(
                        self.runner.run(
                            source,
                            source_id,
                            mode=mode,
                            accept_unfollows=accept_unfollows,
                            lease_lost=heartbeat.lost,
                        )
                    )
        finally:
            try:
                with self.db.begin() as conn:
                    runs.release_lease(conn, account_id, holder)
            except sa.exc.DBAPIError:
                log.warning("lease.release_failed", account_id=account_id)
        return results


def build_client(settings: Settings, db: sa.Engine, clock: Clock) -> Client:
    """The API client with the shared daily budget wired in."""
    return Client(
        settings.api,
        settings.providers,
        settings.require_api_key(),
        clock=clock,
        before_request=BudgetGate(db, settings, clock),
    )
