"""Pacing per linked account: one request in flight, spaced starts with jitter, accounts independent."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from followersync.api import Pacer
from followersync.clock import FakeClock, SystemClock


def test_the_first_request_of_an_account_does_not_wait() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, random.Random(1))
    with pacer.slot("acc_1", 3.0) as waited:
        assert waited == 0.0
    assert clock.sleeps == []


def test_later_requests_wait_the_interval_plus_up_to_half_of_it() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, random.Random(1))
    waits = []
    for _ in range(50):
        with pacer.slot("acc_1", 3.0) as waited:
            waits.append(waited)
    assert waits[0] == 0.0
    assert clock.sleeps == waits[1:]
    assert all(3.0 <= w <= 4.5 for w in waits[1:])
    # Jitter, not a fixed rhythm: the gaps differ and spread over the range.
    assert len(set(waits[1:])) == 49
    assert max(waits[1:]) - min(waits[1:]) > 0.75


def test_the_interval_counts_from_the_start_of_the_previous_request() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, random.Random(1))
    with pacer.slot("acc_1", 3.0):
        clock.advance(2.0)  # a slow request
    clock.advance(5.0)  # the caller did other work meanwhile
    with pacer.slot("acc_1", 3.0) as waited:
        assert waited == 0.0
    assert clock.sleeps == []


def test_an_interval_of_zero_turns_pacing_off() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    for _ in range(5):
        with pacer.slot("acc_1", 0.0) as waited:
            assert waited == 0.0
    assert clock.sleeps == []


def test_accounts_are_paced_separately() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    with pacer.slot("acc_1", 3.0):
        pass
    with pacer.slot("acc_2", 3.0) as waited:
        assert waited == 0.0
    assert clock.sleeps == []


@pytest.mark.parametrize("interval", [0.0, 0.01])
def test_one_request_in_flight_per_account_across_threads(interval: float) -> None:
    pacer = Pacer(SystemClock())
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def request() -> None:
        nonlocal in_flight, most
        with pacer.slot("acc_1", interval):
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            time.sleep(0.005)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_a_busy_account_does_not_block_another() -> None:
    pacer = Pacer(SystemClock())
    holding = threading.Event()
    release = threading.Event()
    order: list[str] = []  # what happened, in order (list.append is atomic)

    def hold_acc_1() -> None:
        with pacer.slot("acc_1", 0.0):
            holding.set()
            release.wait(30)
            order.append("acc_1 released")

    holder = threading.Thread(target=hold_acc_1)
    holder.start()
    try:
        assert holding.wait(30)
        entered = threading.Event()

        def use(account: str) -> None:
            with pacer.slot(account, 0.0):
                order.append(f"{account} entered")
                entered.set()

        other = threading.Thread(target=use, args=("acc_2",))
        other.start()
        # acc_2 gets its slot while acc_1's is held: release is only set further down.
        assert entered.wait(30), "acc_2 waited for acc_1"
        other.join()

        same = threading.Thread(target=use, args=("acc_1",))
        same.start()
        same.join(0.05)  # time enough to enter, had the slot been free
        release.set()
        same.join(30)
        assert not same.is_alive()
    finally:
        release.set()
        holder.join()
    # The second request for acc_1 started only once the first had left its slot.
    assert order == ["acc_2 entered", "acc_1 released", "acc_1 entered"]


def test_waiting_for_the_request_in_flight_counts_as_waited() -> None:
    pacer = Pacer(SystemClock())
    holding = threading.Event()

    def hold() -> None:
        with pacer.slot("acc_1", 0.0):
            holding.set()
            time.sleep(0.05)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    with pacer.slot("acc_1", 0.0) as waited:
        assert waited >= 0.03
    holder.join()


def test_real_clock_spacing_has_jitter() -> None:
    pacer = Pacer(SystemClock())
    starts = []
    for _ in range(6):
        with pacer.slot("acc_1", 0.02):
            starts.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.02 for gap in gaps)
    assert len({round(gap, 4) for gap in gaps}) > 1
