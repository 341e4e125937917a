"""Time comes from one place, so tests can run fast and deterministically.

Everything that reads the wall clock, measures an interval or sleeps takes a `Clock`. Production code
uses `SystemClock`; tests use `FakeClock`, whose `sleep` advances time instantly and is recorded.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from followersync.domain import FollowersyncError


class Clock(Protocol):
    """What the rest of the package needs to know about time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (a fake clock just advances)."""
        ...


class StopRequested(FollowersyncError):
    """A stop (SIGTERM/SIGINT) was requested: raised by a sleep it cuts short, or between two pages."""


class SystemClock:
    """The real clock. Given a `stop` event, every sleep ends early once it is set, by raising
    `StopRequested`, so SIGTERM is not held up by a five-minute Retry-After."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self._stop = stop

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if self._stop is None:
            if seconds > 0:
                time.sleep(seconds)
            return
        if self._stop.wait(max(seconds, 0.0)):
            raise StopRequested()


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    `sleeps` records every requested sleep so tests can check backoff and pacing without waiting.
    Thread-safe: concurrent sleepers each advance the shared time.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._advance(seconds)

    def _advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
