"""The tables people read, for real names: the columns after 김민준, 佐藤 花子 or a flag start where
their header does, measured in display columns (what a terminal shows, rich.cells.cell_len), not in
code points, and a long name is cut to its column's width. The real command line (in this process
through click, `cli_in_process`), against the simulator.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from followersync import text
from followersync.cli.render import LINK_WIDTH, TEXT_WIDTH
from followersync.simulator import Simulator
from tests.harness import query, run_cli, start_cli, wait_until, write_config
from tests.sim_support import IG, LI, MakeSim

pytestmark = pytest.mark.cli_in_process

LONG_NAME = "Dr. María José Fernández de la Cruz y Santos, Head of Growth 📈 at Müller & Söhne GmbH, ex-Hooli"
# Two columns a character (Hangul, kana and kanji, emoji, a flag of two regional indicators), none for
# a combining accent; brackets and colons that rich would take for markup or an emoji code.
NAMES = [
    "김민준",
    "佐藤 花子",
    "Hana Sato 🇯🇵",
    "Growth 📈 Team",
    "Rene\u0301e Dubois [she/her] :rocket:",
    LONG_NAME,
]


def spans(line: str, cells: Sequence[str]) -> list[tuple[int, int]]:
    """Where each of `cells` (in order along `line`) starts and ends, in display columns."""
    found, at = [], 0
    for cell in cells:
        i = line.index(cell, at)
        start = cell_len(line[:i])
        found.append((start, start + cell_len(cell)))
        at = i + len(cell)
    return found


def assert_lined_up(lines: Sequence[str], cells: Sequence[Sequence[str]], numeric: Sequence[bool]) -> None:
    """`lines` (a table, header first) shows `cells` row by row, each cell whole on its line: text
    starts and numbers end at the same display column as their header, two spaces after the widest
    cell of the column before, and no line ends in a space."""
    assert len(lines) == len(cells)
    assert all(line == line.rstrip() for line in lines)
    table = [spans(line, row) for line, row in zip(lines, cells, strict=True)]
    for j, right in enumerate(numeric):
        edges = {row[j][1] if right else row[j][0] for row in table}
        assert len(edges) == 1, (j, lines)
    for j in range(len(numeric) - 1):
        gap = min(row[j + 1][0] for row in table) - max(row[j][1] for row in table)
        assert gap == 2, (j, lines)


def ok(config: Path, *args: str) -> str:
    done = run_cli(args, config=config)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def json_of(config: Path, *args: str) -> list[dict[str, Any]]:
    value = json.loads(ok(config, *args, "--format", "json"))
    assert isinstance(value, list)
    return value


def shown(when: str) -> str:
    """A time as a table shows it: UTC to the second."""
    return when[:19].replace("T", " ")


def summary_cells(stdout: str) -> list[list[str]]:
    """The sync summary's cells: twelve columns without spaces, then the note (which has some)."""
    return [line.split(maxsplit=12) for line in stdout.splitlines()]


SUMMARY_HEADER = [
    "source", "status", "mode", "pages", "followers", "listed", "new", "missing", "lost", "withheld",
    "coerced", "requests", "note",
]  # fmt: skip
SUMMARY_NUMERIC = [False] * 3 + [True] * 9 + [False]


def test_unfollows_changes_and_the_sync_summary_line_up_by_display_width(
    tmp_path: Path, sqlite_url: str, make_sim: MakeSim
) -> None:
    sim: Simulator = make_sim(seed=5, accounts={LI: 30, IG: 7})
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [LI, IG])

    first = ok(config, "sync")
    header, *rows = summary_cells(first)
    assert header == SUMMARY_HEADER
    assert [(r[0], r[1], r[4], r[5], r[12]) for r in rows] == [
        (LI.name, "succeeded", "30", "30", "30 followers recorded (baseline)"),
        (IG.name, "succeeded", "7", "7", "7 followers recorded (baseline)"),
    ]
    assert_lined_up(first.splitlines(), [header, *rows], SUMMARY_NUMERIC)

    renamed = sim.follower_ids(LI.account_id)[: len(NAMES)]
    before = {f["id"]: f["name"] for f in sim.followers(LI.account_id)}
    for follower_id, name in zip(renamed, NAMES, strict=True):
        sim.change_profile(LI.account_id, follower_id, name=name)
    ok(config, "sync", "--source", LI.name, "--mode", "full")
    sim.unfollow(LI.account_id, renamed)
    last = ok(config, "sync", "--source", LI.name, "--mode", "full", "--accept-unfollows")
    header, row = summary_cells(last)
    # The source keeps 24 followers, the 24 the pass listed; the 6 it did not list are unfollowed.
    assert (row[0], row[1], row[2], row[4], row[5], row[8]) == (LI.name, "succeeded", "full", "24", "24", "6")
    assert row[-1] == "6 not listed: unfollowed at once (--accept-unfollows)"
    assert_lined_up(last.splitlines(), [header, row], SUMMARY_NUMERIC)

    gone = json_of(config, "report", "unfollows")
    assert sorted(u["name"] for u in gone) == sorted(NAMES)
    table = ok(config, "report", "unfollows").splitlines()
    assert_lined_up(
        table,
        [
            ["unfollowed (UTC)", "source", "name", "handle", "follower id"],
            *(
                [
                    shown(u["unfollowed_at"]),
                    u["source"],
                    text.cell(u["name"], TEXT_WIDTH),
                    text.cell(u["handle"], LINK_WIDTH),
                    text.cell(u["follower_id"], LINK_WIDTH),
                ]
                for u in gone
            ),
        ],
        [False] * 5,
    )
    # 96 characters cut to 40 display columns, the last of them the ellipsis; the JSON above is whole.
    assert any("  Dr. María José Fernández de la Cruz y S…  " in line for line in table)
    assert not any(LONG_NAME in line for line in table)

    changes = json_of(config, "report", "changes")
    assert sorted((c["follower_id"], c["field"], c["old_value"], c["new_value"]) for c in changes) == sorted(
        (f, "name", before[f], name) for f, name in zip(renamed, NAMES, strict=True)
    )
    table = ok(config, "report", "changes").splitlines()
    assert_lined_up(
        table,
        [
            ["changed (UTC)", "source", "follower id", "field", "old", "new"],
            *(
                [
                    shown(c["changed_at"]),
                    c["source"],
                    c["follower_id"],
                    c["field"],
                    text.cell(c["old_value"], LINK_WIDTH),
                    text.cell(c["new_value"], LINK_WIDTH),
                ]
                for c in changes
            ),
        ],
        [False] * 6,
    )


def test_the_summary_shows_the_sources_followers_and_what_the_run_listed_apart(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """`followers` is the source's followers after the run; `listed` what this run listed. An
    incremental pass of a large account lists a page or two of it (issue #22)."""
    sim: Simulator = make_sim(seed=5, accounts={LI: 1000})
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    ok(config, "sync")
    sim.follow(LI.account_id, 3)
    header, row = summary_cells(ok(config, "sync", "--mode", "incremental"))
    assert header == SUMMARY_HEADER
    cells = dict(zip(header, row, strict=False))  # no note: one cell fewer
    # The new three are on the first page (newest first); the second brings nobody new: it stops.
    assert {k: cells[k] for k in ("mode", "pages", "followers", "listed", "new")} == {
        "mode": "incremental",
        "pages": "2",
        "followers": "1003",
        "listed": "200",
        "new": "3",
    }


def test_a_resumed_baseline_says_it_recorded_more_and_how_many_in_all(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    sim: Simulator = make_sim(seed=5, accounts={LI: 3000}, latency=0.05)  # 30 pages: a second or two
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    stopped = start_cli(["sync"], config=config)
    try:
        wait_until(db_url, "SELECT 1 FROM sync_checkpoints WHERE pages >= 3")
    finally:
        stopped.send_signal(signal.SIGTERM)  # the page in flight commits, the run ends deferred
        stopped.communicate(timeout=60)
    [(recorded,)] = query(db_url, "SELECT count(*) FROM followers")
    assert 300 <= recorded < 3000
    sim.set_latency(0)
    _, row = summary_cells(ok(config, "sync"))
    cells = dict(zip(SUMMARY_HEADER, row, strict=True))
    assert (cells["status"], cells["followers"]) == ("succeeded", "3000")
    assert cells["note"] == f"{3000 - recorded:,} more followers recorded (baseline, resumed: 3,000 in all)"
