"""Property: for any sequence of follower lists, some passes with a follower leaving mid-pass (so the
shifted listing skips someone who never left), synced with full passes under any number of required
confirmations, the database says what a simple in-memory model says (active followers, missing ones,
events), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followersync.simulator import Fault, Simulator
from tests.harness import Harness
from tests.sim_support import MakeSim, linkedin_source

SOURCE = linkedin_source(name="model", account_id="acc_model")


class Model:
    """What should be true after each full pass, written as plainly as possible.

    `listed` is what the API actually served in the pass: a follower skipped by a shifted listing is
    not in it, though they never left.
    """

    def __init__(self, confirmations: int) -> None:
        self.confirmations = confirmations
        self.active: set[str] = set()
        self.ever: set[str] = set()
        self.missed: dict[str, int] = {}  # follower -> complete passes in a row that did not list them
        self.events: list[tuple[str, str]] = []
        self.completed = False

    def full_pass(self, listed: set[str]) -> None:
        for follower in sorted(listed):
            if follower not in self.ever:
                self.events.append((follower, "follow" if self.completed else "baseline"))
            elif follower not in self.active:
                self.events.append((follower, "follow"))
            self.missed.pop(follower, None)  # listed again: not missing, and no event
        self.ever |= listed
        self.active |= listed
        for follower in sorted(self.active - listed):
            self.missed[follower] = self.missed.get(follower, 0) + 1
            if self.missed[follower] >= self.confirmations:
                self.events.append((follower, "unfollow"))
                self.active.discard(follower)
                del self.missed[follower]
        self.completed = True


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(accounts={SOURCE: 0})  # one per test: each example empties the listing first


POOL = 40
PAGE = 7
# Each pass: who follows, and the page (1-3) at which someone already listed leaves mid-pass, if any.
passes_strategy = st.lists(
    st.tuples(
        st.lists(st.integers(0, POOL - 1), max_size=30, unique=True),
        st.one_of(st.none(), st.integers(1, 3)),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(passes=passes_strategy, confirmations=st.integers(1, 3))
def test_full_passes_match_the_model(
    db_url: str, sim: Simulator, passes: list[tuple[list[int], int | None]], confirmations: int
) -> None:
    # A fresh database per example: the db_url fixture gives one per test, so reset the tables here.
    h = Harness(
        db_url,
        sim,
        [SOURCE],
        page_size=PAGE,
        unfollow_guard_fraction=1.0,
        unfollow_guard_min=10**6,
        unfollow_confirmations=confirmations,
    )
    try:
        with h.engine.begin() as conn:
            for table in (
                "follow_events",
                "sync_checkpoints",
                "sync_runs",
                "sync_passes",
                "followers",
                "linkedin_profiles",
            ):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        sim.unfollow(SOURCE.account_id, sim.follower_ids(SOURCE.account_id))
        ids: dict[int, str] = {}  # model index -> simulator follower id, new ids for each example
        model = Model(confirmations)
        for listed, departure_page in passes:
            _serve(sim, listed, ids)
            before = set(sim.follower_ids(SOURCE.account_id))
            sim.departures.clear()
            if departure_page is not None:
                sim.inject(Fault.departure(), account_id=SOURCE.account_id, on_page=departure_page)
            [result] = h.sync("full")
            sim.clear_faults()  # a departure at a page the listing is too short for never happened
            assert result.status == "succeeded", result.message
            skipped = {d.skipped for d in sim.departures}
            model.full_pass(before - skipped)
            assert h.active(SOURCE.name) == model.active
            got = h.events(SOURCE.name)
            assert sorted(got) == sorted(model.events)
            missing = h.query("SELECT follower_id FROM v_followers WHERE missing_since IS NOT NULL")
            assert {r.follower_id for r in missing} == set(model.missed)
    finally:
        h.close()


def _serve(sim: Simulator, listed: list[int], ids: dict[int, str]) -> None:
    """Make the simulator list exactly the followers `listed` (as a set), through follow/unfollow."""
    wanted: set[str] = set()
    for index in listed:
        if index not in ids:
            [ids[index]] = sim.follow(SOURCE.account_id, 1)
        wanted.add(ids[index])
    current = set(sim.follower_ids(SOURCE.account_id))
    leaving = sorted(current - wanted)
    if leaving:
        sim.unfollow(SOURCE.account_id, leaving)
    returning = sorted(wanted - current)  # left earlier (or mid-pass), back now
    if returning:
        sim.refollow(SOURCE.account_id, returning)
    assert set(sim.follower_ids(SOURCE.account_id)) == wanted
