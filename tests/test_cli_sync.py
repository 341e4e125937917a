"""`followersync sync` as a user runs it: a real subprocess against the simulator, on both databases."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.simulator import Fault, Simulator
from followersync.store import db
from tests.harness import (
    API_KEY,
    query,
    run_cli,
    start_cli,
    wait_for_leases_to_expire,
    wait_until,
    write_config,
)
from tests.sim_support import IG, LI, MakeSim


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=3, accounts={LI: 3000, IG: 300})


def test_sync_migrates_an_empty_database_and_exits_0(tmp_path: Path, db_url: str, sim: Simulator) -> None:
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI, IG])
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    assert "acme-page" in done.stdout and "succeeded" in done.stdout
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 3300
    assert API_KEY not in done.stdout + done.stderr


def test_a_failed_source_gives_exit_1_and_the_others_still_run(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    sim.inject(Fault.error("errors/disconnected_account"), account_id=IG.account_id, times=-1)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI, IG])
    done = run_cli(["sync"], config=config)
    assert done.returncode == 1
    rows = {
        r.name: (r.status, r.error_type)
        for r in query(
            db_url,
            "SELECT s.name, r.status, r.error_type FROM sync_runs r JOIN sources s ON s.id = r.source_id",
        )
    }
    assert rows == {"acme-page": ("succeeded", None), "brand-ig": ("failed", "errors/disconnected_account")}
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    ends = [line for line in lines if line.get("event") == "run.end"]
    assert {line["source"] for line in ends} == {"acme-page", "brand-ig"}
    assert all("run_id" in line for line in ends)


def test_configuration_errors_exit_2_before_any_request(
    tmp_path: Path, sqlite_url: str, sim: Simulator
) -> None:
    config = write_config(
        tmp_path / "f.toml", sqlite_url, sim.base_url, [LI], extra="[sync]\nconcurrency = 0\n"
    )
    done = run_cli(["sync"], config=config)
    assert done.returncode == 2
    assert "sync.concurrency" in done.stderr and "Traceback" not in done.stderr
    no_key = run_cli(
        ["sync"],
        config=write_config(tmp_path / "g.toml", sqlite_url, sim.base_url, [LI]),
        POSTPRESS_API_KEY="",
    )
    assert no_key.returncode == 2 and "POSTPRESS_API_KEY" in no_key.stderr
    unknown = run_cli(["sync", "--source", "nope"], config=tmp_path / "g.toml")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    assert sim.requests == []


def test_sync_refuses_an_older_schema(tmp_path: Path, sqlite_url: str, sim: Simulator) -> None:
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [IG])
    # A real older revision: a revision id this followersync does not know is a newer schema
    # (test_migrations.py, test_a_schema_newer_than_this_followersync_is_one_line_for_every_command).
    engine = db.create_engine(sqlite_url)
    db.migrate(engine, db.KNOWN_REVISIONS[-2])
    engine.dispose()
    done = run_cli(["sync"], config=config)
    assert done.returncode == 2 and "followersync migrate" in done.stderr
    assert sim.requests == []


def test_killed_mid_pass_the_rerun_resumes_from_the_checkpoint(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    sim.set_latency(0.03)
    extra = '[sync]\nlease_ttl = "0.3s"\n'  # one process at a time: a lapse mid-run takes nothing
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI], extra=extra)
    proc = start_cli(["sync"], config=config)
    try:
        wait_until(db_url, "SELECT 1 FROM sync_checkpoints WHERE pages >= 5")
    except Exception:
        proc.kill()
        raise
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [checkpoint] = query(db_url, "SELECT cursor, pages FROM sync_checkpoints")
    sim.set_latency(0)
    sim.clear_requests()
    wait_for_leases_to_expire(db_url)  # the killed process's lease runs out
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    assert sim.requests_for(LI.account_id)[0].cursor == checkpoint.cursor
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 3000
    events = query(
        db_url, "SELECT follower_id, count(*) FROM follow_events GROUP BY follower_id HAVING count(*) > 1"
    )
    assert events == []
    assert query(db_url, "SELECT count(*) FROM follow_events")[0][0] == 3000
    statuses = [r.status for r in query(db_url, "SELECT status FROM sync_runs ORDER BY id")]
    assert statuses == ["abandoned", "succeeded"]


def test_two_processes_on_one_source_only_one_syncs(tmp_path: Path, db_url: str, sim: Simulator) -> None:
    sim.set_latency(0.02)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    assert run_cli(["migrate"], config=config).returncode == 0
    procs = [start_cli(["sync", "--source", "acme-page"], config=config) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len(query(db_url, "SELECT id FROM sync_runs")) == 1
    assert sum("skipped" in out for out, _ in outputs) == 1
    assert sim.max_in_flight(LI.account_id) == 1


def test_sigterm_ends_the_run_deferred_and_keeps_the_checkpoint(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    sim.set_latency(0.03)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    proc = start_cli(["sync"], config=config)
    try:
        wait_until(db_url, "SELECT 1 FROM sync_checkpoints WHERE pages >= 3")
    finally:
        proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    [run] = query(db_url, "SELECT status, pages FROM sync_runs")
    assert run.status == "deferred"
    [checkpoint] = query(db_url, "SELECT pages FROM sync_checkpoints")
    assert checkpoint.pages == run.pages
    assert query(db_url, "SELECT count(*) FROM account_leases")[0][0] == 0


def test_every_log_line_of_a_run_carries_source_and_run_id(
    tmp_path: Path, sqlite_url: str, sim: Simulator
) -> None:
    sim.inject(Fault.error("errors/unexpected_error"), account_id=IG.account_id, times=1)
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [IG])
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    retries = [line for line in lines if line["event"] == "api.retry"]
    assert retries, "the injected unexpected_error was not retried"
    run_lines = [line for line in lines if line["event"].startswith(("run.", "api."))]
    assert all(line.get("source") == "brand-ig" and line.get("run_id") == 1 for line in run_lines), run_lines


def test_a_fleet_started_at_once_on_an_empty_database_creates_the_schema_once_and_syncs(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    """docs/semantics.md#first-start: a fleet's first deploy. Exactly one process creates the schema,
    the others wait for it, then all of them sync (or skip what another holds); none fails."""
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI, IG])
    commands = [["sync"], ["worker", "--once"], ["sync"], ["worker", "--once"]]
    procs = [start_cli(args, config=config) for args in commands]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-3000:] for _, err in outputs]
    assert [tuple(r) for r in query(db_url, "SELECT version_num FROM alembic_version")] == [
        (db.HEAD_REVISION,)
    ]
    assert sorted(r.name for r in query(db_url, "SELECT name FROM sources")) == [LI.name, IG.name]
    active = query(db_url, "SELECT source, count(*) AS n FROM v_followers WHERE is_active GROUP BY source")
    assert {r.source: r.n for r in active} == {LI.name: 3000, IG.name: 300}
    assert {r.status for r in query(db_url, "SELECT status FROM sync_runs")} == {"succeeded"}


def refuse_leases_of(db_url: str, account_id: str) -> None:
    """The database rejects every lease of `account_id` (a trigger raises): the account-level step
    before a run fails for that account's sources only."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_lease BEFORE INSERT ON account_leases"
                f" WHEN NEW.account_id = '{account_id}'"
                " BEGIN SELECT RAISE(ABORT, 'leases of this account are refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_lease() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'leases of this account are refused'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_lease BEFORE INSERT ON account_leases FOR EACH ROW"
                f" WHEN (NEW.account_id = '{account_id}') EXECUTE FUNCTION refuse_lease()"
            )
    engine.dispose()


def test_a_database_error_before_one_sources_run_fails_that_source_only(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI, IG])
    assert run_cli(["migrate"], config=config).returncode == 0
    refuse_leases_of(db_url, IG.account_id)
    done = run_cli(["sync"], config=config)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert lines[LI.name].split()[1] == "succeeded"
    assert lines[IG.name].split()[1] == "failed"
    assert "database error before the run: leases of this account are refused" in lines[IG.name]
    # The other source's run is all there; the refused one never began (no run row to record it in).
    rows = query(db_url, "SELECT s.name, r.status FROM sync_runs r JOIN sources s ON s.id = r.source_id")
    assert [tuple(r) for r in rows] == [(LI.name, "succeeded")]
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 3000
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [(e["source"], e["level"]) for e in logged if e["event"] == "source.database_error"] == [
        (IG.name, "error")
    ]
