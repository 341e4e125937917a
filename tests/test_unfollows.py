"""Unfollows are confirmed, not guessed: missing first, unfollowed only when passes in a row agree.

Through the simulator on a real socket, on SQLite and PostgreSQL. The listing is offset-paged, so a
follower who leaves mid-pass makes the pass skip one who never left (`Fault.departure`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from followersync.simulator import Fault, Simulator
from tests.harness import Harness, run_cli, write_config
from tests.sim_support import MakeSim, linkedin_source

pytestmark = pytest.mark.cli_in_process

LI = linkedin_source(account_id="acc_li_unf")
FOLLOWERS = 250  # three pages of 100


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=11, accounts={LI: FOLLOWERS})


@pytest.fixture
def h(db_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = Harness(db_url, sim, [LI])
    yield harness
    harness.close()


def missing(h: Harness) -> dict[str, object]:
    rows = h.query("SELECT follower_id, missing_since FROM v_followers WHERE missing_since IS NOT NULL")
    return {r.follower_id: r.missing_since for r in rows}


def unfollows(h: Harness) -> dict[str, str]:
    rows = h.query("SELECT follower_id, occurred_at FROM v_follow_events WHERE event = 'unfollow'")
    return {r.follower_id: str(r.occurred_at) for r in rows}


def test_a_follower_skipped_by_a_mid_pass_departure_is_never_an_unfollower(
    h: Harness, sim: Simulator
) -> None:
    h.sync()
    left, skipped = [], []
    for _ in range(4):  # a departure in every pass, each skipping someone who never left
        sim.inject(Fault.departure(), account_id=LI.account_id, on_page=1)
        [result] = h.sync("full")
        assert result.status == "succeeded"
        [departure] = sim.departures[-1:]
        assert departure.skipped is not None and departure.skipped in sim.follower_ids(LI.account_id)
        left.append(departure.left)
        skipped.append(departure.skipped)
        h.advance(hours=1)
    h.sync("full")  # two quiet passes: the last leaver missed once, then confirmed
    h.advance(hours=1)
    h.sync("full")

    assert set(unfollows(h)) == set(left)  # the real leavers, and nobody else, ever
    never_left = set(skipped) - set(left)  # a skipped follower may well leave in a later pass
    assert never_left and not never_left & set(unfollows(h))
    assert h.events(LI.name, "follow") == []  # nobody "came back" either
    assert h.active(LI.name) == set(sim.follower_ids(LI.account_id))
    assert missing(h) == {}


def test_the_real_leaver_is_confirmed_on_the_next_pass_dated_from_the_first_miss(
    h: Harness, sim: Simulator
) -> None:
    h.sync()
    sim.inject(Fault.departure(), account_id=LI.account_id, on_page=2)
    h.sync("full")  # lists the leaver before they leave: nobody missing yet but the skipped one
    [departure] = sim.departures
    assert set(missing(h)) == {departure.skipped}

    h.advance(hours=1)
    [second] = h.sync("full")  # the skipped one is listed again; the leaver is missed for the first time
    assert (second.missing, second.lost) == (1, 0)
    first_miss = missing(h)
    assert set(first_miss) == {departure.left}
    assert h.events(LI.name, "unfollow") == []

    h.advance(hours=1)
    [third] = h.sync("full")
    assert (third.missing, third.lost) == (0, 1)
    assert unfollows(h) == {departure.left: str(first_miss[departure.left])}
    [row] = h.query("SELECT unfollowed_at FROM v_followers WHERE follower_id = :f", f=departure.left)
    assert str(row.unfollowed_at) == str(first_miss[departure.left])
    run = h.runs(LI.name)[-1]
    assert (run.followers_missing, run.followers_lost) == (0, 1)


def test_a_missing_follower_listed_again_leaves_no_trace(h: Harness, sim: Simulator) -> None:
    h.sync()
    [gone] = sim.unfollow(LI.account_id, count=1)
    [result] = h.sync("full")
    assert result.missing == 1 and set(missing(h)) == {gone}
    sim.refollow(LI.account_id, [gone])
    [incremental] = h.sync("incremental")  # any page that lists them clears it, incremental too
    assert (incremental.mode, incremental.new) == ("incremental", 0)
    assert missing(h) == {}
    h.sync("full")
    h.sync("full")
    assert [e for f, e in h.events(LI.name) if f == gone] == ["baseline"]
    assert sum(r.gained + r.lost for r in h.query("SELECT * FROM v_follower_growth_daily")) == 0
    assert [r.followers_lost for r in h.runs(LI.name)] == [0, 0, 0, 0, 0]


def test_one_confirmation_marks_the_unfollow_at_once(db_url: str, sim: Simulator) -> None:
    h = Harness(db_url, sim, [LI], unfollow_confirmations=1)
    try:
        h.sync()
        gone = sim.unfollow(LI.account_id, count=3)
        [result] = h.sync("full")
        assert (result.missing, result.lost) == (3, 3)
        assert set(unfollows(h)) == set(gone)
        assert missing(h) == {}
        [run] = h.runs(LI.name)[-1:]
        assert str(run.finished_at) == next(iter(unfollows(h).values()))
    finally:
        h.close()


def test_the_guard_withholds_the_marking_and_accept_unfollows_marks_everyone_at_once(
    db_url: str, sim: Simulator
) -> None:
    h = Harness(db_url, sim, [LI], unfollow_guard_fraction=0.25, unfollow_guard_min=25)
    try:
        h.sync()
        [early] = sim.unfollow(LI.account_id, count=1)
        h.sync("full")
        assert set(missing(h)) == {early}

        sim.inject(Fault.truncate(), account_id=LI.account_id, on_page=0)  # lists 100 of 249
        [withheld] = h.sync("full")
        assert (withheld.status, withheld.missing, withheld.lost, withheld.unfollows_withheld) == (
            "succeeded",
            0,
            0,
            149,
        )
        run = h.runs(LI.name)[-1]
        assert (run.followers_missing, run.followers_lost, run.unfollows_withheld) == (0, 0, 149)
        # A glitching pass is no evidence: the one already missing is not confirmed by it either.
        assert set(missing(h)) == {early} and unfollows(h) == {}
        assert len(h.active(LI.name)) == FOLLOWERS

        sim.inject(Fault.truncate(), account_id=LI.account_id, on_page=0)
        [accepted] = h.sync("full", accept_unfollows=True)
        # 149 newly missing, and the one missing since before: all 150 not listed are unfollowed.
        assert (accepted.missing, accepted.lost, accepted.unfollows_withheld) == (149, 150, 0)
        assert len(h.active(LI.name)) == 100 and missing(h) == {}
        done = unfollows(h)
        assert len(done) == 150
        first_miss = str(h.runs(LI.name)[1].finished_at)
        assert done[early] == first_miss  # the one already missing keeps the date of their first miss
        assert {at for f, at in done.items() if f != early} == {str(h.runs(LI.name)[-1].finished_at)}
    finally:
        h.close()


def test_auto_runs_a_confirmation_pass_soon_and_incremental_when_nobody_is_missing(
    h: Harness, sim: Simulator
) -> None:
    h.sync()
    sim.follow(LI.account_id, 2)
    [quiet] = h.sync()
    assert quiet.mode == "incremental"  # nobody missing: the daily full pass is far off

    h.advance(hours=25)
    sim.unfollow(LI.account_id, count=2)
    [full] = h.sync()
    assert (full.mode, full.missing) == ("full", 2)
    h.advance(minutes=30)
    [between] = h.sync()
    assert between.mode == "incremental"  # confirm_after (1 h) has not passed
    h.advance(minutes=31)
    [confirming] = h.sync()
    assert (confirming.mode, confirming.lost) == ("full", 2)
    h.advance(hours=2)
    [after] = h.sync()
    assert after.mode == "incremental"  # nobody missing any more: back to the daily rhythm


def test_status_shows_the_missing_and_when_they_will_be_confirmed(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI])
    first = run_cli(["sync"], config=config)
    assert first.returncode == 0, first.stderr
    assert f"{FOLLOWERS} followers recorded (baseline)" in first.stdout
    [baseline] = json.loads(run_cli(["runs", "--format", "json"], config=config).stdout)
    assert baseline["followers_new"] == 0

    sim.unfollow(LI.account_id, count=3)
    second = run_cli(["sync", "--mode", "full"], config=config)
    assert "3 missing: unfollows only if the next full pass misses them too" in second.stdout
    [state] = json.loads(run_cli(["status", "--format", "json"], config=config).stdout)
    assert (state["followers"], state["missing"]) == (FOLLOWERS, 3)
    last_full = state["last_full_pass_at"]
    assert state["missing_since"] == last_full
    due = state["confirmation_due"]
    assert due is not None and due > last_full
    table = run_cli(["status"], config=config).stdout
    assert "3 followers missing since" in table and "confirmation pass due" in table
