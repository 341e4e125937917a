"""Per-account pacing: the provider's limits are per linked account, so ours are too
(docs/semantics.md#pacing)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from followersync.clock import Clock, SystemClock

__all__ = ["Pacer"]

# Jitter on top of the interval, as a fraction of it: gaps vary between 1x and 1.5x the interval, so
# the provider never sees the fixed rhythm that marks a bot.
JITTER_FRACTION = 0.5


class _Account:
    def __init__(self) -> None:
        self.in_flight = threading.Lock()
        self.next_start: float | None = None  # monotonic time before which no request may start


class Pacer:
    """Per linked account: at most one request in flight, and a minimum interval between the starts of
    its requests with random jitter on top (0 to 50% of the interval, never a fixed rhythm); interval 0 =
    no pacing (but still one in flight)."""

    def __init__(self, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()  # guards _accounts and _rng, never held while waiting
        self._accounts: dict[str, _Account] = {}

    def _account(self, account_id: str) -> _Account:
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                account = self._accounts[account_id] = _Account()
            return account

    @contextmanager
    def slot(self, account_id: str, min_interval: float) -> Iterator[float]:
        """Block until `account_id` may start a request; yield the seconds waited; hold it until exit."""
        account = self._account(account_id)
        started_waiting = self.clock.monotonic()
        # Held for the whole request: a second thread for the same account waits here, others don't.
        with account.in_flight:
            if account.next_start is not None:
                delay = account.next_start - self.clock.monotonic()
                if delay > 0:
                    self.clock.sleep(delay)
            start = self.clock.monotonic()
            if min_interval > 0:
                with self._lock:
                    jitter = self._rng.uniform(0.0, JITTER_FRACTION * min_interval)
                account.next_start = start + min_interval + jitter
            else:
                account.next_start = None
            yield start - started_waiting
