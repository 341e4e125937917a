"""The API client's tests run against the simulator on a real socket (`sim`), on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from followersync.api import (
    Client,
)
from followersync.clock import FakeClock
from followersync.simulator import Simulator
from tests.api_client.support import IG, KEY, LI, make_client
from tests.sim_support import MakeSim


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(api_key=KEY, accounts={LI: 250, IG: 450})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(sim: Simulator, clock: FakeClock) -> Iterator[Client]:
    with make_client(sim.base_url, clock) as c:
        yield c
