"""`followersync demo` (what `make demo` runs): completes on its own and shows its reports."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.harness import cli_env


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
    # The closing hints work as printed, from the same shell.
    hints = [line.strip() for line in out.splitlines() if line.startswith(f"  {program} ")]
    assert len(hints) == 2, out
    for hint in hints:
        again = subprocess.run(
            shlex.split(hint), capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
        )
        assert again.returncode == 0, (hint, again.stderr)
