"""What a simulator holds: its accounts' listings, the faults injected into it, the quirks turned on,
and what it has seen of its requests, all under one lock.

The controls (core.py, accounts.py, behaviour.py) change it from the test's thread; the answering
side (answering.py, pages.py) reads and updates it from each connection's thread.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from followersync.simulator.faults import Departure, Injection
from followersync.simulator.listing import Listing
from followersync.simulator.quirks import CachedAnswer, CacheKey, CachePolicy, LimitPolicy, LimitWindow
from followersync.simulator.records import RequestRecord


class SimulatorState:
    """The state of one simulator. Everything but `api_key`, `seed`, `latency`, `clock` and `stopping`
    is read and written under `lock`."""

    def __init__(self, api_key: str, *, seed: int, latency: float, clock: Callable[[], float] | None) -> None:
        self.api_key = api_key
        self.seed = seed
        self.latency = latency
        self.clock: Callable[[], float] = clock or time.monotonic
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.providers: dict[str, str] = {}  # account_id -> provider
        self.listings: dict[tuple[str, str | None], Listing] = {}
        self.injections: list[Injection] = []
        self.callbacks: list[Callable[[RequestRecord], object]] = []
        self.seq = 0
        self.account_seq: dict[str | None, int] = {}
        self.in_flight: dict[str | None, int] = {}
        # The cache and the request limits: per account id, None = every account without its own.
        # A policy of None for an account id turns the account's cache off while the rest have one.
        self.cache_policies: dict[str | None, CachePolicy | None] = {}
        self.cache: dict[CacheKey, CachedAnswer] = {}
        self.limit_policies: dict[str | None, LimitPolicy | None] = {}
        self.windows: dict[str, LimitWindow] = {}
        self.stopping = threading.Event()  # set while the server stops: every wait ends at once
        self.requests: list[RequestRecord] = []
        self.errors: list[BaseException] = []
        self.departures: list[Departure] = []

    def listing(self, account_id: str, user_id: str | None) -> Listing:
        """The listing of (account_id, user_id); KeyError naming both when there is none."""
        try:
            return self.listings[account_id, user_id]
        except KeyError:
            raise KeyError(f"no listing for account {account_id!r}, user_id {user_id!r}") from None
