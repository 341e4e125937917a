"""What the tests against the fake API share: the sources they sync, and simulators serving them.

    def test_something(make_sim: MakeSim) -> None:
        sim = make_sim(seed=7, accounts={LI: 250, IG: 450})  # stopped after the test

`make_sim` starts a `Simulator` with the harness's API key (`tests.harness.API_KEY`, unless a test
needs another) and, for each source given, a listing of that many followers; it stops every simulator
it started after the test, and fails the test if one of them could not answer a request. `serving`
is the same in a `with` block, for a fixture of wider scope or a helper that is not a test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol

import pytest

from followersync.config import SourceConfig
from followersync.simulator import Simulator
from tests.harness import API_KEY


def linkedin_source(
    name: str = "acme-page", account_id: str = "acc_li_1", user_id: str | None = None
) -> SourceConfig:
    """A LinkedIn `[[sources]]` entry (by default the page most tests sync)."""
    return SourceConfig(name=name, provider="linkedin", account_id=account_id, user_id=user_id)


def instagram_source(
    name: str = "brand-ig", account_id: str = "acc_ig_1", user_id: str | None = None
) -> SourceConfig:
    """An Instagram `[[sources]]` entry (by default the brand account most tests sync)."""
    return SourceConfig(name=name, provider="instagram", account_id=account_id, user_id=user_id)


LI = linkedin_source()
IG = instagram_source()


@contextmanager
def serving(
    *,
    accounts: Mapping[SourceConfig, int] | None = None,
    seed: int = 0,
    latency: float = 0.0,
    api_key: str = API_KEY,
) -> Iterator[Simulator]:
    """A running simulator with, for each source of `accounts`, a listing of that many followers."""
    with Simulator(api_key=api_key, seed=seed, latency=latency) as sim:
        for source, followers in (accounts or {}).items():
            sim.add_account(source.account_id, source.provider, followers=followers, user_id=source.user_id)
        yield sim


class MakeSim(Protocol):
    """The type of `make_sim`: `serving`'s options, and the simulator it started."""

    def __call__(
        self,
        *,
        accounts: Mapping[SourceConfig, int] | None = None,
        seed: int = 0,
        latency: float = 0.0,
        api_key: str = API_KEY,
    ) -> Simulator: ...


@pytest.fixture
def make_sim() -> Iterator[MakeSim]:
    """Start simulators (see `serving`) that are stopped after the test."""
    with ExitStack() as started:

        def make(**options: Any) -> Simulator:
            return started.enter_context(serving(**options))

        yield make
