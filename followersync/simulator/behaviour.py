"""How a simulator is told to behave: faults to inject, callbacks on each request, latency, the clock,
and the real service's quirks (listings closed early, the cache, request limits)."""

from __future__ import annotations

import time
from collections.abc import Callable

from followersync.simulator.faults import Fault, Injection
from followersync.simulator.quirks import CachePolicy, LimitAnswer, LimitPolicy
from followersync.simulator.records import RequestRecord
from followersync.simulator.state import SimulatorState


class BehaviourControls:
    """The `Simulator`'s controls of how it answers (a base class of `Simulator`)."""

    _state: SimulatorState

    def inject(
        self,
        fault: Fault,
        *,
        account_id: str | None = None,
        on_request: int | None = None,
        on_page: int | None = None,
        times: int = 1,
    ) -> None:
        """Apply `fault` to chosen requests (of `account_id` only, when given).

        - `on_request=N`: the Nth request (counted per account when `account_id` is given, else
          over all requests), and the `times - 1` after it; times=-1: every one from the Nth.
        - `on_page=k`: the next `times` requests for page k of a listing (0 = no cursor;
          k = offset // limit).
        - neither: the next `times` requests.

        When several injections match one request, the earliest injected wins (one fault per request).
        """
        if on_request is not None and on_page is not None:
            raise ValueError("give on_request or on_page, not both")
        if times == 0 or times < -1:
            raise ValueError("times must be positive, or -1 for forever")
        with self._state.lock:
            self._state.injections.append(Injection(fault, account_id, on_request, on_page, times))

    def clear_faults(self) -> None:
        """Forget every injected fault not yet used."""
        with self._state.lock:
            self._state.injections.clear()
            for listing in self._state.listings.values():
                listing.repeat_armed = None

    def on_request(self, callback: Callable[[RequestRecord], object]) -> None:
        """Call `callback(record)` for each request after it is recorded and before its page is built
        (the record's status is still 0). Runs in the handler thread, outside the simulator's lock,
        so it may call follow/unfollow to churn the listing mid-pass."""
        with self._state.lock:
            self._state.callbacks.append(callback)

    def set_latency(self, seconds: float) -> None:
        """Delay every response by `seconds` from now on."""
        self._state.latency = seconds

    def set_clock(self, clock: Callable[[], float] | None) -> None:
        """Time the cache and the request limits by `clock` from now on (None: `time.monotonic`).

        Ages and windows already running are measured on the new clock as they stand: switch
        clocks before the first request, or to one that continues the old one."""
        self._state.clock = clock or time.monotonic

    # -- the real service's quirks --------------------------------------------------------------

    def close_listing_early(self, account_id: str, *, after: int | None, user_id: str | None = None) -> None:
        """From now on every pass of the listing (account_id, user_id) ends after its first `after`
        followers: the page that reaches `after` is cut there and its cursor is null, and a cursor
        beyond gets an empty last page. `after=None` serves the whole listing again.

        Like the real service, which for some accounts lists a fixed sample and then `cursor: null`.
        The listing itself is untouched (`follower_ids` still returns everyone).
        """
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise ValueError(f"after must be an integer >= 0 or None, not {after!r}")
        with self._state.lock:
            listing = self._state.listing(account_id, user_id)
            listing.closes_after = after
            listing.changed()

    def enable_cache(
        self, account_id: str | None = None, *, ttl: float = 3600, honour_no_cache: bool = True
    ) -> None:
        """Cache the answers of `account_id` (None: of every account without a setting of its own)
        for `ttl` seconds, as the real service does (up to an hour), on the simulator's clock.

        A page is cached per request path and query parameters. An answer from the cache is sent
        with `Age: <whole seconds since it was cached>` and `X-Cache: HIT`, as it was when cached
        (later follows, unfollows and profile changes do not show until it expires); every other
        answer to the account's requests carries `X-Cache: MISS`, and a fresh 200 page is cached.
        Errors are never cached. A request with `Cache-Control: no-cache` skips the cache and
        refreshes the entry, unless `honour_no_cache=False` (a misbehaving cache that serves the
        cached page anyway, so a client's handling of `Age` can be tested).

        An answer from the cache never reached the provider: it neither counts against a request
        limit nor is refused by one, and gets no injected page fault (which it uses up).
        """
        if ttl <= 0:
            raise ValueError("ttl must be positive (disable_cache turns the cache off)")
        with self._state.lock:
            self._state.cache_policies[account_id] = CachePolicy(ttl, honour_no_cache)

    def disable_cache(self, account_id: str | None = None) -> None:
        """No cache for `account_id` from now on (even when enabled for every account); None: no
        cache for any account. The answers cached so far are forgotten either way."""
        with self._state.lock:
            if account_id is None:
                self._state.cache_policies.clear()
            else:
                self._state.cache_policies[account_id] = None
            self._state.cache.clear()

    def limit_requests(
        self,
        account_id: str | None = None,
        *,
        max_requests: int,
        window: float,
        answer: LimitAnswer = "provider_error",
        headers: bool = False,
    ) -> None:
        """At most `max_requests` answers per `window` seconds for `account_id` (None: for each
        account without a limit of its own, each counted on its own), on the simulator's clock.

        A fixed window that starts at the account's first request when none is active and lasts
        `window` seconds; every request answered in it counts (pages, and the 400/404 a bad one
        gets). Beyond `max_requests` the answer is a 500 `errors/provider_error` envelope
        (`answer="provider_error"`, what the real service mostly sends) or a 429
        `errors/too_many_requests` without Retry-After (`answer="rate_limited"`); those refusals
        are not counted and do not extend the window. With `headers=True` every answer of the
        account (refusals too) carries `x-ratelimit-limit`, `x-ratelimit-remaining` (requests left
        in the window after this one) and `x-ratelimit-reset` (whole seconds, rounded up, until
        the window ends; the full window when none is active).

        Not counted: answers from the cache, injected faults that replace the answer (errors,
        disconnects...), and requests refused before they name a listing (no or wrong key, wrong
        path or method, no account_id).
        """
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be an integer >= 1, not {max_requests!r}")
        if window <= 0:
            raise ValueError("window must be positive")
        if answer not in ("provider_error", "rate_limited"):
            raise ValueError(f"answer must be provider_error or rate_limited, not {answer!r}")
        with self._state.lock:
            self._state.limit_policies[account_id] = LimitPolicy(max_requests, window, answer, headers)
            # A new limit starts with a fresh window.
            if account_id is None:
                self._state.windows.clear()
            else:
                self._state.windows.pop(account_id, None)

    def remove_limits(self, account_id: str | None = None) -> None:
        """No request limit for `account_id` from now on (even when set for every account); None:
        no limit for any account."""
        with self._state.lock:
            if account_id is None:
                self._state.limit_policies.clear()
                self._state.windows.clear()
            else:
                self._state.limit_policies[account_id] = None
                self._state.windows.pop(account_id, None)
