"""The simulator's tests talk HTTP to a running `Simulator` with httpx; nothing is mocked. The
simulator is what they prove, so it is built here by hand rather than by make_sim (tests.sim_support),
which is built on it; its listings are accounts, not configured sources."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from followersync.simulator import (
    Simulator,
)
from tests.simulator.support import KEY


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(api_key=KEY, seed=7) as simulator:
        simulator.add_account("acc_li", "linkedin", followers=250)
        simulator.add_account("acc_ig", "instagram", followers=450)
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"X-API-KEY": KEY}, timeout=5) as http:
        yield http
