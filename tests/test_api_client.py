"""The client against the simulator on a real socket: pagination, errors, retries, pacing, secrecy."""

from __future__ import annotations

import itertools
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from followersync.api import (
    AccountRestrictedError,
    ApiError,
    BadRequestError,
    Client,
    CredentialError,
    CursorLoopError,
    ForbiddenError,
    InstagramFollower,
    InvalidResponseError,
    LinkedInFollower,
    NetworkError,
    NotFoundError,
    NotImplementedByApiError,
    Pacer,
    PostpressError,
    ProviderLimitError,
    RateLimitedError,
    RequestStats,
    ServerError,
    TransientApiError,
)
from followersync.clock import FakeClock, SystemClock
from followersync.config import PROVIDER_MAX_PAGE_SIZE, ApiSettings, ProviderSettings, SourceConfig
from followersync.simulator import DOCUMENTED_ERRORS, Fault, Simulator, encode_cursor
from tests.sim_support import MakeSim, instagram_source, linkedin_source

KEY = "pp_live_TESTKEY_7f3a9c21"  # shaped like a real key: the client must never show it
LI = linkedin_source(account_id="acc_li")
IG = instagram_source(account_id="acc_ig")


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(api_key=KEY, accounts={LI: 250, IG: 450})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(
    base_url: str,
    clock: Any,
    *,
    interval: float = 0.0,
    max_attempts: int = 6,
    max_retry_wait: float = 300.0,
    timeout: float = 5.0,
    key: str = KEY,
    pacer: Pacer | None = None,
    before_request: Callable[[SourceConfig], None] | None = None,
) -> Client:
    api = ApiSettings(
        base_url=base_url, timeout=timeout, max_attempts=max_attempts, max_retry_wait=max_retry_wait
    )
    providers = {
        p: ProviderSettings(page_size=size, min_request_interval=interval)
        for p, size in PROVIDER_MAX_PAGE_SIZE.items()
    }
    return Client(
        api, providers, key, clock=clock, pacer=pacer, rng=random.Random(7), before_request=before_request
    )


@pytest.fixture
def client(sim: Simulator, clock: FakeClock) -> Iterator[Client]:
    with make_client(sim.base_url, clock) as c:
        yield c


def fetch(client: Client, source: SourceConfig = LI, cursor: str | None = None) -> RequestStats:
    stats = RequestStats()
    client.fetch_page(source, cursor=cursor, limit=PROVIDER_MAX_PAGE_SIZE[source.provider], stats=stats)
    return stats


# -- pagination and the request ----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "sizes"), [(LI, [100, 100, 50]), (IG, [200, 200, 50])])
def test_a_listing_is_paged_to_cursor_null_with_the_provider_maximum(
    sim: Simulator, client: Client, source: SourceConfig, sizes: list[int]
) -> None:
    stats = RequestStats()
    limit = PROVIDER_MAX_PAGE_SIZE[source.provider]
    pages = list(client.pages(source, cursor=None, limit=limit, stats=stats))

    assert [len(p.items) for p in pages] == sizes
    assert pages[-1].cursor is None
    assert [p.request_cursor for p in pages] == [None, pages[0].cursor, pages[1].cursor]
    assert [i.id for p in pages for i in p.items] == sim.follower_ids(source.account_id)
    kind = LinkedInFollower if source.provider == "linkedin" else InstagramFollower
    assert all(isinstance(i, kind) for p in pages for i in p.items)
    assert all(p.provider == source.provider and len(p.raw_items) == len(p.items) for p in pages)

    records = sim.requests_for(source.account_id)
    assert [r.limit for r in records] == [limit] * 3
    assert [r.cursor for r in records] == [p.request_cursor for p in pages]
    assert (stats.requests, stats.retries) == (3, 0)


def test_the_key_goes_only_in_the_header_and_account_id_and_user_id_are_sent(
    sim: Simulator, client: Client
) -> None:
    # Characters that break a hand-built query string: the client must let httpx encode them.
    user_id = "jordan w&limit=1#x"
    sim.add_account("acc_li", "linkedin", followers=3, user_id=user_id)
    company = linkedin_source(name="company", account_id="acc_li", user_id=user_id)
    fetch(client, company)
    fetch(client, LI)

    with_user, own = sim.requests_for("acc_li")
    assert (with_user.account_id, with_user.user_id, with_user.limit) == ("acc_li", user_id, 100)
    assert (own.account_id, own.user_id, own.cursor) == ("acc_li", None, None)
    assert all(r.key_ok and not r.key_in_query for r in sim.requests)
    assert all(r.path == "/api/v1/users/followers" for r in sim.requests)


def test_a_listing_resumes_from_a_cursor(sim: Simulator, client: Client) -> None:
    pages = list(client.pages(LI, cursor=encode_cursor(200), limit=100, stats=RequestStats()))
    assert len(pages) == 1
    assert [i.id for i in pages[0].items] == sim.follower_ids("acc_li")[200:]
    assert sim.requests_for("acc_li")[0].cursor == encode_cursor(200)


def test_a_stale_cursor_is_a_bad_request_not_retried(sim: Simulator, client: Client) -> None:
    with pytest.raises(BadRequestError) as caught:
        fetch(client, LI, cursor="not-a-cursor-we-made")
    assert caught.value.status == 400
    assert len(sim.requests) == 1


def test_the_limit_is_checked_against_the_provider_maximum(client: Client) -> None:
    with pytest.raises(ValueError, match=r"limit must be 1\.\.100"):
        client.fetch_page(LI, cursor=None, limit=101, stats=RequestStats())


# -- errors --------------------------------------------------------------------------------------------


def expected_class(error_type: str, status: int) -> type[ApiError]:
    """What docs/api.md#errors says, written out again independently of the client's tables."""
    if status == 401:
        return CredentialError
    if error_type == "errors/account_restricted":
        return AccountRestrictedError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if error_type == "errors/authentication_intent_error":
        return ServerError
    if status == 501:
        return NotImplementedByApiError
    if error_type == "errors/provider_error":
        return ProviderLimitError
    return TransientApiError


@pytest.mark.parametrize("error_type", sorted(DOCUMENTED_ERRORS))
def test_every_documented_error_lands_in_its_class_retried_only_if_retryable(
    sim: Simulator, clock: FakeClock, error_type: str
) -> None:
    status, title = DOCUMENTED_ERRORS[error_type]
    sim.inject(
        Fault.error(error_type, detail="Detail of it.", instance="req_0123"), account_id="acc_li", times=-1
    )
    stats = RequestStats()
    with make_client(sim.base_url, clock, max_attempts=3) as client, pytest.raises(PostpressError) as caught:
        client.fetch_page(LI, cursor=None, limit=100, stats=stats)

    error = caught.value
    cls = expected_class(error_type, status)
    assert type(error) is cls
    assert isinstance(error, ApiError)
    assert (error.type, error.error_type, error.status) == (error_type, error_type, status)
    assert (error.title, error.detail, error.instance) == (title, "Detail of it.", "req_0123")
    assert error.error_detail == {
        "status": status,
        "title": title,
        "detail": "Detail of it.",
        "instance": "req_0123",
    }
    assert str(error).startswith(f"{status} {error_type}: {title} (Detail of it.) [instance req_0123]")
    # A provider_error may be the account's limits: one quick retry, never more (max_attempts is 3).
    attempts = {TransientApiError: 3, ProviderLimitError: 2}.get(cls, 1)
    assert error.attempts == attempts
    assert len(sim.requests_for("acc_li")) == attempts == stats.requests
    assert stats.retries == attempts - 1


def test_a_wrong_key_is_a_credential_error(sim: Simulator, clock: FakeClock) -> None:
    with (
        make_client(sim.base_url, clock, key="pp_live_WRONG_KEY_99") as client,
        pytest.raises(CredentialError) as caught,
    ):
        fetch(client)
    assert caught.value.type == "errors/invalid_credentials"
    assert not sim.requests[0].key_ok
    assert "pp_live_WRONG_KEY_99" not in str(caught.value) + repr(caught.value)


def test_an_unknown_account_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        fetch(client, linkedin_source(name="x", account_id="acc_nope"))


def test_an_html_error_page_is_classed_by_status_and_not_retried(sim: Simulator, client: Client) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    sim.inject(Fault.body(html, status=502, content_type="text/html"), account_id="acc_li")
    with pytest.raises(ServerError) as caught:
        fetch(client)
    assert caught.value.error_type == "http_502"
    assert caught.value.detail is not None and "not an error envelope (text/html" in caught.value.detail
    assert len(sim.requests) == 1


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


# -- bad bodies and cursor loops ------------------------------------------------------------------------


def drop_urn_of_item_3(page: dict[str, Any]) -> dict[str, Any]:
    del page["items"][3]["urn"]
    return page


def set_item(index: int, **fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def transform(page: dict[str, Any]) -> dict[str, Any]:
        page["items"][index].update(fields)
        return page

    return transform


BAD = [
    ("not JSON", Fault.body(b"Service OK"), "body is not JSON"),
    (
        "HTML with status 200",
        Fault.body(b"<!doctype html><html><body>Login</body></html>", content_type="text/html"),
        "body is not JSON",
    ),
    ("empty body", Fault.body(b""), "body is empty"),
    ("wrong object", Fault.page_transform(lambda p: {**p, "object": "List"}), "object: expected"),
    (
        "other provider's variant",
        Fault.wrong_variant(),
        "items[0]: the items look like instagram's, not linkedin's: is the provider of this source right?",
    ),
    (
        "empty cursor",
        Fault.page_transform(lambda p: {**p, "cursor": ""}),
        "cursor: Expected `str` of length >= 1",
    ),
    ("items not a list", Fault.page_transform(lambda p: {**p, "items": {}}), "items: Expected `array`"),
    (
        "no cursor field",
        Fault.page_transform(lambda p: {k: v for k, v in p.items() if k != "cursor"}),
        "Object missing required field `cursor`",
    ),
    ("bad gzip", Fault.body(b"not gzip", headers={"Content-Encoding": "gzip"}), "could not be decoded"),
]


@pytest.mark.parametrize(("fault", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_every_bad_body_is_an_invalid_response_naming_the_problem(
    sim: Simulator, client: Client, fault: Fault, message: str
) -> None:
    sim.inject(fault, account_id="acc_li")
    with pytest.raises(InvalidResponseError) as caught:
        fetch(client)
    assert message in str(caught.value)
    assert caught.value.error_type == "invalid_response"
    assert caught.value.error_detail["detail"] == caught.value.message
    assert caught.value.attempts == 1
    assert len(sim.requests) == 1  # a bad body is not retried: the same request gets the same page


def test_items_with_unusable_fields_or_no_id_do_not_fail_the_page(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.page_transform(drop_urn_of_item_3), account_id="acc_li", times=1)
    sim.inject(Fault.page_transform(set_item(0, id="", name=5)), account_id="acc_li", on_page=1)
    first, second = list(client.pages(LI, cursor=None, limit=100, stats=RequestStats()))[:2]
    assert (first.coerced, len(first.rejected), len(first.items)) == (1, 0, 100)
    assert first.items[3].urn is None
    assert (second.coerced, [r.reason for r in second.rejected], len(second.items)) == (
        0,
        ["id is empty"],
        99,
    )


def test_a_bad_page_mid_listing_stops_it_after_the_good_pages(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.wrong_variant(), account_id="acc_li", on_page=2)
    seen = []
    with pytest.raises(InvalidResponseError):
        for page in client.pages(LI, cursor=None, limit=100, stats=RequestStats()):
            seen.append(page)
    assert len(seen) == 2


def test_a_repeated_cursor_is_a_cursor_loop(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.repeat_cursor(), account_id="acc_li", on_page=1)
    seen = []
    with pytest.raises(CursorLoopError) as caught:
        for page in client.pages(LI, cursor=None, limit=100, stats=RequestStats()):
            seen.append(page)
    # The page that loops is not handed out: its cursor must not become a checkpoint.
    assert len(seen) == 1
    assert caught.value.error_type == "cursor_loop"
    assert "already requested" in str(caught.value)
    assert len(sim.requests) == 2


def test_a_cursor_back_to_the_starting_cursor_is_a_loop(sim: Simulator, client: Client) -> None:
    start = encode_cursor(100)
    sim.inject(Fault.repeat_cursor(), account_id="acc_li")
    with pytest.raises(CursorLoopError):
        list(client.pages(LI, cursor=start, limit=100, stats=RequestStats()))


def test_a_cursor_back_to_an_earlier_page_is_a_loop(sim: Simulator, client: Client) -> None:
    sim.inject(
        Fault.page_transform(lambda p: {**p, "cursor": encode_cursor(100)}), account_id="acc_li", on_page=2
    )
    sim.add_account("acc_big", "linkedin", followers=1000)
    with pytest.raises(CursorLoopError):
        list(client.pages(LI, cursor=None, limit=100, stats=RequestStats()))


def test_more_pages_than_max_pages_is_a_cursor_loop(sim: Simulator, client: Client) -> None:
    seen = []
    with pytest.raises(CursorLoopError, match="more than 2 pages") as caught:
        for page in client.pages(LI, cursor=None, limit=100, stats=RequestStats(), max_pages=2):
            seen.append(page)
    assert len(seen) == 2
    assert caught.value.pages == 2
    assert len(sim.requests) == 2


def test_a_truncated_listing_just_ends(sim: Simulator, client: Client) -> None:
    # The client cannot tell an early `cursor: null` from the end; the unfollow guard handles it.
    sim.inject(Fault.truncate(), account_id="acc_li")
    pages = list(client.pages(LI, cursor=None, limit=100, stats=RequestStats()))
    assert len(pages) == 1 and pages[0].cursor is None


# -- pacing through the client -------------------------------------------------------------------------


def test_requests_of_an_account_are_spaced_by_the_interval_plus_jitter(
    sim: Simulator, clock: FakeClock
) -> None:
    with make_client(sim.base_url, clock, interval=3.0) as client:
        stats = RequestStats()
        list(client.pages(LI, cursor=None, limit=100, stats=stats))
    assert len(clock.sleeps) == 2
    assert all(3.0 <= s <= 4.5 for s in clock.sleeps)
    assert stats.waited == pytest.approx(sum(clock.sleeps))


def test_one_request_in_flight_per_account_across_threads(sim: Simulator) -> None:
    sim.set_latency(0.02)
    with make_client(sim.base_url, SystemClock()) as client:

        def work() -> None:
            for _ in range(3):
                fetch(client, LI)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(sim.requests_for("acc_li")) == 12
    assert sim.max_in_flight("acc_li") == 1


def test_different_accounts_run_concurrently(sim: Simulator) -> None:
    accounts = [f"acc_par_{i}" for i in range(4)]
    for account in accounts:
        sim.add_account(account, "instagram", followers=5)
    # Each request is held in the server until all four are in flight at once: had the client queued
    # them behind each other, the first would never be answered and the barrier would break (an
    # error of the simulator, which make_sim turns into this test's failure).
    all_in_flight = threading.Barrier(len(accounts), timeout=30)
    met: list[int] = []
    sim.on_request(lambda record: met.append(all_in_flight.wait()))
    with make_client(sim.base_url, SystemClock(), interval=10.0) as client:
        threads = [
            threading.Thread(target=fetch, args=(client, instagram_source(name=a, account_id=a)))
            for a in accounts
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(sim.requests) == 4
    assert sorted(met) == [0, 1, 2, 3]  # every request was in flight with the three others


def test_real_spacing_is_at_least_the_interval_and_not_a_fixed_rhythm(sim: Simulator) -> None:
    sim.add_account("acc_small_pages", "linkedin", followers=60)
    source = linkedin_source(name="small", account_id="acc_small_pages")
    pacer = Pacer(SystemClock(), random.Random(3))
    with make_client(sim.base_url, SystemClock(), interval=0.05, pacer=pacer) as client:
        pages = list(client.pages(source, cursor=None, limit=10, stats=RequestStats()))
    assert len(pages) == 6
    starts = [r.started for r in sim.requests_for("acc_small_pages")]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.048 for gap in gaps), gaps  # a hair of slack for the server's own clock read
    assert max(gaps) - min(gaps) > 0.005, gaps


# -- the key stays secret -------------------------------------------------------------------------------


def test_the_key_never_appears_in_errors_reprs_or_logs(
    sim: Simulator, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that echoes the key back, in every place it could.
    faults = [
        Fault.error("errors/invalid_credentials", title=f"bad {KEY}", detail=f"key {KEY}", instance=KEY),
        Fault.body(f"<html>{KEY}</html>".encode(), status=502, content_type="text/html"),
        Fault.body(f"oops {KEY}".encode(), status=200),
        Fault.page_transform(lambda p: {**p, "object": KEY}),
    ]
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs, make_client(sim.base_url, clock, max_attempts=2) as client:
        texts.append(repr(client))
        for fault in faults:
            sim.inject(fault, account_id="acc_li")
            with pytest.raises(PostpressError) as caught:
                fetch(client)
            error = caught.value
            texts += [str(error), repr(error), repr(error.args), repr(error.error_detail), repr(vars(error))]
        # Retried errors are logged: their text must be scrubbed too.
        sim.inject(
            Fault.error("errors/service_unavailable", detail=f"echo {KEY}"), account_id="acc_li", times=-1
        )
        with pytest.raises(TransientApiError) as caught:
            fetch(client)
        texts += [str(caught.value), repr(caught.value.error_detail)]
    texts += [repr(event) for event in logs]
    texts += [record.getMessage() + repr(record.args) for record in caplog.records]
    assert any(e["event"] == "api.retry" for e in logs)
    assert texts
    for text in texts:
        assert KEY not in text


def test_a_malformed_key_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError) as caught:
        make_client("http://127.0.0.1:1/api/v1", FakeClock(), key="pp live\nsecret")
    assert "secret" not in str(caught.value)


def test_a_base_url_without_scheme_fails_at_once(clock: FakeClock) -> None:
    with make_client("api.postpress.ai/api/v1", clock) as client, pytest.raises(NetworkError) as caught:
        fetch(client)
    assert caught.value.attempts == 1
    assert "api.postpress.ai/api/v1" in str(caught.value)
    assert clock.sleeps == []
