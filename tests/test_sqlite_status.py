"""The status read (store/statements.py), on SQLite and PostgreSQL through SQLAlchemy and, on a SQLite
file, through the sqlite3 driver alone (store/sqlite_status.py, the quick start of `followersync
status`): each figure of a source's status from rows written by hand, runs of dead processes
abandoned, the sources found by name, the schema checked, times bound as SQLAlchemy writes them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync import reports
from followersync.config import sqlite_file
from followersync.status import CheckpointPosition, LastRun, Lease, SourceStatus
from followersync.store import db, runs, sources, sqlite_status
from followersync.store.schema import (
    account_cooldowns,
    account_leases,
    follow_events,
    followers,
    notification_outbox,
    sync_checkpoints,
    sync_passes,
    sync_runs,
)
from followersync.store.schema import sources as sources_table

NOW = datetime(2026, 12, 4, 8, 30, 1, 123456, tzinfo=UTC)
DAY = timedelta(days=1)


def _history(conn: sa.Connection) -> tuple[int, int]:
    """Two sources: `busy` with something in every figure of its status, `quiet` with nothing but an
    expired lease and a cool-down that is over."""
    busy, quiet = (
        conn.execute(
            sources_table.insert()
            .values(name=name, provider="instagram", account_id=account, user_id=user, created_at=NOW)
            .returning(sources_table.c.id)
        ).scalar_one()
        for name, account, user in [("busy", "acc_busy", "u1"), ("quiet", "acc_quiet", None)]
    )  # fmt: skip

    def a_pass(mode: str, started: datetime, completed: datetime | None) -> int:
        values = {"source_id": busy, "mode": mode, "started_at": started, "completed_at": completed}
        return int(
            conn.execute(sync_passes.insert().values(**values).returning(sync_passes.c.id)).scalar_one()
        )

    def a_run(pass_id: int, mode: str, status: str, started: datetime, **values: object) -> int:
        values = {"finished_at": started + DAY / 24, "holder": "h", **values}
        return int(
            conn.execute(
                sync_runs.insert()
                .values(source_id=busy, pass_id=pass_id, mode=mode, status=status, started_at=started)
                .values(**values)
                .returning(sync_runs.c.id)
            ).scalar_one()
        )  # fmt: skip

    first, second = a_pass("full", NOW - 9 * DAY, NOW - 9 * DAY), a_pass("full", NOW - 5 * DAY, NOW - 5 * DAY)
    a_run(first, "full", "succeeded", NOW - 9 * DAY)
    a_run(second, "full", "succeeded", NOW - 5 * DAY, unfollows_withheld=4, withheld_reason="a guard")
    incremental = a_pass("incremental", NOW - 2 * DAY, NOW - 2 * DAY)  # later, but not a full pass
    a_run(incremental, "incremental", "succeeded", NOW - 2 * DAY)
    in_progress = a_pass("full", NOW - DAY, None)
    for hours in (20, 10):
        a_run(in_progress, "full", "failed", NOW - hours * DAY / 24, error_type="timeout")
    last = a_run(
        in_progress, "full", "failed", NOW - DAY / 24, error_type="unauthorized", error_detail={"status": 401}
    )
    conn.execute(
        sync_checkpoints.insert().values(
            source_id=busy, pass_id=in_progress, run_id=last, cursor="c", pages=7, updated_at=NOW - DAY / 24
        )
    )
    # Every row with every key: an executemany binds the keys of the first.
    seen = {"first_seen_at": NOW - 9 * DAY, "last_seen_at": NOW - 5 * DAY, "missing_since": None}
    seen |= {"unfollowed_at": None}
    conn.execute(
        followers.insert(),
        [
            {"source_id": busy, "follower_id": "active", **seen},
            {"source_id": busy, "follower_id": "missing", **seen, "missing_since": NOW - 3 * DAY},
            {"source_id": busy, "follower_id": "missing2", **seen, "missing_since": NOW - 2 * DAY},
            {"source_id": busy, "follower_id": "gone", **seen, "unfollowed_at": NOW - 4 * DAY},
        ],
    )
    conn.execute(
        follow_events.insert(),
        [
            {"source_id": busy, "follower_id": f, "event": e, "occurred_at": at, "run_id": last}
            for f, e, at in [
                ("active", "baseline", NOW - 9 * DAY),
                ("old", "follow", NOW - 8 * DAY),  # before the 7 days
                ("a", "follow", NOW - 6 * DAY),
                ("b", "follow", NOW - DAY),
                ("gone", "unfollow", NOW - 4 * DAY),
            ]
        ],
    )
    conn.execute(
        account_leases.insert(),
        [
            {"account_id": "acc_busy", "holder": "alive", "acquired_at": NOW, "expires_at": NOW + DAY},
            {"account_id": "acc_quiet", "holder": "dead", "acquired_at": NOW - DAY, "expires_at": NOW - DAY},
        ],
    )
    conn.execute(
        account_cooldowns.insert(),
        [
            {"account_id": "acc_busy", "until": NOW + DAY / 2, "seconds": 60, "error_type": "rate_limited"},
            {"account_id": "acc_quiet", "until": NOW - DAY, "seconds": 60, "error_type": "rate_limited"},
        ],
    )
    outbox = {"source_id": busy, "events": 1, "body": "{}", "created_at": NOW, "next_attempt_at": NOW}
    outbox |= {"delivered_at": None, "given_up_at": None, "last_error": None}
    conn.execute(
        notification_outbox.insert(),
        [
            {**outbox, "id": "pending", "hook": "ops"},
            {**outbox, "id": "delivered", "hook": "ops", "delivered_at": NOW},
            {**outbox, "id": "old", "hook": "ops", "given_up_at": NOW - 8 * DAY, "last_error": "old"},
            {**outbox, "id": "given-up", "hook": "chat", "given_up_at": NOW - DAY, "last_error": "HTTP 500"},
            {
                **outbox,
                "id": "given-up-2",
                "hook": "chat",
                "given_up_at": NOW - DAY,
                "last_error": "HTTP 502",
            },
        ],
    )
    return busy, quiet


def _expected(busy: int, quiet: int, last_run_id: int) -> list[SourceStatus]:
    return [
        SourceStatus(
            source="quiet", provider="instagram", account_id="acc_quiet", user_id=None, followers=0,
            missing=0, missing_since=None, gained_7d=0, lost_7d=0, last_run=None, last_full_pass_at=None,
            checkpoint=None, lease=None, last_error_status=None, failed_streak=0, unfollows_withheld=0,
        ),
        SourceStatus(
            source="busy", provider="instagram", account_id="acc_busy", user_id="u1",
            followers=3, missing=2, missing_since=NOW - 3 * DAY, gained_7d=2, lost_7d=1,
            last_run=LastRun(last_run_id, "full", "failed", NOW - DAY / 24, NOW, "unauthorized"),
            last_full_pass_at=NOW - 5 * DAY,
            checkpoint=CheckpointPosition(pages=7, updated_at=NOW - DAY / 24),
            lease=Lease(holder="alive", expires_at=NOW + DAY),
            last_error_status=401, failed_streak=3, unfollows_withheld=4, withheld_reason="a guard",
            resting_until=NOW + DAY / 2, resting_after="rate_limited",
            notifications_pending=1, notifications_given_up=2, given_up_hooks=("chat",),
            given_up_error="HTTP 502",
        ),
    ]  # fmt: skip


def test_every_figure_of_the_status_on_both_databases_and_both_drivers(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        busy, quiet = _history(conn)
        last_run_id = conn.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
    expected = _expected(busy, quiet, last_run_id)
    with engine.connect() as conn:
        # In the order asked for; an id the database does not know is left out.
        assert reports.status(conn, [quiet, 999, busy], NOW) == expected
        assert reports.status(conn, [], NOW) == []
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is not None:
        reading = sqlite_status.open_reading(path)
        try:
            assert sqlite_status.status(reading, [quiet, 999, busy], NOW) == expected
            assert sqlite_status.status(reading, [], NOW) == []
        finally:
            reading.close()


def test_sources_are_found_by_name_and_dead_runs_abandoned_through_both_drivers(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        busy, quiet = _history(conn)
        pass_id = conn.execute(sa.select(sa.func.min(sync_passes.c.id))).scalar_one()
        values = {"pass_id": pass_id, "mode": "full", "status": "running", "started_at": NOW}
        # busy's account is held by `alive`; quiet's lease has expired.
        conn.execute(
            sync_runs.insert(),
            [
                {**values, "source_id": busy, "holder": "alive"},
                {**values, "source_id": busy, "holder": "someone else"},
                {**values, "source_id": quiet, "holder": "dead"},
            ],
        )
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is None:
        with engine.begin() as conn:
            assert sources.source_ids(conn, ["busy", "quiet", "unknown"]) == {"busy": busy, "quiet": quiet}
            assert sources.source_ids(conn, []) == {}
            assert runs.mark_abandoned_runs(conn, NOW) == 2
            assert runs.mark_abandoned_runs(conn, NOW) == 0
    else:
        reading = sqlite_status.open_reading(path)
        try:
            assert sqlite_status.source_ids(reading, ["busy", "quiet", "unknown"]) == {
                "busy": busy,
                "quiet": quiet,
            }
            assert sqlite_status.source_ids(reading, []) == {}
            assert sqlite_status.mark_abandoned_runs(reading, NOW) == 2
            assert sqlite_status.mark_abandoned_runs(reading, NOW) == 0
        finally:
            reading.close()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_runs.c.holder, sync_runs.c.status, sync_runs.c.finished_at)
            .where(sync_runs.c.started_at == NOW)
            .order_by(sync_runs.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("alive", "running", None),
        ("someone else", "abandoned", NOW),
        ("dead", "abandoned", NOW),
    ]


def test_the_schema_revision_is_read_on_both_databases(db_url: str) -> None:
    engine = db.create_engine(db_url)
    try:
        assert db.current_revision(engine) is None
        with pytest.raises(db.SchemaMissing):
            db.require_schema(engine)
        db.migrate(engine, "0001")
        assert db.current_revision(engine) == "0001"
        with pytest.raises(db.SchemaOutOfDate, match="at revision 0001"):
            db.require_schema(engine)
        db.migrate(engine)
        assert db.current_revision(engine) == db.head_revision()
        db.require_schema(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 12, 4, 8, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 4, 8, 30, 1, tzinfo=UTC),  # no microseconds: still written with six digits
        datetime(2026, 12, 4, 9, 30, 1, 5, tzinfo=UTC),
    ],
)
def test_times_are_the_text_sqlalchemy_writes(tmp_path: Path, when: datetime) -> None:
    path = tmp_path / "followersync.db"
    engine = db.create_engine(f"sqlite:///{path}")
    try:
        db.migrate(engine)
        with engine.begin() as conn:
            values = {"holder": "h", "acquired_at": when, "expires_at": when}
            conn.execute(sa.insert(account_leases).values(account_id="a", **values))
    finally:
        engine.dispose()
    with sqlite3.connect(path) as conn:
        [(stored,)] = conn.execute("SELECT expires_at FROM account_leases").fetchall()
    assert stored == sqlite_status.time_text(when)
    assert datetime.fromisoformat(stored).replace(tzinfo=UTC) == when


def test_a_file_without_the_schema_or_out_of_date_is_refused_without_creating_anything(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(db.SchemaMissing):
        sqlite_status.open_reading(str(missing))
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(db.SchemaMissing):
        sqlite_status.open_reading(str(empty))

    old = tmp_path / "old.db"
    engine = db.create_engine(f"sqlite:///{old}")
    try:
        db.migrate(engine, "0001")
    finally:
        engine.dispose()
    with pytest.raises(db.SchemaOutOfDate, match="at revision 0001"):
        sqlite_status.open_reading(str(old))
