"""The database connection dies under a sync (PostgreSQL, `pg_terminate_backend`): a page is committed
whole or not at all, the run fails `database_error` with the pages before it kept, and the next run
resumes from the checkpoint with nothing lost or duplicated.

To kill a connection in the middle of a page's transaction rather than between two, the simulator's
`on_request` callback takes an exclusive lock on a table the page writes to just before it answers;
the sync's connection queues behind the lock inside its transaction, and that is the one terminated.
The callback first waits for the sync's connections to be idle: the page before may still be being
written while the next one is fetched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from followersync.simulator import RequestRecord, Simulator
from tests.faults.support import (
    LI,
    assert_in_step,
    assert_stopped_after,
    error_detail,
    make_harness,
    resume_and_check,
)
from tests.harness import Harness

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

    assert killer.killed_query is not None and "followers" in killer.killed_query
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
