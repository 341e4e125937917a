"""The database connection dies under a sync (PostgreSQL, `pg_terminate_backend`): a page is committed
whole or not at all, the run fails `database_error` with the pages before it kept, and the next run
resumes from the checkpoint with nothing lost or duplicated. The database goes away for a while
(`Outage`): a worker waits it out and syncs once it is back, and a run it could not close is recorded
abandoned by the next process.

These run on PostgreSQL only: what they test is not dialect-specific (the same code catches the
driver's error whichever database raised it), and only a server can go away and come back; an SQLite
file made unreadable or deleted under a process is not an outage anyone has.

To kill a connection in the middle of a page's transaction rather than between two, the simulator's
`on_request` callback takes an exclusive lock on a table the page writes to just before it answers;
the sync's connection queues behind the lock inside its transaction, and that is the one terminated.
The callback first waits for the sync's connections to be idle: the page before may still be being
written while the next one is fetched.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.simulator import RequestRecord, Simulator
from followersync.sync.fleet import Fleet
from followersync.sync.runner import PassRunner
from followersync.sync.worker import OUTAGE_FIRST_WAIT, OUTAGE_MAX_WAIT, Worker
from tests.conftest import PG_ADMIN_URL
from tests.faults.support import (
    assert_in_step,
    assert_stopped_after,
    error_detail,
    make_harness,
    resume_and_check,
)
from tests.harness import Harness, query, start_cli, wait_until, write_config
from tests.sim_support import LI, MakeSim

OTHER_BACKENDS = (
    "SELECT pid, state, query, wait_event_type FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def wait_until_idle(conn: sa.Connection) -> list[int]:
    """Wait until no other connection to the database is inside a transaction; return their pids."""
    deadline = time.monotonic() + 20
    while True:
        # pg_stat_activity is a snapshot kept for the transaction: take a fresh one each time.
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        backends = conn.execute(sa.text(OTHER_BACKENDS)).all()
        if all(row.state == "idle" for row in backends):
            return [row.pid for row in backends]
        assert time.monotonic() < deadline, "the sync's connections never went idle"
        time.sleep(0.002)


class KillInTransaction:
    """Locks `table` when armed; terminates the first connection that waits for the lock, then lets go."""

    def __init__(self, url: str, table: str) -> None:
        self.engine = sa.create_engine(url)
        self.table = table
        self.killed_query: str | None = None
        self.done = threading.Event()

    def arm(self) -> None:
        conn = self.engine.connect()
        wait_until_idle(conn)
        conn.execute(sa.text(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE"))
        threading.Thread(target=self._watch, args=(conn,), daemon=True).start()

    def _watch(self, conn: sa.Connection) -> None:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.killed_query is None:
                conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
                waiting = [r for r in conn.execute(sa.text(OTHER_BACKENDS)) if r.wait_event_type == "Lock"]
                if waiting:
                    conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting[0].pid})
                    self.killed_query = waiting[0].query
                time.sleep(0.005)
        finally:
            conn.rollback()
            conn.close()
            self.done.set()

    def close(self) -> None:
        self.done.wait(30)
        self.engine.dispose()


class Outage:
    """The database goes away, as while its server restarts: every connection to it is terminated and
    every new one refused ("not currently accepting connections"), until `end()`."""

    def __init__(self, url: str) -> None:
        self.name = sa.make_url(url).database
        # From the admin database: ours cannot be connected to during the outage.
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def begin(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.name},
            )

    def end(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.end()
        self.admin.dispose()


@pytest.fixture
def h(pg_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = make_harness(pg_url, sim)
    yield harness
    harness.close()


def once_on_page(page: int, action: Callable[[], None]) -> Callable[[RequestRecord], None]:
    """An on_request callback running `action` when the request for `page` of LI arrives (once)."""
    fired = threading.Event()

    def callback(record: RequestRecord) -> None:
        if record.account_id == LI.account_id and record.page == page and not fired.is_set():
            fired.set()
            action()

    return callback


def test_a_connection_killed_mid_page_rolls_the_page_back(h: Harness, sim: Simulator, pg_url: str) -> None:
    killer = KillInTransaction(pg_url, "followers")
    sim.on_request(once_on_page(1, killer.arm))
    try:
        [result] = h.sync()
    finally:
        killer.close()

    # The page's statement, waiting for `followers`: pg_stat_activity keeps only its first 1 kB
    # (track_activity_query_size), where the profile upsert comes first.
    assert killer.killed_query is not None and killer.killed_query.startswith("WITH page AS")
    assert (result.status, result.error_type) == ("failed", "database_error")
    run = h.runs(LI.name)[-1]
    assert (run.status, run.error_type, run.pages) == ("failed", "database_error", 1)
    assert "terminating connection" in error_detail(run)["detail"]
    # Page 1's profiles were written in its transaction before it blocked: none of them remain.
    assert_stopped_after(h, sim, good_pages=1)

    resume_and_check(h, sim)


def test_a_connection_killed_between_pages_is_replaced_unnoticed(
    h: Harness, sim: Simulator, pg_url: str
) -> None:
    admin = sa.create_engine(pg_url)

    def terminate_the_syncs_connections() -> None:
        with admin.connect() as conn:
            victims = wait_until_idle(conn)
            for pid in victims:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert victims, "the sync holds no connection to kill"

    sim.on_request(once_on_page(1, terminate_the_syncs_connections))
    try:
        [result] = h.sync()
    finally:
        admin.dispose()
    assert result.status == "succeeded"
    assert_in_step(h, sim)


def test_a_connection_killed_while_unfollows_are_marked_marks_none_until_the_next_run(
    h: Harness, sim: Simulator, pg_url: str
) -> None:
    h.sync()
    gone = sim.unfollow(LI.account_id, count=3)
    # Pages never touch sync_passes; the transaction that ends the pass marks the unfollows, then
    # records the pass complete there: it is killed with the marking done but not committed.
    killer = KillInTransaction(pg_url, "sync_passes")
    sim.on_request(once_on_page(2, killer.arm))
    try:
        [result] = h.sync("full")
    finally:
        killer.close()

    assert killer.killed_query is not None and "sync_passes" in killer.killed_query
    assert (result.status, result.error_type) == ("failed", "database_error")
    assert h.events(LI.name, "unfollow") == []
    assert set(gone) <= h.active(LI.name)  # not one of them half-marked
    assert h.query("SELECT * FROM followers WHERE missing_since IS NOT NULL") == []
    assert h.runs(LI.name)[-1].followers_missing == 0  # the failed run marked nothing
    checkpoint = h.checkpoint(LI.name)
    assert checkpoint is not None and (checkpoint.cursor, checkpoint.pages) == (None, 3)

    sim.clear_requests()
    [resumed] = h.sync()
    assert (resumed.status, resumed.missing) == ("succeeded", 3)
    assert sim.requests_for(LI.account_id) == []  # the listing was complete: only the marking was left
    missing = h.query("SELECT follower_id FROM followers WHERE missing_since IS NOT NULL")
    assert sorted(r.follower_id for r in missing) == sorted(gone)
    [confirming] = h.sync("full")
    assert (confirming.status, confirming.lost) == ("succeeded", 3)
    assert sorted(f for f, _ in h.events(LI.name, "unfollow")) == sorted(gone)
    assert h.active(LI.name) == set(sim.follower_ids(LI.account_id))
    assert h.checkpoint(LI.name) is None


def statuses(h: Harness) -> list[str]:
    return [run.status for run in h.runs(LI.name)]


def test_a_run_the_database_refused_to_close_is_abandoned_once_its_lease_expires(
    h: Harness, sim: Simulator, pg_url: str
) -> None:
    outage = Outage(pg_url)
    sim.on_request(once_on_page(2, outage.begin))  # the last page: the run ends in the outage
    try:
        [result] = h.sync()
    finally:
        outage.close()
    assert (result.status, result.error_type) == ("failed", "database_error")
    assert statuses(h) == ["running"]  # the database refused the run's end
    [lease] = h.query("SELECT holder FROM account_leases")  # and the lease's release
    assert lease.holder == h.runner.holder

    next_process = Fleet(PassRunner(h.engine, h.client, h.settings, h.clock, "next-process"), h.settings)
    [skipped] = next_process.sync([(LI, h.ids[LI.name])])
    assert skipped.status == "skipped"  # the lease may still be renewed: the run may be alive
    assert statuses(h) == ["running"]

    h.advance(seconds=h.settings.sync.lease_ttl + 1)
    [resumed] = next_process.sync([(LI, h.ids[LI.name])])
    assert resumed.status == "succeeded"
    assert statuses(h) == ["abandoned", "succeeded"]
    [abandoned, succeeded] = h.runs(LI.name)
    assert abandoned.finished_at is not None and abandoned.pass_id == succeeded.pass_id
    assert_in_step(h, sim)


def test_a_worker_waits_out_a_database_outage_and_syncs_once_it_is_back(
    h: Harness, sim: Simulator, pg_url: str
) -> None:
    outage = Outage(pg_url)
    sim.on_request(once_on_page(1, outage.begin))  # mid-pass
    worker = Worker(Fleet(h.runner, h.settings), [(LI, h.ids[LI.name])])
    ended: list[BaseException | None] = []

    def run() -> None:
        try:
            worker.run(once=False)
            ended.append(None)
        except BaseException as exc:
            ended.append(exc)
            raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        # The fake clock lets the worker back off in no time; the outage lasts until it waits a minute.
        deadline = time.monotonic() + 30
        while h.clock.sleeps.count(OUTAGE_MAX_WAIT) < 2:
            assert not ended, f"the worker ended in the outage: {ended}"
            assert time.monotonic() < deadline, "the worker never backed off to a minute"
            time.sleep(0.01)
    finally:
        outage.close()
    wait_until(pg_url, "SELECT 1 FROM sync_runs WHERE status = 'succeeded'", timeout=30)
    h.runner.stop.set()
    thread.join(30)
    assert ended == [None]

    waits = [OUTAGE_FIRST_WAIT * 2**i for i in range(6)] + [OUTAGE_MAX_WAIT, OUTAGE_MAX_WAIT]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    start = h.clock.sleeps.index(OUTAGE_FIRST_WAIT)
    assert h.clock.sleeps[start : start + len(waits)] == waits
    # The run the outage cut short stayed `running` (the database refused its end); once back, the
    # worker found its lease expired, recorded it abandoned and finished the pass.
    assert statuses(h)[:2] == ["abandoned", "succeeded"]
    assert_in_step(h, sim)


def test_a_worker_process_outlives_a_database_outage(tmp_path: Path, pg_url: str, make_sim: MakeSim) -> None:
    """The real `followersync worker`: synced, then the database goes away for a few seconds; it logs
    the outage, keeps trying, syncs again once the database is back, and stops cleanly (exit 0)."""
    sim = make_sim(accounts={LI: 120})
    config = write_config(tmp_path / "f.toml", pg_url, sim.base_url, [LI], extra='[sync]\ninterval = "1s"\n')
    proc = start_cli(["worker"], config=config)
    outage = Outage(pg_url)
    try:
        wait_until(pg_url, "SELECT 1 FROM sync_runs WHERE status = 'succeeded'", timeout=60)
        outage.begin()
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()
        outage.end()
        runs_before = len(query(pg_url, "SELECT id FROM sync_runs"))
        wait_until(
            pg_url,
            f"SELECT 1 FROM sync_runs WHERE id > {runs_before} AND status = 'succeeded'",
            timeout=60,
        )
    finally:
        outage.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-3000:]
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    waits = [e["retry_in"] for e in logged if e["event"] == "worker.database_unavailable"]
    assert waits[:2] == [OUTAGE_FIRST_WAIT, 2 * OUTAGE_FIRST_WAIT], waits
    assert any(e["event"] == "worker.database_back" for e in logged)


def test_worker_once_in_an_outage_fails_each_source_and_returns(h: Harness, pg_url: str) -> None:
    outage = Outage(pg_url)
    outage.begin()
    try:
        results = Worker(Fleet(h.runner, h.settings), [(LI, h.ids[LI.name])]).run(once=True)
    finally:
        outage.close()
    assert [(r.source, r.status, r.error_type) for r in results] == [(LI.name, "failed", "database_error")]
    assert results[0].message is not None and "not currently accepting connections" in results[0].message
    assert statuses(h) == []
