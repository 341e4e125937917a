"""`status`, `runs` and `report` as a user runs them: the real CLI (in this process through click,
`cli_in_process`; one test through `python -m followersync`), on both databases.

The data comes from real syncs (tests.test_reports.history); every output is checked against plain SQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from followersync import reports
from followersync.cli.chart import CHART_HEIGHT_PX, CHART_WIDTH_PX
from followersync.simulator import Fault
from followersync.store import leases, passes, runs
from tests.harness import API_KEY, Harness, invoke_cli, run_cli, run_cli_process, write_config
from tests.sim_support import IG, LI, instagram_source, linkedin_source
from tests.test_reports import DAYS_AGO, as_day, detail, history, utc

pytestmark = pytest.mark.cli_in_process

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")
STATUS_FIELDS = {
    "source",
    "provider",
    "account_id",
    "user_id",
    "followers",
    "last_run",
    "missing",
    "notifications_pending",
    "last_full_pass_at",
    "checkpoint",
    "attention",
}
STATUS_EXTRAS = {
    "gained_7d",
    "lost_7d",
    "lease",
    "missing_since",
    "confirmation_due",
    "full_pass_progress",
    "sizing",
}
LAST_RUN_FIELDS = ["id", "mode", "status", "started_at", "finished_at", "error_type"]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(args, config=config)
    assert API_KEY not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ok(config: Path, *args: str) -> str:
    done = cli(config, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def json_array(config: Path, *args: str) -> list[dict[str, Any]]:
    """The command's stdout, which must be exactly one JSON array (nothing else)."""
    value = json.loads(ok(config, *args, "--format", "json"))
    assert isinstance(value, list)
    return value


def csv_rows(config: Path, *args: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(ok(config, *args, "--format", "csv"))))


def when(text: str | None) -> datetime | None:
    if text is None:
        return None
    assert ISO_UTC.match(text), text
    return datetime.fromisoformat(text)


def config_for(tmp_path: Path, h: Harness) -> Path:
    return write_config(tmp_path / "followersync.toml", h.settings.database.url, h.sim.base_url, [LI, IG])


def test_status_and_runs_say_what_the_database_says(tmp_path: Path, db_url: str) -> None:
    with history(db_url) as h:
        config = config_for(tmp_path, h)
        states = json_array(config, "status")
        assert [s["source"] for s in states] == [LI.name, IG.name]
        for s in states:
            assert set(s) == STATUS_FIELDS | STATUS_EXTRAS
            [last] = h.query(
                "SELECT r.* FROM sync_runs r JOIN sources s ON s.id = r.source_id WHERE s.name = :s"
                " ORDER BY r.id DESC LIMIT 1",
                s=s["source"],
            )
            run = s["last_run"]
            assert list(run) == LAST_RUN_FIELDS
            assert [run["id"], run["mode"], run["status"], run["error_type"]] == [
                last.id,
                last.mode,
                last.status,
                last.error_type,
            ]
            assert when(run["started_at"]) == utc(last.started_at)
            assert when(run["finished_at"]) == utc(last.finished_at)
            [full] = h.query(
                "SELECT max(p.completed_at) AS at FROM sync_passes p JOIN sources s ON s.id = p.source_id"
                " WHERE s.name = :s AND p.mode = 'full' AND p.completed_at IS NOT NULL",
                s=s["source"],
            )
            assert when(s["last_full_pass_at"]) == utc(full.at)
            assert s["followers"] == len(h.active(s["source"]))
            missing = h.query(
                "SELECT * FROM v_followers WHERE source = :s AND missing_since IS NOT NULL", s=s["source"]
            )
            assert s["missing"] == len(missing) == 0  # unfollows confirmed at once in this history
            assert s["missing_since"] is None and s["confirmation_due"] is None
            assert s["checkpoint"] is None and s["lease"] is None
        li, ig = states
        assert (li["provider"], li["account_id"], li["user_id"]) == ("linkedin", LI.account_id, None)
        assert (li["followers"], li["gained_7d"], li["lost_7d"]) == (253, 8, 5)
        assert li["attention"].startswith("reconnect the account in postpress")
        assert "errors/expired_credentials" in li["attention"]
        assert ig["attention"].startswith("60 unfollows withheld")
        assert "`followersync sync --source brand-ig --mode full --accept-unfollows`" in ig["attention"]

        table = ok(config, "status")
        li_block, ig_block = table.split("\n\n")
        assert li_block.startswith("acme-page") and "253" in li_block and "failed" in li_block
        assert "  ! reconnect the account in postpress" in li_block
        assert ig_block.startswith("brand-ig")
        assert (
            "  ! 60 unfollows withheld on the last full pass (60 of 121 active followers went missing in one "
            "pass (more than 25% and more than 25)); if they really left, run "
            "`followersync sync --source brand-ig --mode full --accept-unfollows`"
        ) in ig_block

        history_rows = json_array(config, "runs")
        rows = h.query(
            "SELECT s.name AS source, r.* FROM sync_runs r JOIN sources s ON s.id = r.source_id"
            " ORDER BY r.id DESC"
        )
        assert len(history_rows) == len(rows) == 7
        for got, row in zip(history_rows, rows, strict=True):
            assert list(got) == ["source", *reports.RUN_FIELDS]
            for name, value in got.items():
                want = getattr(row, name)
                if name.endswith("_at"):
                    assert when(value) == utc(want), name
                elif name == "error_detail":
                    assert value == detail(want)
                else:
                    assert value == want, name
        assert [r["id"] for r in json_array(config, "runs", "--source", IG.name, "--limit", "2")] == [
            r.id for r in rows if r.source == IG.name
        ][:2]

        lines = ok(config, "runs", "--limit", "3").splitlines()
        assert lines[0].split() == [
            "run",
            "source",
            "mode",
            "status",
            "started",
            "(UTC)",
            "duration",
            "pages",
            "items",
            "new",
            "missing",
            "lost",
            "withheld",
            "requests",
            "retries",
            "error",
        ]
        assert len(lines) == 4
        assert lines[1].split()[:4] == [str(rows[0].id), LI.name, "full", "failed"]
        assert "errors/expired_credentials" in lines[1]


def test_reports_say_what_the_views_say(tmp_path: Path, db_url: str) -> None:
    with history(db_url) as h:
        config = config_for(tmp_path, h)
        gone = h.query(
            "SELECT source, follower_id, name, handle, unfollowed_at FROM v_followers"
            " WHERE NOT is_active ORDER BY unfollowed_at DESC, source, follower_id"
        )
        expected = [(r.source, r.follower_id, r.name, r.handle, utc(r.unfollowed_at)) for r in gone]
        assert len(expected) == 6

        unfollows = json_array(config, "report", "unfollows")
        assert [list(u) for u in unfollows] == [
            ["source", "follower_id", "name", "handle", "unfollowed_at"]
        ] * 6
        got = [
            (u["source"], u["follower_id"], u["name"], u["handle"], when(u["unfollowed_at"]))
            for u in unfollows
        ]
        assert got == expected

        header, *rows = csv_rows(config, "report", "unfollows")
        assert header == ["source", "follower_id", "name", "handle", "unfollowed_at"]
        assert [(*r[:4], when(r[4])) for r in rows] == expected

        # The newest unfollows (acme-page's, day 2), asked for with an offset other than UTC.
        newest = expected[0][4]
        assert newest is not None
        since = (newest - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=2))).isoformat()
        recent = json_array(config, "report", "unfollows", "--since", since)
        assert [u["follower_id"] for u in recent] == [e[1] for e in expected if e[4] == newest]
        day_of_newest = newest.date().isoformat()
        assert json_array(config, "report", "unfollows", "--since", day_of_newest, "--source", IG.name) == []

        table = ok(config, "report", "unfollows", "--source", LI.name).splitlines()
        assert table[0].split() == ["unfollowed", "(UTC)", "source", "name", "handle", "follower", "id"]
        assert len(table) == 1 + sum(1 for e in expected if e[0] == LI.name)

        today = datetime.now(UTC).date()
        since_day = (today - timedelta(days=DAYS_AGO)).isoformat()
        days = sorted(
            (r.source, as_day(r.day), r.followers, r.gained, r.lost)
            for r in h.query("SELECT source, day, followers, gained, lost FROM v_follower_growth_daily")
            if as_day(r.day) >= since_day
        )
        growth = json_array(config, "report", "growth", "--days", str(DAYS_AGO + 1))
        assert [list(g) for g in growth] == [["source", "day", "followers", "gained", "lost"]] * len(days)
        assert [(g["source"], g["day"], g["followers"], g["gained"], g["lost"]) for g in growth] == days
        assert growth[0] == {"source": LI.name, "day": since_day, "followers": 250, "gained": 0, "lost": 0}

        header, *rows = csv_rows(config, "report", "growth", "--days", "2", "--source", IG.name)
        assert header == ["source", "day", "followers", "gained", "lost"]
        assert rows == [[s, d, str(f), str(g), str(lo)] for s, d, f, g, lo in days if s == IG.name][-2:]

        table = ok(config, "report", "growth", "--days", "1").splitlines()
        assert table[0].split() == ["source", "day", "followers", "gained", "lost", "net"]
        assert [line.split()[:3] for line in table[1:]] == [
            [LI.name, today.isoformat(), "253"],
            [IG.name, today.isoformat(), "121"],
        ]

        chart = tmp_path / "growth.png"
        out = ok(config, "report", "growth", "--format", "png", "--output", str(chart))
        assert str(chart) in out
        png = chart.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
        assert struct.unpack(">II", png[16:24]) == (CHART_WIDTH_PX, CHART_HEIGHT_PX)
        assert png.endswith(b"IEND\xaeB`\x82")
        vector = tmp_path / "growth.svg"
        ok(config, "report", "growth", "--format", "png", "--output", str(vector))
        assert "<svg" in vector.read_text()  # what its name says, not PNG bytes
        done = cli(config, "report", "growth", "--format", "png", "--output", str(tmp_path / "g.jpg"))
        assert done.returncode == 2 and not (tmp_path / "g.jpg").exists()
        assert done.stderr.splitlines() == [
            f"Error: --output: {tmp_path / 'g.jpg'} ends in .jpg; the chart is written as .png or .svg"
        ]


def test_status_records_dead_runs_as_abandoned_and_shows_the_checkpoint(tmp_path: Path, db_url: str) -> None:
    with history(db_url) as h:
        # acme-page's credentials work again, but its next pass stops after one page: a checkpoint.
        h.sim.clear_faults()
        h.sim.inject(Fault.error("errors/feature_not_implemented"), account_id=LI.account_id, on_page=1)
        h.sync("full", names=[LI.name])
        now = datetime.now(UTC)
        with h.engine.begin() as conn:
            li, ig = h.ids[LI.name], h.ids[IG.name]
            resumed = passes.load_checkpoint(conn, li)
            assert resumed is not None
            # A process that resumed acme-page's pass and was killed: its run says `running`, no lease.
            dead = runs.start_run(conn, li, resumed.pass_id, "full", "killed-process", now)
            # A process syncing brand-ig right now: its lease is live.
            assert leases.acquire_lease(conn, IG.account_id, "busy-process", now, ttl=600)
            busy = runs.start_run(
                conn, ig, passes.start_pass(conn, ig, "full", now), "full", "busy-process", now
            )
        config = config_for(tmp_path, h)

        li_state, ig_state = json_array(config, "status")
        [(dead_status, dead_finished)] = h.query(
            "SELECT status, finished_at FROM sync_runs WHERE id = :i", i=dead
        )
        assert dead_status == "abandoned" and dead_finished is not None
        assert li_state["last_run"]["id"] == dead and li_state["last_run"]["status"] == "abandoned"
        checkpoint = h.checkpoint(LI.name)
        assert checkpoint is not None and checkpoint.pages == 1
        assert li_state["checkpoint"] == {
            "pages": 1,
            "updated_at": li_state["checkpoint"]["updated_at"],
        }
        assert when(li_state["checkpoint"]["updated_at"]) == utc(checkpoint.updated_at)
        assert li_state["attention"] is None

        assert ig_state["last_run"]["id"] == busy and ig_state["last_run"]["status"] == "running"
        assert h.query("SELECT status FROM sync_runs WHERE id = :i", i=busy)[0].status == "running"
        assert ig_state["lease"]["holder"] == "busy-process"
        assert when(ig_state["lease"]["expires_at"]) == now + timedelta(seconds=600)

        table = ok(config, "status")
        assert "page 1, saved" in table and "held by busy-process" in table


@pytest.mark.integration  # the real command in a subprocess
def test_status_on_a_sqlite_file_prints_what_sqlalchemy_reads(tmp_path: Path, sqlite_url: str) -> None:
    """`status` on a `sqlite:///PATH` URL reads through the sqlite3 driver (store/sqlite_status.py);
    any other SQLite URL (here with a query string) through SQLAlchemy. The output is the same."""
    with history(sqlite_url) as h:
        now = datetime.now(UTC)
        with h.engine.begin() as conn:
            ig = h.ids[IG.name]
            assert leases.acquire_lease(conn, IG.account_id, "busy-process", now, ttl=600)
            runs.start_run(conn, ig, passes.start_pass(conn, ig, "full", now), "full", "busy-process", now)
        driver_only = write_config(tmp_path / "a.toml", sqlite_url, h.sim.base_url, [LI, IG])
        through_sqlalchemy = write_config(
            tmp_path / "b.toml", f"{sqlite_url}?timeout=30", h.sim.base_url, [LI, IG]
        )
        for fmt in ("table", "json"):
            assert ok(driver_only, "status", "--format", fmt) == ok(
                through_sqlalchemy, "status", "--format", fmt
            )


READING_COMMANDS = [
    ["status"],
    ["status", "--format", "json"],
    ["runs"],
    ["runs", "--source", LI.name],
    ["report", "unfollows", "--format", "json"],
    ["report", "growth", "--format", "csv"],
    ["report", "changes", "--format", "json"],
]


def test_reading_commands_on_a_database_without_the_schema_say_so_and_create_nothing(
    tmp_path: Path, db_url: str
) -> None:
    """docs/semantics.md#read-only-commands: `status`, `runs` and `report` only read. SQLite creates a
    file as it connects, so on SQLite the file must still not exist afterwards; on PostgreSQL, no table
    may."""
    config = write_config(tmp_path / "followersync.toml", db_url, "http://127.0.0.1:9", [LI, IG])
    shown = sa.make_url(db_url).render_as_string(hide_password=True)
    for args in READING_COMMANDS:
        done = cli(config, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stdout == "", args
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [
            f"Error: database.url: {shown} has no followersync schema yet: "
            "run `followersync migrate` or `followersync sync`"
        ], (args, done.stderr)
    if db_url.startswith("sqlite"):
        assert list(tmp_path.iterdir()) == [config]  # no database file, no -wal or -shm beside it
    else:
        engine = sa.create_engine(db_url)
        try:
            assert sa.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_a_file_that_is_not_a_database_is_one_line_and_left_as_it_was(tmp_path: Path) -> None:
    """A `database.url` naming some other file (a typo, a log file): every command says so in one
    line, exit 2, and the file is not touched."""
    other = tmp_path / "notes.db"
    other.write_text("not a database: somebody's notes\n")
    config = write_config(tmp_path / "followersync.toml", f"sqlite:///{other}", "http://127.0.0.1:9", [LI])
    for args in [*READING_COMMANDS[:3], ["migrate"]]:
        done = cli(config, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.splitlines() == [
            f"Error: database.url: cannot use sqlite:///{other}: file is not a database"
        ], (args, done.stderr)
    assert other.read_text() == "not a database: somebody's notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["followersync.toml", "notes.db"]


def test_a_migrated_database_gives_empty_reports_and_gets_no_source_rows(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path / "followersync.toml", db_url, "http://127.0.0.1:9", [LI, IG])
    assert cli(config, "migrate").returncode == 0
    states = json_array(config, "status")
    assert [
        (s["source"], s["provider"], s["account_id"], s["followers"], s["last_run"], s["checkpoint"])
        for s in states
    ] == [
        (LI.name, "linkedin", LI.account_id, 0, None, None),
        (IG.name, "instagram", IG.account_id, 0, None, None),
    ]
    assert all(s["attention"] is None and s["last_full_pass_at"] is None for s in states)
    assert "last run         never" in ok(config, "status")
    assert json_array(config, "runs") == []
    assert csv_rows(config, "report", "unfollows") == [
        ["source", "follower_id", "name", "handle", "unfollowed_at"]
    ]
    assert csv_rows(config, "report", "changes") == [
        ["source", "follower_id", "field", "old_value", "new_value", "changed_at"]
    ]
    assert ok(config, "report", "changes") == "no profile changes\n"
    chart = tmp_path / "growth.png"
    out = ok(config, "report", "growth", "--format", "png", "--output", str(chart))
    assert "no chart written" in out and not chart.exists()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM sources")).scalar_one() == 0
    finally:
        engine.dispose()


def test_status_with_another_configuration_leaves_the_sources_as_they_are(
    tmp_path: Path, db_url: str
) -> None:
    """`status --config other.toml`: a same-named source pointing elsewhere, one left out, one new.
    The sources table stays exactly as the syncs left it; status shows what the database knows."""
    with history(db_url) as h:
        before = h.query("SELECT * FROM sources ORDER BY id")
        elsewhere = instagram_source(name=LI.name, account_id="acc_other", user_id="u_9")
        newcomer = linkedin_source(name="newcomer", account_id="acc_new")
        other = write_config(
            tmp_path / "other.toml", h.settings.database.url, h.sim.base_url, [elsewhere, newcomer]
        )
        states = json_array(other, "status")
        table = ok(other, "status")
        assert h.query("SELECT * FROM sources ORDER BY id") == before
    assert [(s["source"], s["provider"], s["account_id"], s["user_id"]) for s in states] == [
        (LI.name, "linkedin", LI.account_id, None),
        (newcomer.name, "linkedin", newcomer.account_id, None),
    ]
    assert states[0]["followers"] == 253 and states[0]["last_run"]["status"] == "failed"
    assert (states[1]["followers"], states[1]["last_run"]) == (0, None)
    assert table.startswith(LI.name) and "\n\nnewcomer  (linkedin, account acc_new)" in table


BAD_ARGUMENTS = [
    (["runs", "--source", "nope"], 'no source named "nope"'),
    (["report", "unfollows", "--source", "nope"], 'no source named "nope"'),
    (["report", "growth", "--source", "nope"], 'no source named "nope"'),
    (["report", "unfollows", "--since", "last tuesday"], "'last tuesday' is not a date"),
    (["report", "unfollows", "--since", "2026-02-30"], "is not a date"),
    (["report", "changes", "--source", "nope"], 'no source named "nope"'),
    (["report", "changes", "--since", "yesterday"], "'yesterday' is not a date"),
    (["report", "changes", "--format", "png"], "--format"),
    (["report", "growth", "--days", "0"], "--days"),
    (["runs", "--limit", "0"], "--limit"),
    (["status", "--format", "csv"], "--format"),
    (["report", "growth", "--format", "csv", "--output", "x.csv"], "--output"),
    (["report", "growth", "--format", "png", "--output", "{tmp}/no/g.png"], "--output"),
]


@pytest.fixture(scope="module")
def migrated_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration of `LI` on a migrated SQLite file: a database to read, so that what fails is
    the arguments. Only read by the tests that take it."""
    folder = tmp_path_factory.mktemp("bad-arguments")
    url = f"sqlite:///{folder / 'followersync.db'}"
    config = write_config(folder / "followersync.toml", url, "http://127.0.0.1:9", [LI])
    assert cli(config, "migrate").returncode == 0
    return config


def assert_one_line_usage_error(done: subprocess.CompletedProcess[str], args: list[str], says: str) -> None:
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert says in done.stderr, (args, done.stderr)
    assert done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr


@pytest.mark.parametrize(("args", "says"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_exit_2_with_one_line(migrated_config: Path, args: list[str], says: str) -> None:
    """Each bad argument, through click's CliRunner in this process (the arguments alone decide)."""
    args = [a.replace("{tmp}", str(migrated_config.parent)) for a in args]
    done = invoke_cli(args, config=migrated_config)
    assert API_KEY not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert_one_line_usage_error(done, args, says)


def test_a_bad_argument_exits_2_with_one_line_through_the_real_entry_point(migrated_config: Path) -> None:
    """The same through `python -m followersync` in a subprocess: the exit code and the one line are
    what a user's shell gets, not only what click's runner reports."""
    args, says = BAD_ARGUMENTS[0]
    done = run_cli_process(args, config=migrated_config)
    assert "Traceback" not in done.stderr, done.stderr
    assert_one_line_usage_error(done, args, says)
