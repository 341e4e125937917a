"""Property: for any sequence of follower lists, synced with full passes, the database says what a
simple in-memory model says (relationships and events), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followersync.config import SourceConfig
from followersync.simulator import Simulator
from tests.harness import API_KEY, Harness

SOURCE = SourceConfig(name="model", provider="linkedin", account_id="acc_model")


class Model:
    """What should be true after each full pass, written as plainly as possible."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.ever: set[str] = set()
        self.events: list[tuple[str, str]] = []
        self.completed = False

    def full_pass(self, listed: list[str]) -> None:
        seen = set(listed)
        for follower in dict.fromkeys(listed):
            if follower not in self.ever:
                self.events.append((follower, "follow" if self.completed else "baseline"))
            elif follower not in self.active:
                self.events.append((follower, "follow"))
        for follower in sorted(self.active - seen):
            self.events.append((follower, "unfollow"))
        self.ever |= seen
        self.active = seen
        self.completed = True


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(api_key=API_KEY) as simulator:
        simulator.add_account(SOURCE.account_id, "linkedin", followers=0)
        yield simulator


POOL = 40
lists = st.lists(st.lists(st.integers(0, POOL - 1), max_size=30, unique=True), min_size=1, max_size=5)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(passes=lists)
def test_full_passes_match_the_model(db_url: str, sim: Simulator, passes: list[list[int]]) -> None:
    # A fresh database per example: the db_url fixture gives one per test, so reset the tables here.
    h = Harness(db_url, sim, [SOURCE], page_size=7, unfollow_guard_fraction=1.0, unfollow_guard_min=10**6)
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
        gone: set[str] = set()
        model = Model()
        for listed in passes:
            _serve(sim, listed, ids, gone)
            wanted = [ids[i] for i in listed]
            [result] = h.sync("full")
            assert result.status == "succeeded", result.message
            model.full_pass(wanted)
            assert h.active(SOURCE.name) == model.active
            got = h.events(SOURCE.name)
            assert sorted(got) == sorted(model.events)
    finally:
        h.close()


def _serve(sim: Simulator, listed: list[int], ids: dict[int, str], gone: set[str]) -> None:
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
        gone.update(leaving)
    returning = sorted(wanted & gone - current)
    if returning:
        sim.refollow(SOURCE.account_id, returning)
        gone.difference_update(returning)
    assert set(sim.follower_ids(SOURCE.account_id)) == wanted
