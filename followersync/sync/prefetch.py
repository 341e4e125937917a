"""Produce the next item while the caller works on this one: a full pass fetches page N+1 from the API
while page N is being written, so a page costs about max(fetch, write) instead of their sum.

    pages = prefetch(client.pages(...))
    try:
        for page in pages:      # page N; once worth it, next() for page N+1 already runs in a thread
            write(page)
    finally:
        pages.close()

Only when it pays. Fetching ahead wins when producing an item mostly *waits* (on the network: API
latency, pacing, a retry's backoff), because a waiting thread does not hold the interpreter lock.
When producing is CPU work (an API with no latency: HTTP parsing and JSON decoding), a second thread
only competes with the writer for the lock, and every database round trip of the writer then waits
for the lock too (SQLite slows down). So items
are produced in the caller's thread until `min_wait` of waiting (wall time minus the producing
thread's CPU time) is seen on two items in a row, and one step ahead in a thread from then on.
A caller whose own work mostly waits outside the interpreter (a page written by PostgreSQL, in its
own process) gains from a thread even then, and passes `min_wait=0`: ahead from the first item.

What stays exactly as without it:
- order: items come in the order produced, and an exception raised by the iterator reaches the caller
  where it was raised, after every item before it (a request that fails after page 3 fails the pass
  once page 3 is written, as before);
- at most one item ahead: the thread asks for item N+1 only once the caller has taken item N, so
  stopping after item N costs at most one item produced in vain (one API request);
- nothing left running: `close()` waits for the item in production (dropping its result or error)
  and closes the iterator, so no request of the pass is in flight once the pass has returned (the
  account's lease may be released right after);
- context: each item is produced in a copy of the caller's `contextvars` context, so the log lines
  of a request (a retry, say) carry the source and run id the pass runner bound.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["MIN_WAIT", "Prefetch", "prefetch"]

T = TypeVar("T")

# Waiting per item that makes a thread worth it: a real network round trip, not scheduling noise.
MIN_WAIT = 0.010


class Prefetch(Generic[T]):
    """An iterator over `items` that, once producing them is seen to wait, produces each one step ahead
    in a worker thread.

    `min_wait=0` goes ahead from the first item; `enabled=False` never does (then it is `items` with a
    `close()`, so that callers need no second path).
    """

    def __init__(
        self, items: Iterator[T], *, enabled: bool = True, min_wait: float = MIN_WAIT, name: str = "prefetch"
    ) -> None:
        self._items = items
        self._enabled = enabled
        self._min_wait = min_wait
        self._name = name
        self._waited = 0  # items in a row whose production waited at least min_wait
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[tuple[bool, T | None]] | None = None
        self._ended = False

    @property
    def ahead(self) -> bool:
        """Whether items are being produced one step ahead, in the worker thread."""
        return self._pool is not None

    def _produce(self) -> tuple[bool, T | None]:
        # (True, item), or (False, None) at the end: a sentinel that cannot be mistaken for an item.
        try:
            return True, next(self._items)
        except StopIteration:
            return False, None

    def _go_ahead(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        self._pending = self._pool.submit(contextvars.copy_context().run, self._produce)

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        if self._pool is None and self._enabled and self._min_wait <= 0:
            self._go_ahead()
        if self._pool is None:
            return self._next_here()
        assert self._pending is not None
        try:
            more, item = self._pending.result()
        except BaseException:
            self._pending, self._ended = None, True  # the iterator raised: it has ended
            raise
        if not more:
            self._pending, self._ended = None, True
            raise StopIteration
        self._pending = self._pool.submit(contextvars.copy_context().run, self._produce)
        return item  # type: ignore[return-value]  # `more` says it is an item

    def _next_here(self) -> T:
        """The next item, produced in the caller's thread; notes how long producing it waited."""
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            item = next(self._items)
        except BaseException:
            self._ended = True
            raise
        waited = (time.perf_counter() - wall) - (time.thread_time() - cpu)
        self._waited = self._waited + 1 if waited >= self._min_wait else 0
        if self._enabled and self._waited >= 2:  # one slow response is not latency; two in a row are
            self._go_ahead()
        return item

    def close(self) -> None:
        """Wait for the item in production, if any, then close `items`. Idempotent."""
        pending, self._pending, self._ended = self._pending, None, True
        if pending is not None:
            # Whatever it produced or raised is not wanted any more; only that it is over matters.
            with contextlib.suppress(Exception):
                pending.result()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        close = getattr(self._items, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def prefetch(
    items: Iterator[T], *, enabled: bool = True, min_wait: float = MIN_WAIT, name: str = "prefetch"
) -> Prefetch[T]:
    """`items`, produced one step ahead in a thread once that pays (see the module's docstring)."""
    return Prefetch(items, enabled=enabled, min_wait=min_wait, name=name)
