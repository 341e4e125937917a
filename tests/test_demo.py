"""`followersync demo` (what `make demo` runs): completes on its own and shows its reports."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import cli_env

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket


def test_demo_runs_end_to_end_without_network_or_key(tmp_path: Path) -> None:
    env = cli_env()
    env.pop("POSTPRESS_API_KEY")
    # As `make demo` runs it: the venv's program, whose directory is not on PATH.
    program = Path(sys.executable).parent / "followersync"
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != program.parent)
    done = subprocess.run(
        [str(program), "demo", "--dir", str(tmp_path / "demo"), "--days", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ("followersync status", "report unfollows", "report changes", "report growth"):
        assert heading in out
    chart = tmp_path / "demo" / "growth.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(chart) in out
    with sqlite3.connect(tmp_path / "demo" / "followersync-demo.db") as db:
        runs = db.execute("SELECT count(*), min(status), max(status) FROM sync_runs").fetchone()
        days = db.execute("SELECT count(DISTINCT day) FROM v_follower_growth_daily").fetchone()[0]
        lost = db.execute("SELECT count(*) FROM v_followers WHERE NOT is_active").fetchone()[0]
        # A follower who never left, skipped by the listing when someone left mid-pass on day 2, was
        # never unfollowed: no one has an unfollow event followed by a follow event.
        false_unfollows = db.execute(
            "SELECT count(*) FROM v_follow_events u JOIN v_follow_events f ON f.follower_id = u.follower_id"
            " AND f.source = u.source AND f.event = 'follow' AND f.occurred_at > u.occurred_at"
            " WHERE u.event = 'unfollow'"
        ).fetchone()[0]
        missing = db.execute("SELECT count(*) FROM v_followers WHERE missing_since IS NOT NULL").fetchone()[0]
        changes = db.execute("SELECT provider, field FROM v_profile_changes ORDER BY provider").fetchall()
        undelivered = db.execute(
            "SELECT count(*) FROM notification_outbox WHERE delivered_at IS NULL"
        ).fetchone()
    assert runs == (10, "succeeded", "succeeded")  # two sources, four days, then the confirmation pass
    assert days == 4
    assert lost > 0
    assert (false_unfollows, missing) == (0, 0)
    assert "shifted and skipped" in out and "confirmation pass" in out
    # Day 3: a new headline and a new username, in the history, the report and the chat webhook's lines.
    assert changes == [("instagram", "username"), ("linkedin", "headline")]
    webhook = [line for line in out.splitlines() if line.startswith("  chat webhook: ")]
    assert len(webhook) == 2 and all("1 profile change: " in line for line in webhook), webhook
    # The two sources sync side by side: their payloads arrive in either order.
    (linkedin,) = [line for line in webhook if "chat webhook: acme-linkedin: " in line]
    assert "(headline)" in linkedin
    assert undelivered == (0,)
    assert_the_narration_says_what_the_growth_report_says(out, tmp_path / "demo" / "followersync-demo.db")
    # The closing hints work as printed, from the same shell.
    hints = [line.strip() for line in out.splitlines() if line.startswith(f"  {program} ")]
    assert len(hints) == 2, out
    for hint in hints:
        again = subprocess.run(
            shlex.split(hint), capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
        )
        assert again.returncode == 0, (hint, again.stderr)


def assert_the_narration_says_what_the_growth_report_says(out: str, database: Path) -> None:
    """Each day's narrated churn is that day's `gained` in the growth report, and the unfollows a pass
    confirms are `lost` on the day they are dated, the previous pass's: an unfollow is dated from its
    first miss, a day before the pass that confirms it (issue #22: the narration counted them on the
    day they were confirmed, a day after the report)."""
    with sqlite3.connect(database) as db:
        growth = {(s, d): (g, lost) for s, d, g, lost in db.execute(
            "SELECT source, day, gained, lost FROM v_follower_growth_daily"
        )}  # fmt: skip
    narrated_gained = {
        (source, day): int(gained)
        for day, churn in re.findall(r"^Day \d+ \((\S+)\): churn (.*?) ->", out, re.MULTILINE)
        for source, gained in re.findall(r"(acme-\w+) \+(\d+)", churn)
    }
    confirmed = re.findall(
        r"(acme-\w+) (?:succeeded \(\w+, \d+ missing, )?(\d+) unfollows confirmed dated (\d{4}-\d\d-\d\d)",
        out,
    )
    # Days 2 to 4, two sources; then the passes of days 2 to 4 and the confirmation pass.
    assert len(narrated_gained) == 6 and len(confirmed) == 8, out
    assert narrated_gained == {key: growth[key][0] for key in narrated_gained}
    narrated_lost = {(source, day): int(n) for source, n, day in confirmed}
    assert sum(narrated_lost.values()) > 0
    # Every day's `lost` is narrated (day 1, the baseline, has none), and as many as the report says.
    assert narrated_lost == {key: lost for key, (_, lost) in growth.items() if key in narrated_lost}
    assert sum(lost for _, lost in growth.values()) == sum(narrated_lost.values())
