"""The postpress API client: one request per page, paced per account, retried only where it helps
(docs/api.md, docs/semantics.md#retries)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import NoReturn

import httpx

from followersync import __version__
from followersync import logging as fslogging
from followersync.api import deadline
from followersync.api.errors import (
    ApiError,
    CursorLoopError,
    InvalidResponseError,
    LimitWindowError,
    NetworkError,
    PostpressError,
    ProviderLimitError,
    RateLimitedError,
    TransientApiError,
    error_from_response,
)
from followersync.api.models import Page, parse_page
from followersync.api.pacing import Pacer
from followersync.clock import Clock, SystemClock
from followersync.config import ApiSettings, ProviderSettings, SourceConfig, api_key_problem
from followersync.domain import PROVIDERS
from followersync.text import one_line

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "Client", "RequestStats"]

BACKOFF_BASE = 1.0  # seconds before the first retry, at most (full jitter draws from 0 to this)
BACKOFF_CAP = 60.0  # no single backoff wait is longer
# The one quick retry of an answer that may mean the provider's limits (500 provider_error, a 429 that
# does not say how long to wait): a second look after 1-3 s, in case it was a blip. Anything more would
# hammer an account that is over its limit; the pass runner rests the account instead.
QUICK_RETRY = (1.0, 3.0)


log = fslogging.get_logger("followersync.api")


@dataclass
class RequestStats:
    """Counters a run keeps: every HTTP attempt is a request, every repeated attempt also a retry."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0  # seconds spent waiting for pacing and backoff


class Client:
    """Lists followers through the postpress API.

    One keep-alive HTTP connection pool, shared safely by many threads. Pacing is per linked account
    (`Pacer`); retries cover network errors, `TransientApiError` and a 429 that says how long to wait;
    an answer that may mean the provider's limits gets one quick retry. Every request asks for a fresh
    answer (`Cache-Control: no-cache`), and an answer's `Age` travels with its page. Where answers
    carry `x-ratelimit-remaining` and `x-ratelimit-reset`, the account waits for its window to reset
    before the request that would be over it (docs/api.md#rate-limits).
    """

    def __init__(
        self,
        api: ApiSettings,
        providers: Mapping[str, ProviderSettings],
        api_key: str,
        *,
        clock: Clock | None = None,
        pacer: Pacer | None = None,
        rng: random.Random | None = None,
        before_request: Callable[[SourceConfig], None] | None = None,
    ) -> None:
        # A header value must be visible ASCII; checking it here keeps the HTTP stack from quoting a
        # bad key back in its own error message. The commands refuse such a key at start
        # (Settings.require_api_key, the same rule); this guards every other caller.
        if api_key_problem(api_key or "") is not None:
            raise ValueError("the API key must be non-empty visible ASCII without spaces")
        self.api = api
        self.providers = dict(providers)
        self.clock: Clock = clock or SystemClock()
        self.pacer = pacer or Pacer(self.clock)
        self._rng = rng or random.Random()
        self._before_request = before_request
        self._secret = api_key
        # Account -> monotonic time its x-ratelimit window resets, once an answer said none is left.
        self._window_resets: dict[str, float] = {}
        self._window_lock = threading.Lock()
        self._url = api.base_url.rstrip("/") + "/users/followers"
        # TLS verification stays on (httpx's default, and nothing here can turn it off).
        self._http = httpx.Client(
            headers={
                "X-API-KEY": api_key,
                "accept": "application/json",
                "user-agent": f"followersync/{__version__}",
                # The upstream caches GET answers for up to an hour: a pass must see the listing as it
                # is now, or a confirming pass could be served the very pages that missed someone.
                "cache-control": "no-cache",
            },
            timeout=api.timeout,
            follow_redirects=False,
        )
        deadline.install(self._http)

    def __repr__(self) -> str:
        return f"Client(base_url={self.api.base_url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def pages(
        self,
        source: SourceConfig,
        *,
        cursor: str | None,
        limit: int,
        stats: RequestStats,
        max_pages: int = 1_000_000,
    ) -> Iterator[Page]:
        """The pages of `source`'s listing from `cursor` (None = the start) until the API says it ended.

        Refuses to go round in circles: a next cursor that was already requested in this listing (the
        starting one included) raises `CursorLoopError` before its page is yielded, since saving that
        page's cursor as a checkpoint would resume the loop; so does a listing longer than `max_pages`.
        """
        requested: set[str] = set() if cursor is None else {cursor}
        count = 0
        while True:
            if count >= max_pages:
                raise CursorLoopError(
                    f"more than {max_pages} pages in one listing; the API keeps returning a next cursor",
                    pages=count,
                )
            page = self.fetch_page(source, cursor=cursor, limit=limit, stats=stats)
            count += 1
            if page.cursor is not None and page.cursor in requested:
                raise CursorLoopError(
                    f"page {count} returned cursor {one_line(page.cursor, 80)!r}, "
                    "which was already requested in this listing",
                    pages=count,
                )
            yield page
            if page.cursor is None:
                return
            requested.add(page.cursor)
            cursor = page.cursor

    def fetch_page(
        self, source: SourceConfig, *, cursor: str | None, limit: int, stats: RequestStats
    ) -> Page:
        """One page of `source`'s followers, retried as the API allows; raises a `PostpressError`."""
        try:
            interval = self.providers[source.provider].min_request_interval
            max_limit = PROVIDERS[source.provider].max_page_size
        except KeyError:
            raise ValueError(f"unknown provider {source.provider!r} for source {source.name!r}") from None
        if not 1 <= limit <= max_limit:
            raise ValueError(f"limit must be 1..{max_limit} for {source.provider}, got {limit}")
        params: dict[str, str | int] = {"account_id": source.account_id}
        if source.user_id is not None:
            params["user_id"] = source.user_id
        params["limit"] = limit
        if cursor is not None:
            params["cursor"] = cursor

        attempt = 0
        backoff_total = 0.0
        while True:
            attempt += 1
            self._wait_for_window(source, stats)
            if self._before_request is not None:
                self._before_request(source)
            outcome = self._attempt(source, interval, params, cursor, attempt, stats)
            if isinstance(outcome, Page):
                return outcome
            error = outcome
            wait = self._retry_wait(error, attempt, backoff_total)
            if wait is None:
                self._raise(error, attempt)
            log.warning(
                "api.retry",
                source=source.name,
                attempt=attempt,
                wait=round(wait, 3),
                error_type=error.error_type,
                error=self._scrubbed(str(error)),
            )
            backoff_total += wait
            stats.waited += wait
            self.clock.sleep(wait)

    def _attempt(
        self,
        source: SourceConfig,
        interval: float,
        params: Mapping[str, str | int],
        cursor: str | None,
        attempt: int,
        stats: RequestStats,
    ) -> Page | PostpressError:
        """One HTTP request: the page, or the error to retry or raise (invalid bodies raise at once)."""
        with self.pacer.slot(source.account_id, interval) as waited:
            stats.waited += waited
            stats.requests += 1
            if attempt > 1:
                stats.retries += 1
            try:
                response, body = self._get(params)
            except httpx.UnsupportedProtocol as exc:
                # A configuration mistake (e.g. base_url without http(s)://): retrying cannot help.
                self._raise(NetworkError(f"cannot call {self.api.base_url!r}: {exc}"), attempt)
            except httpx.TransportError as exc:
                return NetworkError(_describe(exc))
            except httpx.DecodingError as exc:
                self._raise(InvalidResponseError(f"body could not be decoded: {exc}"), attempt)
        self._note_window(source.account_id, response.headers)
        if not response.is_success:
            return error_from_response(response.status_code, body, response.headers, now=self.clock.now())
        try:
            return parse_page(body, source.provider, request_cursor=cursor, age=_age(response.headers))
        except InvalidResponseError as exc:
            exc.error_detail["status"] = response.status_code
            self._raise(exc, attempt)

    def _get(self, params: Mapping[str, str | int]) -> tuple[httpx.Response, bytes]:
        """One GET and its whole body, which must have arrived `api.timeout` after the request started.

        httpx's timeouts bound each read, not the response: a server that answers late and then
        stalls, or sends a byte now and then (a slow loris), would hold the request for twice the
        timeout or forever; `deadline` gives the connect and every write and read only the time
        left. That is wall-clock time on purpose, like the network it bounds; the injected clock only
        paces and backs off.
        """
        with (
            deadline.within(self.api.timeout),
            self._http.stream("GET", self._url, params=params) as response,
        ):
            body = response.read()
        return response, body

    def _note_window(self, account_id: str, headers: httpx.Headers) -> None:
        """Remember when the account's request window resets once an answer says none is left."""
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset = _number(headers.get("x-ratelimit-reset"))
        if remaining is None or reset is None or remaining > 0:
            return
        with self._window_lock:
            self._window_resets[account_id] = self.clock.monotonic() + reset

    def _wait_for_window(self, source: SourceConfig, stats: RequestStats) -> None:
        """Before a request: if the account's window is used up, wait for it to reset when that is
        within `api.max_retry_wait`, else end the run deferred until then (`LimitWindowError`)."""
        with self._window_lock:
            resets = self._window_resets.get(source.account_id)
        if resets is None:
            return
        wait = resets - self.clock.monotonic()
        if wait > self.api.max_retry_wait:
            raise LimitWindowError(
                f"account {source.account_id} has no requests left in its window (x-ratelimit-remaining: 0); "
                f"it resets in {wait:.0f} s",
                retry_after=round(wait, 3),
            )
        with self._window_lock:
            self._window_resets.pop(source.account_id, None)
        if wait > 0:
            log.info("api.window_wait", source=source.name, wait=round(wait, 3))
            stats.waited += wait
            self.clock.sleep(wait)

    def _retry_wait(self, error: PostpressError, attempt: int, backoff_total: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up on `error`."""
        if isinstance(error, ProviderLimitError) or (
            isinstance(error, RateLimitedError) and error.retry_after is None
        ):
            # Maybe the provider's limits: one quick retry, then the pass runner rests the account.
            if attempt > 1:
                return None
            wait = self._rng.uniform(*QUICK_RETRY)
        elif isinstance(error, RateLimitedError):
            wait = error.retry_after or 0.0
        elif isinstance(error, NetworkError | TransientApiError):
            retry_after = error.retry_after if isinstance(error, ApiError) else None
            if retry_after is not None:
                wait = retry_after
            else:
                # Exponential backoff with full jitter: retrying clients spread out instead of colliding.
                ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
                wait = self._rng.uniform(0.0, ceiling)
        else:
            return None
        if attempt >= self.api.max_attempts or backoff_total + wait > self.api.max_retry_wait:
            return None
        return wait

    def _raise(self, error: PostpressError, attempt: int) -> NoReturn:
        error.attempts = attempt
        error.redact(self._secret)
        raise error

    def _scrubbed(self, text: str) -> str:
        return text.replace(self._secret, "[redacted]")


def _number(value: str | None) -> float | None:
    """A header's non-negative number (e.g. `x-ratelimit-remaining: 12`, `Age: 1800`); None if absent
    or not one."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def _age(headers: httpx.Headers) -> float | None:
    """How long the upstream had cached the answer, from its `Age` header (None: fresh, or not said)."""
    return _number(headers.get("age"))


def _describe(exc: httpx.TransportError) -> str:
    """A one-line description of a transport failure, e.g. "ReadTimeout: timed out"."""
    text = one_line(str(exc), 300)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
