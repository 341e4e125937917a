"""A full pass over a slow API fetches the next page while it writes this one, with the same outcome:
every follower, exact events, and a stop that keeps the checkpoint of the last page written and leaves
no request in flight. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from followersync.simulator import Simulator, encode_cursor
from followersync.sync import runner as passes_module
from followersync.sync.prefetch import Prefetch
from followersync.sync.result import SourceResult
from tests.harness import Harness
from tests.sim_support import IG, MakeSim

FOLLOWERS = 2000  # ten pages of 200


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    # Latency well above prefetch.MIN_WAIT, so the pass goes ahead after its first two pages.
    return make_sim(seed=5, latency=0.03, accounts={IG: FOLLOWERS})


@pytest.fixture
def h(db_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = Harness(db_url, sim, [IG])
    yield harness
    harness.close()


@pytest.fixture
def prefetchers(monkeypatch: pytest.MonkeyPatch) -> list[Prefetch[Any]]:
    """Every Prefetch the engine makes, to see whether it went ahead (it behaves unchanged)."""
    made: list[Prefetch[Any]] = []
    real = passes_module.prefetch

    def watched(*args: Any, **kwargs: Any) -> Prefetch[Any]:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(passes_module, "prefetch", watched)
    return made


def test_a_prefetching_pass_stores_exactly_the_listing(
    h: Harness, sim: Simulator, prefetchers: list[Prefetch[Any]]
) -> None:
    [first] = h.sync()
    assert (first.status, first.pages, first.baseline) == ("succeeded", 10, FOLLOWERS)
    assert prefetchers[-1].ahead
    assert h.active(IG.name) == set(sim.follower_ids(IG.account_id))

    new = sim.follow(IG.account_id, 7)
    gone = sim.unfollow(IG.account_id, count=5)
    [churned] = h.sync("full")
    assert prefetchers[-1].ahead
    assert (churned.status, churned.new, churned.missing) == ("succeeded", 7, 5)
    [confirming] = h.sync("full")
    assert prefetchers[-1].ahead
    assert (confirming.status, confirming.new, confirming.lost) == ("succeeded", 0, 5)
    assert sorted(f for f, _ in h.events(IG.name, "follow")) == sorted(new)
    assert sorted(f for f, _ in h.events(IG.name, "unfollow")) == sorted(gone)
    assert h.active(IG.name) == set(sim.follower_ids(IG.account_id))


def test_a_stop_while_the_next_page_is_fetched_keeps_the_last_written_page(
    h: Harness, sim: Simulator, prefetchers: list[Prefetch[Any]]
) -> None:
    def stop_after_page_3(result: SourceResult, _stats: object) -> None:
        if result.pages == 3:
            h.runner.stop.set()  # what SIGTERM does; page 4 is being fetched ahead right now

    h.runner.on_progress = stop_after_page_3
    [stopped] = h.sync("full")
    assert prefetchers[-1].ahead
    assert (stopped.status, stopped.pages) == ("deferred", 3)
    # The page fetched ahead was waited for (no request in flight once the run returned) and dropped:
    # one request in vain, counted because it was sent.
    assert sim.in_flight(IG.account_id) == 0
    assert [r.status for r in sim.requests_for(IG.account_id)] == [200] * 4
    run = h.runs(IG.name)[-1]
    assert (run.status, run.pages, run.items, run.requests) == ("deferred", 3, 600, 4)
    checkpoint = h.checkpoint(IG.name)
    assert checkpoint is not None and (checkpoint.pages, checkpoint.cursor) == (3, encode_cursor(600))
    assert len(h.active(IG.name)) == 600

    h.runner.stop.clear()
    h.runner.on_progress = None
    sim.clear_requests()
    [resumed] = h.sync()
    assert (resumed.status, resumed.mode, resumed.pages) == ("succeeded", "full", 7)
    assert sim.requests_for(IG.account_id)[0].cursor == encode_cursor(600)
    assert h.active(IG.name) == set(sim.follower_ids(IG.account_id))
    baseline = [f for f, _ in h.events(IG.name, "baseline")]
    assert len(baseline) == len(set(baseline)) == FOLLOWERS
