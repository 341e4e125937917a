"""`followersync worker`: many processes share one PostgreSQL database and respect each account."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followersync.config import Settings, SourceConfig, SyncSettings
from followersync.simulator import Simulator
from followersync.store.sources import SourceState
from followersync.sync.rules import next_due
from tests.harness import query, run_cli, start_cli, wait_for_leases_to_expire, wait_until, write_config
from tests.sim_support import MakeSim, instagram_source, linkedin_source

ACCOUNTS = 8
SOURCES = [
    SourceConfig(
        name=f"src-{i:02d}",
        provider="linkedin" if i % 2 else "instagram",
        account_id=f"acc_{(i % ACCOUNTS):02d}",
        user_id=None if i < ACCOUNTS else f"user_{i}",
    )
    for i in range(20)
]


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=11, latency=0.01, accounts=dict.fromkeys(SOURCES, 250))


def test_four_workers_sync_every_source_exactly_once(tmp_path: Path, pg_url: str, sim: Simulator) -> None:
    config = write_config(
        tmp_path / "f.toml", pg_url, sim.base_url, SOURCES, extra="[sync]\nconcurrency = 4\n"
    )
    assert run_cli(["migrate"], config=config).returncode == 0
    workers = [start_cli(["worker", "--once"], config=config) for _ in range(4)]
    outputs = [w.communicate(timeout=180) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    rows = query(pg_url, "SELECT s.name, r.status FROM sync_runs r JOIN sources s ON s.id = r.source_id")
    assert sorted(name for name, _ in rows) == sorted(s.name for s in SOURCES)
    assert {status for _, status in rows} == {"succeeded"}
    for account in {s.account_id for s in SOURCES}:
        assert sim.max_in_flight(account) == 1, account
    assert query(pg_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 250 * len(SOURCES)
    assert query(pg_url, "SELECT count(*) FROM account_leases")[0][0] == 0


def test_workers_share_the_daily_budget(tmp_path: Path, pg_url: str, sim: Simulator) -> None:
    budget = 4  # each account has 2-3 sources of 2-3 pages: the budget runs out
    config = write_config(tmp_path / "f.toml", pg_url, sim.base_url, SOURCES, budget=budget)
    assert run_cli(["migrate"], config=config).returncode == 0
    workers = [start_cli(["worker", "--once"], config=config) for _ in range(4)]
    outputs = [w.communicate(timeout=180) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    for account in {s.account_id for s in SOURCES}:
        assert len(sim.requests_for(account)) <= budget, account
    statuses = {r.status for r in query(pg_url, "SELECT status FROM sync_runs")}
    assert "deferred" in statuses
    assert query(pg_url, "SELECT max(requests) FROM request_budget")[0][0] == budget


def test_a_killed_worker_is_taken_over_from_its_checkpoint(
    tmp_path: Path, pg_url: str, make_sim: MakeSim
) -> None:
    source = linkedin_source(name="big", account_id="acc_big")
    sim = make_sim(latency=0.03, accounts={source: 3000})
    config = write_config(
        tmp_path / "f.toml", pg_url, sim.base_url, [source], extra='[sync]\nlease_ttl = "0.3s"\n'
    )
    assert run_cli(["migrate"], config=config).returncode == 0
    first = start_cli(["worker"], config=config)
    try:
        wait_until(pg_url, "SELECT 1 FROM sync_checkpoints WHERE pages >= 5")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    [checkpoint] = query(pg_url, "SELECT cursor FROM sync_checkpoints")
    sim.set_latency(0)
    sim.clear_requests()
    wait_for_leases_to_expire(pg_url)  # the killed worker's lease runs out
    done = run_cli(["worker", "--once"], config=config)
    assert done.returncode == 0, done.stderr
    assert sim.requests_for(source.account_id)[0].cursor == checkpoint.cursor
    assert query(pg_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 3000
    assert query(pg_url, "SELECT count(*) FROM follow_events")[0][0] == 3000
    assert [r.status for r in query(pg_url, "SELECT status FROM sync_runs ORDER BY id")] == [
        "abandoned",
        "succeeded",
    ]


def test_sigterm_stops_a_worker_cleanly(tmp_path: Path, db_url: str, make_sim: MakeSim) -> None:
    source = instagram_source(name="big", account_id="acc_big")
    sim = make_sim(latency=0.03, accounts={source: 6000})
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [source])
    proc = start_cli(["worker"], config=config)
    try:
        wait_until(db_url, "SELECT 1 FROM sync_checkpoints WHERE pages >= 2")
    finally:
        proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert [r.status for r in query(db_url, "SELECT status FROM sync_runs")] == ["deferred"]
    assert query(db_url, "SELECT count(*) FROM account_leases")[0][0] == 0


def test_a_running_worker_syncs_again_when_due(tmp_path: Path, sqlite_url: str, make_sim: MakeSim) -> None:
    source = linkedin_source(name="small", account_id="acc_small")
    sim = make_sim(accounts={source: 120})
    config = write_config(
        tmp_path / "f.toml", sqlite_url, sim.base_url, [source], extra='[sync]\ninterval = "1s"\n'
    )
    proc = start_cli(["worker"], config=config)
    try:
        wait_until(sqlite_url, "SELECT 1 FROM sync_runs WHERE id = 2 AND status = 'succeeded'", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    modes = [r.mode for r in query(sqlite_url, "SELECT mode FROM sync_runs ORDER BY id")]
    assert modes[:2] == ["full", "incremental"]


# --- the schedule, as a pure function ---------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(sync=SyncSettings(interval=3600, full_pass_interval=86400))


def _state(**kw: object) -> SourceState:
    base: dict[str, object] = {
        "source_id": 1,
        "last_run_status": "succeeded",
        "last_run_finished_at": NOW - timedelta(minutes=10),
        "last_run_error_type": None,
        "last_run_retry_after": None,
        "last_full_pass_at": NOW - timedelta(hours=2),
        "pass_in_progress": False,
        "missing": 0,
    }
    base.update(kw)
    return SourceState(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (_state(last_run_status=None, last_run_finished_at=None), NOW),
        (_state(), NOW + timedelta(minutes=50)),
        (_state(last_full_pass_at=NOW - timedelta(hours=23, minutes=55)), NOW + timedelta(minutes=5)),
        (_state(last_full_pass_at=None), NOW),
        # Followers missing: the confirmation pass is due sync.confirm_after (1 h) after the last full one.
        (_state(missing=3), NOW - timedelta(hours=1)),
        (_state(missing=3, last_full_pass_at=NOW - timedelta(minutes=30)), NOW + timedelta(minutes=30)),
        (_state(last_run_status="abandoned", pass_in_progress=True), NOW),
        (_state(last_run_status="failed"), NOW + timedelta(minutes=50)),
        (
            _state(last_run_status="deferred", last_run_error_type="budget_exhausted"),
            datetime(2026, 5, 2, tzinfo=UTC),
        ),
        (
            _state(
                last_run_status="deferred",
                last_run_error_type="errors/too_many_requests",
                last_run_retry_after=120.0,
            ),
            NOW - timedelta(minutes=8),
        ),
        (
            _state(last_run_status="deferred", last_run_error_type="errors/too_many_requests"),
            NOW + timedelta(minutes=5),
        ),
        (_state(last_run_status="deferred"), NOW),
    ],
)
def test_next_due(state: SourceState, due: datetime) -> None:
    assert next_due(state, SETTINGS, NOW) == due


def test_worker_once_with_nothing_due_says_so(tmp_path: Path, sqlite_url: str, make_sim: MakeSim) -> None:
    source = linkedin_source(name="small", account_id="acc_small")
    sim = make_sim(accounts={source: 10})
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [source])
    first = run_cli(["worker", "--once"], config=config)
    second = run_cli(["worker", "--once"], config=config)
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert "small" in first.stdout
    assert len(query(sqlite_url, "SELECT id FROM sync_runs")) == 1
    # When the next is due: an incremental pass `sync.interval` (1 h) after the run.
    [finished] = [r.finished_at for r in query(sqlite_url, "SELECT finished_at FROM sync_runs")]
    due = datetime.fromisoformat(str(finished)).replace(tzinfo=UTC) + timedelta(hours=1)
    assert second.stdout == f"no source was due: the next is small, due {due:%Y-%m-%d %H:%M:%S} UTC\n"
