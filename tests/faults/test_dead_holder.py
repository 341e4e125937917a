"""A sync killed with SIGKILL holds its account's lease until `sync.lease_ttl` runs out. On the same
host, the next sync need not wait for that: a holder whose process is gone is taken over at once and
its run recorded `abandoned`; a holder whose pid exists (whoever it belongs to now) is waited out as
before (docs/semantics.md#one-syncer-per-account; issue #22)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.simulator import Simulator
from followersync.store.schema import account_leases
from followersync.sync.leases import holder_is_gone, new_holder_id, pid_namespace
from tests.harness import query, run_cli, start_cli, wait_until, write_config
from tests.sim_support import MakeSim, linkedin_source

LI = linkedin_source(account_id="acc_li_dead")


def a_dead_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


@pytest.mark.integration  # a process, to have a dead pid
def test_holder_is_gone_only_for_a_missing_process_of_this_host() -> None:
    host = socket.gethostname()
    dead = a_dead_pid()
    ns = pid_namespace()
    assert holder_is_gone(f"{host}:{dead}:abcd1234:{ns}")
    assert not holder_is_gone(f"another-host-{host}:{dead}:abcd1234:{ns}")  # not ours to look at
    assert not holder_is_gone(f"{host}:{dead}:abcd1234:{ns}0")  # another container with our hostname
    assert not holder_is_gone(f"{host}:{dead}:abcd1234")  # an older holder id: waited out
    assert not holder_is_gone(f"{host}:{os.getppid()}:abcd1234:{ns}")  # exists: alive, whoever it is
    assert not holder_is_gone(new_holder_id())  # ourselves
    for odd in ("test-holder", f"{host}:x:1", f"{host}:0:1", f"{host}::", ""):
        assert not holder_is_gone(odd)


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    simulator = make_sim(seed=3, latency=0.05)
    simulator.add_account(LI.account_id, "linkedin", followers=3000)  # 30 pages: seconds at this latency
    return simulator


def test_a_sync_killed_on_this_host_is_taken_over_at_once(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    # The default lease_ttl (60 s): the rerun below comes long before the lease would expire.
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    killed = start_cli(["sync"], config=config)
    try:
        wait_until(db_url, "SELECT 1 FROM sync_checkpoints WHERE pages >= 2")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
    [(holder,)] = query(db_url, "SELECT holder FROM account_leases")
    assert holder.startswith(f"{socket.gethostname()}:{killed.pid}:")

    sim.set_latency(0)
    started = time.monotonic()
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30  # well within the dead lease's 60 s
    assert "skipped" not in done.stdout and "succeeded" in done.stdout, done.stdout
    assert '"event": "lease.holder_gone"' in done.stderr
    runs = [tuple(r) for r in query(db_url, "SELECT status, holder FROM sync_runs ORDER BY id")]
    assert runs[0] == ("abandoned", holder)
    assert [status for status, _ in runs[1:]] == ["succeeded"]  # the pass resumed from its checkpoint


def test_a_holder_whose_pid_exists_is_waited_out(tmp_path: Path, db_url: str, sim: Simulator) -> None:
    """A pid that exists may be the holder or a stranger that got its number: either way, alive."""
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    assert run_cli(["migrate"], config=config).returncode == 0
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = f"{socket.gethostname()}:{stranger.pid}:00000000:{pid_namespace()}"
        engine = sa.create_engine(db_url)
        try:
            with engine.begin() as conn:
                now = datetime.now(UTC)
                conn.execute(
                    account_leases.insert().values(
                        account_id=LI.account_id,
                        holder=holder,
                        acquired_at=now,
                        expires_at=now + timedelta(seconds=60),
                    )
                )
        finally:
            engine.dispose()
        done = run_cli(["sync"], config=config)
    finally:
        stranger.kill()
        stranger.wait()
    assert done.returncode == 0, done.stderr
    assert f"skipped: another process is syncing account {LI.account_id}" in done.stdout
    assert sim.requests == []
