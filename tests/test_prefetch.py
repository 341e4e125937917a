"""Prefetching the next page: same order, errors where they happened, never more than one item ahead,
nothing left running after close, and a thread only when producing items waits."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from followersync.sync.prefetch import prefetch


class Boom(Exception):
    pass


def numbers(
    produced: list[int], count: int, *, fail_after: int | None = None, delay: float = 0.0
) -> Iterator[int]:
    for n in range(1, count + 1):
        if fail_after is not None and n > fail_after:
            raise Boom(f"after {fail_after}")
        time.sleep(delay)
        produced.append(n)
        yield n


@pytest.mark.parametrize("min_wait", [0.0, 10.0], ids=["ahead", "in-caller"])
def test_items_come_in_order_and_an_error_comes_where_it_was_raised(min_wait: float) -> None:
    produced: list[int] = []
    got: list[int] = []
    items = prefetch(numbers(produced, 10, fail_after=3), min_wait=min_wait)
    with pytest.raises(Boom), items:
        for n in items:
            got.append(n)
    assert got == [1, 2, 3]
    assert items.ahead is (min_wait == 0.0)


def test_never_more_than_one_item_ahead() -> None:
    produced: list[int] = []
    with prefetch(numbers(produced, 100), min_wait=0.0) as items:
        for n in items:
            time.sleep(0.01)  # the thread has had time to run ahead, if it would
            assert len(produced) <= n + 1
            if n == 5:
                break
    assert produced == [1, 2, 3, 4, 5, 6]  # one produced in vain, no more


def test_close_waits_for_the_item_in_production_and_closes_the_iterator() -> None:
    started, finished, closed = threading.Event(), threading.Event(), threading.Event()

    def slow() -> Iterator[int]:
        try:
            yield 1
            started.set()
            time.sleep(0.2)  # a request in flight
            finished.set()
            yield 2
        finally:
            closed.set()

    items = prefetch(slow(), min_wait=0.0)
    assert next(items) == 1
    assert started.wait(5)
    items.close()  # the caller stops after item 1, while item 2 is being fetched
    assert finished.is_set() and closed.is_set()
    items.close()  # idempotent
    with pytest.raises(StopIteration):
        next(items)


def test_an_error_of_the_item_produced_in_vain_is_dropped() -> None:
    produced: list[int] = []
    items = prefetch(numbers(produced, 5, fail_after=1), min_wait=0.0)
    assert next(items) == 1
    items.close()  # item 2 raised in the thread meanwhile: nobody wants it


def test_items_are_produced_in_the_callers_context() -> None:
    source: contextvars.ContextVar[str] = contextvars.ContextVar("source", default="-")
    seen: list[str] = []

    def read_context() -> Iterator[str]:
        for _ in range(3):
            seen.append(source.get())
            yield source.get()

    source.set("brand-ig")
    with prefetch(read_context(), min_wait=0.0) as items:
        assert list(items) == ["brand-ig"] * 3
    assert seen == ["brand-ig"] * 3


def test_a_thread_only_once_producing_waits() -> None:
    produced: list[int] = []
    with prefetch(numbers(produced, 20), min_wait=0.05) as fast:
        assert list(fast) == list(range(1, 21))
        assert not fast.ahead  # CPU-bound items: a thread would only compete for the interpreter lock

    slow = prefetch(numbers([], 4, delay=0.06), min_wait=0.05)
    with slow:
        assert next(slow) == 1
        assert not slow.ahead  # one slow item is not latency yet
        assert next(slow) == 2
        assert slow.ahead  # two in a row are: item 3 is already being produced
        assert list(slow) == [3, 4]


def test_disabled_it_is_the_iterator_itself() -> None:
    produced: list[int] = []
    with prefetch(numbers(produced, 5, delay=0.02), enabled=False, min_wait=0.0) as items:
        for n in items:
            assert produced[-1] == n  # nothing produced before it is asked for
    assert not items.ahead
