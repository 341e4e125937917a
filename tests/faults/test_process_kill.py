"""The process dies at any instant of a pass (SIGKILL, no chance to clean up): restarted as often as it
takes, `followersync sync` ends with exactly the database an uninterrupted run gives, with no follower
or event lost or doubled, and every killed run recorded as abandoned."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from followersync.simulator import Simulator
from tests.harness import run_cli, start_cli, wait_for_leases_to_expire, write_config
from tests.sim_support import MakeSim, instagram_source, linkedin_source

LI = linkedin_source(account_id="acc_li_kill")
IG = instagram_source(account_id="acc_ig_kill")
LEASE_TTL = 0.5
CONFIRM_AFTER = 0.3
MAX_PAGES_BETWEEN_KILLS = 4


def snapshot(url: str) -> dict[str, Any]:
    """What a user would compare: the followers with their names and handles, and the events."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            followers = conn.execute(
                sa.text("SELECT source, follower_id, name, handle, is_active, unfollowed_at FROM v_followers")
            ).all()
            events = conn.execute(sa.text("SELECT source, follower_id, event FROM v_follow_events")).all()
            profiles = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM linkedin_profiles)"
                    " + (SELECT count(*) FROM instagram_profiles)"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "followers": sorted(tuple(r) for r in followers),
        "events per kind": Counter((r.source, r.event) for r in events),
        "events per follower": Counter(tuple(r) for r in events),
        "profiles": profiles,
    }


def checkpoint_pages(engine: sa.Engine) -> int | None:
    """Pages of LI's pass committed so far; None before the schema or the first page exists."""
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT c.pages FROM sync_checkpoints c JOIN sources s ON s.id = c.source_id"
                    " WHERE s.name = :name"
                ),
                {"name": LI.name},
            ).scalar_one_or_none()
    except sa.exc.DBAPIError:
        return None


def kill_at_random_points(config: Path, db_url: str, kills: int, seed: int) -> None:
    """Start `sync` and SIGKILL it a few pages further on (at a random moment inside a page), `kills`
    times; the listing is long enough for no run to finish in between."""
    rng = random.Random(seed)
    engine = sa.create_engine(db_url)
    try:
        for _ in range(kills):
            target = (checkpoint_pages(engine) or 0) + rng.randint(1, MAX_PAGES_BETWEEN_KILLS)
            proc = start_cli(["sync"], config=config)
            try:
                deadline = time.monotonic() + 60
                while proc.poll() is None and (checkpoint_pages(engine) or 0) < target:
                    assert time.monotonic() < deadline, "the sync made no progress"
                    time.sleep(0.01)
                if proc.poll() is not None:
                    stdout, stderr = proc.communicate()
                    raise AssertionError(f"the sync ended before its kill:\n{stdout}\n{stderr}")
                time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next page
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
            wait_for_leases_to_expire(db_url)  # the dead process's hold on the accounts runs out
    finally:
        engine.dispose()


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=5, latency=0.02)  # each test adds the listings it syncs


def check_kills(tmp_path: Path, db_url: str, sim: Simulator, kills: int, seed: int) -> None:
    # Long enough for every kill to land before LI's pass can end.
    sim.add_account(LI.account_id, "linkedin", followers=(kills * MAX_PAGES_BETWEEN_KILLS + 5) * 100)
    sim.add_account(IG.account_id, "instagram", followers=900)
    extra = f'[sync]\nlease_ttl = "{LEASE_TTL:g}s"\n'
    config = write_config(tmp_path / "killed.toml", db_url, sim.base_url, [LI, IG], extra=extra)
    kill_at_random_points(config, db_url, kills, seed)
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr

    reference_url = f"sqlite:///{tmp_path / 'uninterrupted.db'}"
    reference = write_config(tmp_path / "reference.toml", reference_url, sim.base_url, [LI, IG])
    sim.set_latency(0)
    assert run_cli(["sync"], config=reference).returncode == 0

    after_kills, uninterrupted = snapshot(db_url), snapshot(reference_url)
    assert after_kills == uninterrupted
    assert max(after_kills["events per follower"].values()) == 1
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            statuses = Counter(conn.execute(sa.text("SELECT status FROM sync_runs")).scalars())
    finally:
        engine.dispose()
    # Each killed process left one or two runs (one per source it had started); none stays `running`.
    assert set(statuses) <= {"abandoned", "succeeded"}
    assert kills <= statuses["abandoned"] <= 2 * kills


def test_a_sync_killed_three_times_ends_as_if_never_killed(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    check_kills(tmp_path, db_url, sim, kills=3, seed=20260101)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sync_killed_many_times_ends_as_if_never_killed(
    tmp_path: Path, db_url: str, sim: Simulator, seed: int
) -> None:
    check_kills(tmp_path, db_url, sim, kills=12, seed=seed)


def test_a_kill_during_the_confirming_pass_loses_no_missing_follower(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    """Between the pass that misses a follower and the one that confirms the unfollow, a process
    dies mid-pass: the next run resumes the confirming pass and dates the unfollows from the first
    miss, each once."""
    sim.add_account(LI.account_id, "linkedin", followers=(MAX_PAGES_BETWEEN_KILLS + 6) * 100)
    extra = f'[sync]\nlease_ttl = "{LEASE_TTL:g}s"\nconfirm_after = "{CONFIRM_AFTER:g}s"\n'
    config = write_config(tmp_path / "confirm.toml", db_url, sim.base_url, [LI], extra=extra)
    assert run_cli(["sync"], config=config).returncode == 0
    gone = set(sim.unfollow(LI.account_id, count=5))
    assert run_cli(["sync", "--mode", "full"], config=config).returncode == 0
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            first_miss = dict(
                conn.execute(
                    sa.text(
                        "SELECT follower_id, missing_since FROM v_followers WHERE missing_since IS NOT NULL"
                    )
                ).all()
            )
        assert set(first_miss) == gone
        # confirm_after: the next `sync` (mode auto) is the confirming full pass
        time.sleep(CONFIRM_AFTER + 0.05)
        kill_at_random_points(config, db_url, kills=1, seed=7)
        with engine.connect() as conn:
            assert (
                conn.execute(
                    sa.text("SELECT count(*) FROM v_follow_events WHERE event = 'unfollow'")
                ).scalar()
                == 0
            )
        assert run_cli(["sync"], config=config).returncode == 0
        with engine.connect() as conn:
            events = conn.execute(
                sa.text("SELECT follower_id, occurred_at FROM v_follow_events WHERE event = 'unfollow'")
            ).all()
            statuses = list(conn.execute(sa.text("SELECT status FROM sync_runs ORDER BY id")).scalars())
            still_missing = conn.execute(
                sa.text("SELECT count(*) FROM followers WHERE missing_since IS NOT NULL")
            )
            assert still_missing.scalar() == 0
    finally:
        engine.dispose()
    assert sorted((f, str(at)) for f, at in events) == sorted((f, str(at)) for f, at in first_miss.items())
    assert statuses == ["succeeded", "succeeded", "abandoned", "succeeded"]


class SchemaWatch:
    """Tells, from outside, how far a `sync` on an empty database has got with creating the schema.

    `state()` is "waiting" (nothing to see yet), "creating" (the migration is half way: tables without
    a version stamp are visible, or a PostgreSQL CREATE runs in an open transaction, or a SQLite
    writer has held the database for a while) or "done" (the version is stamped).
    """

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        self.path = Path(sa.make_url(url).database or "")
        # SQLite: never wait for a lock, only ask whether one is held.
        connect_args = {"timeout": 0} if self.sqlite else {}
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args=connect_args)
        self.writing_since: float | None = None

    def state(self) -> str:
        if self.sqlite and not self.path.exists():
            return "waiting"
        with self.engine.connect() as conn:
            return self._sqlite(conn) if self.sqlite else self._postgres(conn)

    def _postgres(self, conn: sa.Connection) -> str:
        stamped = conn.execute(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar()
        if stamped and conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar():
            return "done"
        creating = conn.execute(
            sa.text(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND query ILIKE 'CREATE%'"
            )
        ).first()
        return "creating" if creating else "waiting"

    def _sqlite(self, conn: sa.Connection) -> str:
        try:
            tables = set(
                conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars()
            )
            stamp = "SELECT count(*) FROM alembic_version"
            if "alembic_version" in tables and conn.exec_driver_sql(stamp).scalar():
                return "done"
            if conn.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
                return "waiting"  # the sync is still setting the file up
        except sa.exc.OperationalError:  # locked while the sync sets the file up
            return "waiting"
        if tables:
            return "creating"  # part of the schema is visible already
        try:  # a writer at work before the stamp can only be the migration
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("ROLLBACK")
            self.writing_since = None
            return "waiting"
        except sa.exc.OperationalError:
            # Locked: let the migration get on a little, so that if each statement commits on its
            # own, some are committed when the process dies.
            self.writing_since = self.writing_since or time.monotonic()
            return "creating" if time.monotonic() - self.writing_since > 0.005 else "waiting"

    def close(self) -> None:
        self.engine.dispose()


def test_a_sync_killed_while_it_creates_the_schema_runs_again(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    sim.add_account(LI.account_id, "linkedin", followers=300)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    watch = SchemaWatch(db_url)
    try:
        proc = start_cli(["sync"], config=config)
        state = "waiting"
        while proc.poll() is None and state == "waiting":
            time.sleep(0.001)
            state = watch.state()
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    finally:
        watch.close()
    if state != "creating":
        pytest.skip("the schema was created before the sync could be interrupted")

    again = run_cli(["sync"], config=config)
    assert again.returncode == 0, again.stderr
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            active = conn.execute(sa.text("SELECT count(*) FROM v_followers WHERE is_active")).scalar()
    finally:
        engine.dispose()
    assert active == 300
