"""Fixtures of the fault suite: the simulator serving `LI`, and a harness on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from followersync.simulator import Simulator
from tests.faults.support import FOLLOWERS, LI, make_harness
from tests.harness import API_KEY, Harness


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(api_key=API_KEY, seed=11) as simulator:
        simulator.add_account(LI.account_id, "linkedin", followers=FOLLOWERS)
        yield simulator


@pytest.fixture
def h(db_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = make_harness(db_url, sim)
    yield harness
    harness.close()
