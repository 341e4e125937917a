"""What followers write never reaches a terminal, a spreadsheet or a chat as code (docs/semantics.md,
"What followersync prints"): names with escape sequences, bells, line breaks, tabs, bidi overrides,
300 characters, formulas and chat mentions, through every report format, `status`, `runs`, `sync`,
a console log line and a notification; the tables also through a real terminal (a pty).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from followersync import logging as fslogging
from followersync import text
from followersync.cli.render import LINK_WIDTH, TEXT_WIDTH
from followersync.config import HookConfig
from followersync.notify.payloads import summary
from followersync.simulator import Fault, Simulator
from followersync.sync.fleet import Fleet
from tests.harness import Harness, cli_env, run_cli, write_config
from tests.receiver import Receiver
from tests.sim_support import IG, LI, MakeSim
from tests.test_cli_tables import assert_lined_up, shown

LONG = "Looooong " + "x" * 291  # 300 characters
FORMULA = '=HYPERLINK("http://evil.example/","click")'
PING = "<!channel> @here [click](http://evil.example) `rm -rf /`"
EVIL = [
    "Evil\x1b[31mRED\x1b[0m\x1b]0;pwned\x07",  # CSI colour, OSC window title ended by BEL
    "Bell\x07 and carriage\rreturn",
    "Line\none\ttab\r\nthree",
    "Admin \u202egnp.exe\u202c and \u2066isolate\u2069",  # right-to-left override, isolates
    "C1 \x9b2J csi \x9d0;t\x9c",  # 8-bit CSI and OSC
    LONG,
    FORMULA,
    PING,
    "+1 555 0100",
    "-2+3",
    "@SUM(A1)",
    "\tTabbed",
]
IG_USERNAME = "\x1b[2Jcleared\x1b[H"  # clears the screen, cursor home
# Never raw in what people read: controls (a newline only ends a line), C1, bidi controls.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ERROR_TYPE = "errors/odd\x1b]0;pwned\x07"
ERROR_TITLE = "Denied\x1b[2J\nfor <!channel>"


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def ok(config: Path, *args: str) -> str:
    done = run_cli(args, config=config)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def clean_lines(output: str) -> list[str]:
    """`output`, which people read: no raw control or bidi character anywhere, then its lines."""
    assert RAW.search(output) is None, ascii(RAW.search(output))
    return output.splitlines()


def csv_of(config: Path, *args: str) -> list[dict[str, str]]:
    """The CSV a command writes, read as bytes: a text-mode pipe would turn a name's CR into a LF."""
    argv = [sys.executable, "-m", "followersync", "--config", str(config), *args, "--format", "csv"]
    done = subprocess.run(argv, capture_output=True, timeout=120, env=cli_env())
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8"), newline="")))


def evil_followers(tmp_path: Path, db_url: str, sim: Simulator) -> Path:
    """A database whose unfollows and profile changes are all followers with EVIL names (LinkedIn) and
    a screen-clearing username (Instagram), each renamed, then gone."""
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI, IG])
    ok(config, "sync")
    renamed = sim.follower_ids(LI.account_id)[: len(EVIL)]
    for follower_id, name in zip(renamed, EVIL, strict=True):
        sim.change_profile(LI.account_id, follower_id, name=name)
    [ig_follower] = sim.follower_ids(IG.account_id)[:1]
    sim.change_profile(IG.account_id, ig_follower, username=IG_USERNAME)
    ok(config, "sync", "--mode", "full")
    sim.unfollow(LI.account_id, renamed)
    sim.unfollow(IG.account_id, [ig_follower])
    ok(config, "sync", "--mode", "full", "--accept-unfollows")
    return config


def test_followers_own_text_is_inert_in_every_report_and_exact_in_json(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    sim = make_sim(seed=7, accounts={LI: 20, IG: 6})
    config = evil_followers(tmp_path, db_url, sim)

    # report unfollows: JSON exact, CSV exact but formulas neutralised (--csv-raw: exact), table inert.
    gone = json.loads(ok(config, "report", "unfollows", "--format", "json"))
    assert sorted(u["name"] for u in gone if u["source"] == LI.name) == sorted(EVIL)
    [ig_gone] = [u for u in gone if u["source"] == IG.name]
    assert ig_gone["handle"] == IG_USERNAME
    safe = csv_of(config, "report", "unfollows")
    assert sorted(r["name"] for r in safe if r["source"] == LI.name) == sorted(map(spreadsheet_safe, EVIL))
    assert {r["name"] for r in safe} >= {"'" + FORMULA, "'\tTabbed", "'@SUM(A1)", PING, LONG}
    raw = csv_of(config, "report", "unfollows", "--csv-raw")
    assert [(r["name"], r["handle"]) for r in raw] == [(u["name"], u["handle"] or "") for u in gone]

    table = clean_lines(ok(config, "report", "unfollows"))
    assert len(table) == 1 + len(gone)  # no name split a row
    assert_lined_up(
        table,
        [
            ["unfollowed (UTC)", "source", "name", "handle", "follower id"],
            *(
                [
                    shown(u["unfollowed_at"]),
                    u["source"],
                    text.cell(u["name"] or "-", TEXT_WIDTH),
                    text.cell(u["handle"] or "-", LINK_WIDTH),
                    text.cell(u["follower_id"], LINK_WIDTH),
                ]
                for u in gone
            ),
        ],
        [False] * 5,
    )
    joined = "\n".join(table)
    assert "  Evil\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07  " in joined  # shown, not obeyed
    assert "Line one tab three" in joined  # the line breaks and tab, one space each
    assert "  Admin \\u202egnp.exe\\u202c and \\u2066iso…  " in joined  # cut at 40 columns
    assert "\\x1b[2Jcleared\\x1b[H" in joined
    assert "  Looooong " + "x" * 30 + "…  " in joined  # 40 columns, not 300
    assert max(cell_len(line) for line in table) < 220

    # report changes: the renames, old and new values alike.
    changes = json.loads(ok(config, "report", "changes", "--format", "json"))
    new_values = sorted(c["new_value"] for c in changes)
    assert new_values == sorted([*EVIL, IG_USERNAME])
    assert sorted(r["new_value"] for r in csv_of(config, "report", "changes")) == sorted(
        spreadsheet_safe(v) for v in new_values
    )
    raw = csv_of(config, "report", "changes", "--csv-raw")
    assert sorted(r["new_value"] for r in raw) == new_values
    table = clean_lines(ok(config, "report", "changes"))
    assert len(table) == 1 + len(changes)
    assert "Evil\\x1b[31mRED" in "\n".join(table)

    # report growth has no names, but renders its table, and takes --csv-raw like the others.
    growth = clean_lines(ok(config, "report", "growth", "--days", "2"))
    assert growth[0].split() == ["source", "day", "followers", "gained", "lost", "net"]
    assert [line.split()[0] for line in growth[1:]] == [LI.name, IG.name]  # one day of data each
    assert csv_of(config, "report", "growth", "--days", "2", "--csv-raw") == csv_of(
        config, "report", "growth", "--days", "2"
    )
    wrong = run_cli(["report", "growth", "--csv-raw"], config=config)
    assert wrong.returncode == 2 and "--csv-raw: only --format csv writes CSV" in wrong.stderr

    # status, runs and sync show the API's own words: an error type and title with escapes.
    sim.inject(Fault.error(ERROR_TYPE, status=401, title=ERROR_TITLE, detail=None), account_id=LI.account_id)
    failed = run_cli(["sync", "--source", LI.name], config=config)
    assert failed.returncode == 1, failed.stderr
    clean_lines(failed.stdout)
    [state, _] = json.loads(ok(config, "status", "--format", "json"))
    assert state["last_run"]["error_type"] == ERROR_TYPE
    status_lines = clean_lines(ok(config, "status"))
    assert any("failed, errors/odd\\x1b]0;pwned\\x07, started" in line for line in status_lines)
    [run] = json.loads(ok(config, "runs", "--limit", "1", "--format", "json"))
    assert run["error_type"] == ERROR_TYPE and run["error_detail"]["title"] == ERROR_TITLE
    runs_table = clean_lines(ok(config, "runs", "--limit", "1"))
    assert len(runs_table) == 2 and "Denied\\x1b[2J for <!channel>" in runs_table[1]


def read_through_a_terminal(config: Path, *args: str) -> str:
    """The command's stdout as a terminal receives it: a pty, not a pipe, so the program sees a tty."""
    master, slave = os.openpty()
    argv = [sys.executable, "-m", "followersync", "--config", str(config), *args]
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=cli_env()
    ) as process:
        os.close(slave)
        received = bytearray()
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program closed its end
                break
            if not chunk:
                break
            received += chunk
        os.close(master)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    return received.decode("utf-8")


def test_a_real_terminal_gets_the_tables_inert(tmp_path: Path, sqlite_url: str, make_sim: MakeSim) -> None:
    sim = make_sim(seed=8, accounts={LI: 20, IG: 3})
    config = evil_followers(tmp_path, sqlite_url, sim)
    unfollows = read_through_a_terminal(config, "report", "unfollows")
    assert "\x1b" not in unfollows and "\x07" not in unfollows and "\u202e" not in unfollows
    lines = clean_lines(unfollows.replace("\r\n", "\n"))  # the terminal's own line ends
    assert len(lines) == 1 + len(EVIL) + 1
    assert "\\x1b]0;pwned\\x07" in unfollows and "\\x1b[2Jcleared" in unfollows
    changes = read_through_a_terminal(config, "report", "changes")
    assert len(clean_lines(changes.replace("\r\n", "\n"))) == 1 + len(EVIL) + 1
    sim.inject(Fault.error(ERROR_TYPE, status=401, title=ERROR_TITLE), account_id=LI.account_id)
    run_cli(["sync", "--source", LI.name], config=config)
    status = read_through_a_terminal(config, "status")
    assert "\x1b" not in status and "errors/odd\\x1b]0;pwned\\x07" in status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_a_notification_text_is_inert_in_chat_and_its_events_exact(
    db_url: str, make_sim: MakeSim, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FS_TEST_SECRET", "s3cret")
    sim = make_sim(seed=9, accounts={LI: 10})
    h = Harness(db_url, sim, [LI])
    try:
        hook = HookConfig(name="chat", number=1, url=receiver.url, secret_env="FS_TEST_SECRET")
        h.settings = dataclasses.replace(h.settings, notify=(hook,))
        h.sync()
        # Five names a payload's text shows: each batch of new followers, one payload.
        for batch in (EVIL[:5], EVIL[5:10], EVIL[10:]):
            new = sim.follow(LI.account_id, len(batch))
            for follower_id, name in zip(new, batch, strict=True):
                sim.change_profile(LI.account_id, follower_id, name=name)
            h.sync()
        Fleet(h.runner, h.settings).deliver_notifications()
    finally:
        h.close()
    assert len(receiver.ok) == 3
    names = {f["id"]: f["name"] for f in sim.followers(LI.account_id)}
    for delivery in receiver.ok:
        signature = hmac.new(b"s3cret", delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["X-Followersync-Signature"] == f"sha256={signature}"
        payload = delivery.payload
        for event in payload["events"]:
            assert event["name"] == names[event["follower_id"]]  # exact, escapes and all
        chat_text = payload["text"]
        assert RAW.search(chat_text) is None, ascii(chat_text)
        for markup in ("<", ">", "@here", "<!channel>", "](", "`", "\n"):
            assert markup not in chat_text
    texts = " | ".join(d.payload["text"] for d in receiver.ok)
    assert "&lt;!channel&gt; @\u200bhere [click]\u200b(http://evil.example) \u02cbrm -rf /\u02cb" in texts
    assert "Evil\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07" in texts
    assert sorted(e["name"] for d in receiver.ok for e in d.payload["events"]) == sorted(EVIL)


def test_the_summary_escapes_only_what_followers_wrote() -> None:
    withheld = {"event": "withheld", "count": 30, "reason": "history", "command": "followersync sync"}
    change = {"event": "profile_change", "follower_id": "x", "name": "A & B <b>", "field": "name"}
    unfollow = {"event": "unfollow", "follower_id": "y", "name": None, "handle": "@everyone"}
    line = summary("acme-page", [withheld, change, unfollow])
    assert line == (
        "acme-page: 30 unfollows withheld (history); if they really left, run `followersync sync`; "
        "1 unfollowed: @\u200beveryone; 1 profile change: A &amp; B &lt;b&gt; (name)"
    )


def test_a_console_log_line_shows_a_followers_name_escaped() -> None:
    import structlog

    saved = structlog.get_config()
    out = io.StringIO()
    try:
        fslogging.configure("console", stream=out)
        fslogging.get_logger("test").warning("page.odd_item", name=EVIL[0], where=EVIL[3])
    finally:
        structlog.configure(**saved)
    line = out.getvalue()
    assert RAW.search(line) is None, ascii(line)
    assert "Evil\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07" in line and "\\u202egnp.exe" in line


@pytest.mark.parametrize(
    ("raw", "shown_as"),
    [
        ("plain Zoë 김민준 👩‍💻", "plain Zoë 김민준 👩‍💻"),  # every script, emoji with its joiner, untouched
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("bell\x07", "bell\\x07"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("two\r\n\r\nlines\tand\vtab", "two lines and tab"),
        ("\x9b31m", "\\x9b31m"),
        ("\u202aa\u202bb\u202cc\u202dd\u202ee", "\\u202aa\\u202bb\\u202cc\\u202dd\\u202ee"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
        ("sep\u2028para\u2029end", "sep para end"),
        ("lone \ud800", "lone \\ud800"),
    ],
)
def test_printable_and_json_text(raw: str, shown_as: str) -> None:
    assert text.printable(raw) == shown_as
    as_json = text.json_text([raw])
    assert RAW.search(as_json.replace("\n", "")) is None  # only the indentation's newlines
    assert "\u2028" not in as_json and "\u2029" not in as_json
    assert json.loads(as_json) == [raw]  # exact data all the same


def test_cell_cuts_by_display_width() -> None:
    assert text.cell("x" * 40, 40) == "x" * 40
    assert text.cell("x" * 41, 40) == "x" * 39 + "…"
    assert text.cell("김" * 30, 40) == "김" * 19 + "…"  # 39 columns: a wide character is never split
    assert text.cell("김" * 30, 40).__len__() == 20 and cell_len(text.cell("김" * 30, 40)) == 39
    assert text.cell("a\nb" * 100, None) == "a b" * 100


def test_csv_value() -> None:
    for risky in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert text.csv_value(risky) == "'" + risky
        assert text.csv_value(risky, raw=True) == risky
    assert text.csv_value(-3) == -3 and text.csv_value("a=b") == "a=b" and text.csv_value("") == ""
