"""Fixtures of the fault suite: the simulator serving `LI`, and a harness on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from followersync.simulator import Simulator
from tests.faults.support import FOLLOWERS, make_harness
from tests.harness import Harness
from tests.sim_support import LI, MakeSim


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=11, accounts={LI: FOLLOWERS})


@pytest.fixture
def h(db_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = make_harness(db_url, sim)
    yield harness
    harness.close()
