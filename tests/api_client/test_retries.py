"""What the client retries, how long it waits (backoff, Retry-After, one quick retry for the
provider's limits), and the time limits that bound a request."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import structlog

from followersync.api import (
    ApiError,
    Client,
    NetworkError,
    ProviderLimitError,
    RateLimitedError,
    RequestStats,
    TransientApiError,
)
from followersync.clock import FakeClock
from followersync.config import SourceConfig
from followersync.simulator import Fault, Simulator
from tests.api_client.support import LI, fetch, make_client

# -- retries -------------------------------------------------------------------------------------------


def test_a_transient_error_is_retried_with_jittered_exponential_backoff(
    sim: Simulator, client: Client, clock: FakeClock
) -> None:
    sim.inject(Fault.error("errors/unexpected_error"), account_id="acc_li", times=2)
    with structlog.testing.capture_logs() as logs:
        stats = fetch(client)
    assert (stats.requests, stats.retries) == (3, 2)
    assert len(sim.requests_for("acc_li")) == 3
    first, second = clock.sleeps
    assert 0 <= first <= 1.0 and 0 <= second <= 2.0
    assert stats.waited == pytest.approx(first + second)
    retries = [e for e in logs if e["event"] == "api.retry"]
    assert [(e["source"], e["attempt"], e["error_type"]) for e in retries] == [
        ("acme-page", 1, "errors/unexpected_error"),
        ("acme-page", 2, "errors/unexpected_error"),
    ]
    assert [e["wait"] for e in retries] == [round(first, 3), round(second, 3)]


def test_attempts_are_bounded(sim: Simulator, clock: FakeClock) -> None:
    sim.inject(Fault.error("errors/service_unavailable"), account_id="acc_li", times=-1)
    stats = RequestStats()
    with (
        make_client(sim.base_url, clock, max_attempts=4) as client,
        pytest.raises(TransientApiError) as caught,
    ):
        client.fetch_page(LI, cursor=None, limit=100, stats=stats)
    assert caught.value.attempts == 4
    assert str(caught.value).endswith("(after 4 attempts)")
    assert len(sim.requests) == 4 == stats.requests
    assert len(clock.sleeps) == 3
    assert [s <= c for s, c in zip(clock.sleeps, [1, 2, 4], strict=True)] == [True] * 3


def test_the_total_backoff_stays_within_max_retry_wait(sim: Simulator, clock: FakeClock) -> None:
    sim.inject(Fault.error("errors/request_timeout"), account_id="acc_li", times=-1)
    with (
        make_client(sim.base_url, clock, max_attempts=100, max_retry_wait=20.0) as client,
        pytest.raises(TransientApiError) as caught,
    ):
        fetch(client)
    assert sum(clock.sleeps) <= 20.0
    assert caught.value.attempts == len(sim.requests) == len(clock.sleeps) + 1 < 100


def test_retry_after_is_honoured_exactly(sim: Simulator, client: Client, clock: FakeClock) -> None:
    sim.inject(Fault.rate_limited(retry_after=7), account_id="acc_li")
    stats = fetch(client)
    assert clock.sleeps == [7.0]
    assert (stats.requests, stats.retries) == (2, 1)


def test_retry_after_as_an_http_date(sim: Simulator, client: Client, clock: FakeClock) -> None:
    # FakeClock starts at 2026-01-01 00:00:00 UTC.
    when = "Thu, 01 Jan 2026 00:00:20 GMT"
    sim.inject(Fault.error("errors/too_many_requests", retry_after=when), account_id="acc_li")
    fetch(client)
    assert clock.sleeps == [20.0]


def test_retry_after_on_a_503_is_used_instead_of_backoff(
    sim: Simulator, client: Client, clock: FakeClock
) -> None:
    sim.inject(Fault.error("errors/no_client_session", retry_after="4"), account_id="acc_li")
    fetch(client)
    assert clock.sleeps == [4.0]


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Fault.rate_limited(), RateLimitedError), (Fault.error("errors/provider_error"), ProviderLimitError)],
    ids=["429 without Retry-After", "500 provider_error"],
)
def test_an_answer_that_may_mean_the_providers_limits_gets_one_quick_retry_only(
    sim: Simulator, clock: FakeClock, fault: Fault, error: type[ApiError]
) -> None:
    sim.inject(fault, account_id="acc_li", times=-1)
    with make_client(sim.base_url, clock, max_attempts=6) as client, pytest.raises(error) as caught:
        fetch(client)
    assert caught.value.attempts == 2 == len(sim.requests)
    (wait,) = clock.sleeps
    assert 1.0 <= wait <= 3.0


def test_a_provider_error_that_passes_costs_one_quick_retry(
    sim: Simulator, client: Client, clock: FakeClock
) -> None:
    sim.inject(Fault.error("errors/provider_error"), account_id="acc_li", times=1)
    stats = fetch(client)
    assert (stats.requests, stats.retries) == (2, 1)


def test_a_retry_after_beyond_max_retry_wait_is_raised_with_the_wait(
    sim: Simulator, clock: FakeClock
) -> None:
    sim.inject(Fault.rate_limited(retry_after=30), account_id="acc_li")
    with (
        make_client(sim.base_url, clock, max_retry_wait=10.0) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        fetch(client)
    assert caught.value.retry_after == 30.0
    assert len(sim.requests) == 1
    assert clock.sleeps == []


def test_repeated_429s_give_up_after_max_attempts(sim: Simulator, clock: FakeClock) -> None:
    sim.inject(Fault.rate_limited(retry_after=1), account_id="acc_li", times=-1)
    with (
        make_client(sim.base_url, clock, max_attempts=3) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        fetch(client)
    assert (caught.value.attempts, caught.value.retry_after) == (3, 1.0)
    assert clock.sleeps == [1.0, 1.0]


def test_a_dropped_connection_is_retried(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.disconnect(), account_id="acc_li")
    with structlog.testing.capture_logs() as logs:
        stats = fetch(client)
    assert (stats.requests, stats.retries) == (2, 1)
    assert [e["error_type"] for e in logs if e["event"] == "api.retry"] == ["network_error"]


def test_a_stalled_response_times_out_and_is_retried(sim: Simulator, clock: FakeClock) -> None:
    sim.inject(Fault.stall(5.0), account_id="acc_li")
    with make_client(sim.base_url, clock, timeout=0.3) as client:
        stats = fetch(client)
    assert (stats.requests, stats.retries) == (2, 1)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"

# What a server sends after the request, as (seconds to wait, bytes); then it sends nothing more. Every
# read waits less than the timeout, so only a deadline on the whole request can end these.
STALLS = {
    "the answer comes late, then silence": [(0.9, HEAD + b"{")],
    "the first byte of the body comes late, then silence": [(0.0, HEAD), (0.9, b"{")],
    "the headers trickle in a byte at a time": [(0.2, HEAD[i : i + 1]) for i in range(len(HEAD))],
}


@pytest.fixture
def stalling_server() -> Iterator[Callable[[list[tuple[float, bytes]]], str]]:
    """Starts a server that answers one request as its script says; gives its base URL."""
    stop = threading.Event()
    listeners: list[socket.socket] = []

    def serve(listener: socket.socket, script: list[tuple[float, bytes]]) -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return  # the test ended without a request
        with connection:
            connection.recv(65536)
            for wait, data in script:
                if stop.wait(wait):
                    return
                try:
                    connection.sendall(data)
                except OSError:
                    return  # the client gave up, as it should
            stop.wait()

    def start(script: list[tuple[float, bytes]]) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        threading.Thread(target=serve, args=(listener, script), daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"

    yield start
    stop.set()
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize("script", STALLS.values(), ids=STALLS.keys())
def test_api_timeout_bounds_the_whole_request(
    stalling_server: Callable[[list[tuple[float, bytes]]], str],
    clock: FakeClock,
    script: list[tuple[float, bytes]],
) -> None:
    timeout = 1.0
    with (
        make_client(stalling_server(script), clock, timeout=timeout, max_attempts=1) as client,
        pytest.raises(NetworkError) as caught,
    ):
        started = time.monotonic()
        fetch(client)
    elapsed = time.monotonic() - started
    assert "ReadTimeout" in str(caught.value)
    assert elapsed < timeout + 0.5, elapsed  # not the ~2x (or more) that per-read timeouts give


def test_api_timeout_bounds_a_request_through_a_proxy_from_the_environment(
    stalling_server: Callable[[list[tuple[float, bytes]]], str],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = stalling_server(STALLS["the answer comes late, then silence"]).removesuffix("/api/v1")
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    with (
        make_client("http://api.postpress.invalid/api/v1", clock, timeout=1.0, max_attempts=1) as client,
        pytest.raises(NetworkError) as caught,
    ):
        started = time.monotonic()
        fetch(client)
    elapsed = time.monotonic() - started
    assert "ReadTimeout" in str(caught.value)  # the proxy answered: the name was never looked up
    assert elapsed < 1.0 + 0.5, elapsed


@pytest.mark.integration  # sockets
def test_an_unreachable_api_is_a_network_error_after_all_attempts(clock: FakeClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on `port` now.
    with (
        make_client(f"http://127.0.0.1:{port}/api/v1", clock, max_attempts=3) as client,
        pytest.raises(NetworkError) as caught,
    ):
        fetch(client)
    error = caught.value
    assert (error.error_type, error.attempts) == ("network_error", 3)
    assert "ConnectError" in str(error)
    assert error.error_detail["title"] == "Network error"
    assert len(clock.sleeps) == 2


def test_before_request_runs_before_every_attempt_and_may_stop_it(sim: Simulator, clock: FakeClock) -> None:
    calls: list[str] = []

    def gate(source: SourceConfig) -> None:
        calls.append(source.name)
        if len(calls) > 3:
            raise RuntimeError("daily budget exhausted")

    sim.inject(Fault.error("errors/network_down"), account_id="acc_li", times=2)
    with make_client(sim.base_url, clock, before_request=gate) as client:
        fetch(client)
        assert calls == ["acme-page"] * 3
        with pytest.raises(RuntimeError, match="budget"):
            fetch(client)
    assert len(sim.requests) == 3
