"""The simulator: a fake postpress API in a background thread, the controls tests need, and how it answers."""

from __future__ import annotations

import contextlib
import random
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

import msgspec

from followersync.simulator.cursors import decode_cursor, encode_cursor
from followersync.simulator.errors import (
    AUTO,
    DEFAULT_API_KEY,
    DEFAULT_LIMIT,
    DOCUMENTED_ERRORS,
    EXTRA_ERRORS,
    FOLLOWERS_PATHS,
    PROVIDER_MAX_LIMIT,
    Auto,
    SimulatorError,
)
from followersync.simulator.faults import Departure, Fault, Injection
from followersync.simulator.listing import Listing, page_body
from followersync.simulator.people import make_item, other_provider
from followersync.simulator.quirks import (
    CachedAnswer,
    CachePolicy,
    LimitAnswer,
    LimitDecision,
    LimitPolicy,
    LimitWindow,
    asks_no_cache,
    shape_page,
    take_slot,
)
from followersync.simulator.records import RequestRecord
from followersync.simulator.wire import Connection, Request, Response, Server, status_phrase

# A `limit` query parameter that is an integer (RequestRecord.limit is None for anything else).
_INT = re.compile(r"-?[0-9]{1,12}")

# A cached answer is one per request path and query parameters (in any order).
_CacheKey = tuple[str, tuple[tuple[str, str], ...]]

_P = TypeVar("_P")


def _policy(policies: dict[str | None, _P | None], account: str) -> _P | None:
    """The account's own setting (maybe None: turned off for it), else the one for every account."""
    return policies[account] if account in policies else policies.get(None)


class Simulator:
    """A fake postpress API in a background thread, plus the controls tests need.

    Start it with `start()` or a `with` block; `base_url` is then `http://127.0.0.1:PORT/api/v1`
    (the server also answers `/v1/users/followers`). All methods are thread-safe; request handling
    for different accounts (and for the same one) runs in parallel, one thread per connection.

    `clock` (seconds, default `time.monotonic`) times the cache's ages and the request limit's
    windows, so a test can move time on by hand (e.g. `clock=lambda: fake.now().timestamp()`);
    `set_clock` changes it later. Latency, delays and `RequestRecord.started` stay on the real clock.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        latency: float = 0.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._api_key = api_key
        self._clock: Callable[[], float] = clock or time.monotonic
        self._latency = latency
        self._seed = seed
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._providers: dict[str, str] = {}  # account_id -> provider
        self._listings: dict[tuple[str, str | None], Listing] = {}
        self._injections: list[Injection] = []
        self._callbacks: list[Callable[[RequestRecord], object]] = []
        self._seq = 0
        self._account_seq: dict[str | None, int] = {}
        self._in_flight: dict[str | None, int] = {}
        # The cache and the request limits: per account id, None = every account without its own.
        # A policy of None for an account id turns the account's cache off while the rest have one.
        self._cache_policies: dict[str | None, CachePolicy | None] = {}
        self._cache: dict[_CacheKey, CachedAnswer] = {}
        self._limit_policies: dict[str | None, LimitPolicy | None] = {}
        self._windows: dict[str, LimitWindow] = {}
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RequestRecord] = []
        """Every request received, in arrival order (status filled in once answered)."""
        self.errors: list[BaseException] = []
        """Exceptions raised while answering (by the simulator or an on_request callback)."""
        self.departures: list[Departure] = []
        """Every `Fault.departure` that took effect, in order."""

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs and test reports.
        where = self.base_url if self._server else "not started"
        return f"<Simulator {where} accounts={sorted(self._providers)}>"

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        self._stopping.clear()
        self._server = Server(
            (self._host, self._port),
            family,
            answer=self._answer,
            errors=self.errors,
            stopping=self._stopping,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"postpress-simulator:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; idempotent. Sleeping handlers return at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = dict(server.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading its next request
        # Handler threads are daemons, so a callback stuck in a test cannot hang the interpreter;
        # the join only makes a normal stop leave no thread behind.
        deadline = time.monotonic() + 2
        for handler_thread in [*connections.values(), thread]:
            if handler_thread is not None and handler_thread is not threading.current_thread():
                handler_thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc is None and self.errors:
            # A failing callback must fail the test, not just print a traceback nobody reads.
            raise SimulatorError(f"{len(self.errors)} error(s) while answering requests") from self.errors[0]

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT/api/v1`: the client calls `{base_url}/users/followers`."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        host = self._host
        if host in ("", "0.0.0.0"):  # noqa: S104 - only naming the wildcard to replace it
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.server_port}/api/v1"

    @property
    def port(self) -> int:
        """The bound port (useful with port=0)."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._server.server_port

    # -- data ---------------------------------------------------------------------------------------

    def add_account(
        self, account_id: str, provider: str, *, followers: int = 0, user_id: str | None = None
    ) -> None:
        """Create the listing of (account_id, user_id) with `followers` generated followers.

        `user_id` None is the linked account's own followers; another `user_id` is a user or company
        whose followers the account can list (same provider as the account).
        """
        if provider not in PROVIDER_MAX_LIMIT:
            raise ValueError(f"provider must be one of {sorted(PROVIDER_MAX_LIMIT)}, not {provider!r}")
        listing = Listing(self._seed, provider, account_id, user_id)
        # Generated outside the lock: a large listing takes a moment and requests go on meanwhile.
        listing.push_head(listing.new_entries(followers))
        with self._lock:
            known = self._providers.get(account_id)
            if known is not None and known != provider:
                raise ValueError(f"account {account_id!r} is a {known} account, not {provider}")
            if (account_id, user_id) in self._listings:
                raise ValueError(f"listing ({account_id!r}, user_id={user_id!r}) already exists")
            self._providers[account_id] = provider
            self._listings[account_id, user_id] = listing

    def follow(self, account_id: str, count: int = 1, *, user_id: str | None = None) -> list[str]:
        """`count` new followers at the head of the listing; returns their ids, newest first."""
        with self._lock:
            listing = self._listing(account_id, user_id)
            entries = listing.new_entries(count)
            listing.push_head(entries)
        return [e.id for e in reversed(entries)]

    def unfollow(
        self,
        account_id: str,
        ids: Sequence[str] | None = None,
        *,
        count: int = 0,
        user_id: str | None = None,
    ) -> list[str]:
        """Remove the followers `ids` (KeyError for one not in the listing), or else `count` random
        ones (chosen with the simulator's seeded generator); returns the removed ids."""
        with self._lock:
            listing = self._listing(account_id, user_id)
            if ids is not None:
                missing = [i for i in ids if i not in listing.by_id]
                if missing:
                    raise KeyError(f"not following {account_id!r}: {missing[:5]}")
                chosen = list(dict.fromkeys(ids))
            else:
                chosen = [e.id for e in self._rng.sample(listing.entries, min(count, len(listing.entries)))]
            listing.remove(chosen)
        return chosen

    def refollow(self, account_id: str, ids: Sequence[str], *, user_id: str | None = None) -> None:
        """Bring back followers who unfollowed, at the head (the last id becomes the newest)."""
        with self._lock:
            listing = self._listing(account_id, user_id)
            missing = [i for i in ids if i not in listing.gone]
            if missing:
                raise KeyError(f"never unfollowed {account_id!r}: {missing[:5]}")
            listing.push_head([listing.gone[i] for i in ids])

    def change_profile(
        self, account_id: str, follower_id: str, *, user_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """The follower `follower_id` of the listing (account_id, user_id) edits their profile: `fields`
        replace or add to their item's (never `id` or `object`), with `None` as JSON null. Returns
        the item as now served.

        A person is one profile wherever they are listed: every listing of the provider that holds
        them (as a follower now, or as one who left and may come back) serves the new item.
        """
        fixed = sorted({"id", "object"} & set(fields))
        if fixed:
            raise ValueError(f"a profile change cannot change {fixed}")
        with self._lock:
            listing = self._listing(account_id, user_id)
            if follower_id not in listing.by_id:
                raise KeyError(f"not following {account_id!r}: {follower_id!r}")
            item = msgspec.json.decode(listing.by_id[follower_id].body) | fields
            body = msgspec.json.encode(item)
            for other in self._listings.values():
                if other.provider != listing.provider:
                    continue
                entry = other.by_id.get(follower_id) or other.gone.get(follower_id)
                if entry is not None:
                    entry.body = body
                    other.changed()  # its pages are served anew
        return dict(item)

    def follower_ids(self, account_id: str, *, user_id: str | None = None) -> list[str]:
        """The ids of the current listing, in listing order (newest first)."""
        with self._lock:
            return [e.id for e in self._listing(account_id, user_id).entries]

    def followers(self, account_id: str, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """The items of the current listing (fresh dicts, exactly as served), newest first."""
        with self._lock:
            bodies = [e.body for e in self._listing(account_id, user_id).entries]
        return [msgspec.json.decode(b) for b in bodies]

    def accounts(self) -> dict[str, str]:
        """account_id -> provider, for every account added."""
        with self._lock:
            return dict(self._providers)

    def listings(self) -> list[tuple[str, str | None]]:
        """Every (account_id, user_id) served."""
        with self._lock:
            return list(self._listings)

    def _listing(self, account_id: str, user_id: str | None) -> Listing:
        try:
            return self._listings[account_id, user_id]
        except KeyError:
            raise KeyError(f"no listing for account {account_id!r}, user_id {user_id!r}") from None

    # -- behaviour ----------------------------------------------------------------------------------

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
        with self._lock:
            self._injections.append(Injection(fault, account_id, on_request, on_page, times))

    def clear_faults(self) -> None:
        """Forget every injected fault not yet used."""
        with self._lock:
            self._injections.clear()
            for listing in self._listings.values():
                listing.repeat_armed = None

    def on_request(self, callback: Callable[[RequestRecord], object]) -> None:
        """Call `callback(record)` for each request after it is recorded and before its page is built
        (the record's status is still 0). Runs in the handler thread, outside the simulator's lock,
        so it may call follow/unfollow to churn the listing mid-pass."""
        with self._lock:
            self._callbacks.append(callback)

    def set_latency(self, seconds: float) -> None:
        """Delay every response by `seconds` from now on."""
        self._latency = seconds

    def set_clock(self, clock: Callable[[], float] | None) -> None:
        """Time the cache and the request limits by `clock` from now on (None: `time.monotonic`).

        Ages and windows already running are measured on the new clock as they stand: switch
        clocks before the first request, or to one that continues the old one."""
        self._clock = clock or time.monotonic

    # -- the real service's quirks ------------------------------------------------------------------

    def close_listing_early(self, account_id: str, *, after: int | None, user_id: str | None = None) -> None:
        """From now on every pass of the listing (account_id, user_id) ends after its first `after`
        followers: the page that reaches `after` is cut there and its cursor is null, and a cursor
        beyond gets an empty last page. `after=None` serves the whole listing again.

        Like the real service, which for some accounts lists a fixed sample and then `cursor: null`.
        The listing itself is untouched (`follower_ids` still returns everyone).
        """
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise ValueError(f"after must be an integer >= 0 or None, not {after!r}")
        with self._lock:
            listing = self._listing(account_id, user_id)
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
        with self._lock:
            self._cache_policies[account_id] = CachePolicy(ttl, honour_no_cache)

    def disable_cache(self, account_id: str | None = None) -> None:
        """No cache for `account_id` from now on (even when enabled for every account); None: no
        cache for any account. The answers cached so far are forgotten either way."""
        with self._lock:
            if account_id is None:
                self._cache_policies.clear()
            else:
                self._cache_policies[account_id] = None
            self._cache.clear()

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
        with self._lock:
            self._limit_policies[account_id] = LimitPolicy(max_requests, window, answer, headers)
            # A new limit starts with a fresh window.
            if account_id is None:
                self._windows.clear()
            else:
                self._windows.pop(account_id, None)

    def remove_limits(self, account_id: str | None = None) -> None:
        """No request limit for `account_id` from now on (even when set for every account); None:
        no limit for any account."""
        with self._lock:
            if account_id is None:
                self._limit_policies.clear()
                self._windows.clear()
            else:
                self._limit_policies[account_id] = None
                self._windows.pop(account_id, None)

    # -- records ------------------------------------------------------------------------------------

    def requests_for(self, account_id: str) -> list[RequestRecord]:
        """The recorded requests of one account, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.account_id == account_id]

    def max_in_flight(self, account_id: str) -> int:
        """The most requests ever in flight at once for `account_id` (0 if none arrived)."""
        return max((r.in_flight for r in self.requests_for(account_id)), default=0)

    def in_flight(self, account_id: str) -> int:
        """How many requests of `account_id` are being handled right now."""
        with self._lock:
            return self._in_flight.get(account_id, 0)

    def clear_requests(self) -> None:
        """Forget the recorded requests (sequence numbers keep counting)."""
        with self._lock:
            self.requests.clear()

    # -- answering ----------------------------------------------------------------------------------

    def _answer(self, request: Request, connection: Connection) -> Response | None:
        """Record one request, apply any fault, and give the response to send (None: nobody to answer)."""
        method, target, headers = request.method, request.target, request.headers
        started = time.monotonic()
        split = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)

        def param(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        account_id, user_id, cursor, limit_raw = (
            param("account_id"),
            param("user_id"),
            param("cursor"),
            param("limit"),
        )
        limit = int(limit_raw) if limit_raw is not None and _INT.fullmatch(limit_raw) else None
        key_in_query = bool(self._api_key) and (
            self._api_key in target or self._api_key in urllib.parse.unquote_plus(target)
        )
        key_sent = headers.get("x-api-key") is not None
        key_ok = headers.get("x-api-key") == self._api_key
        offset = 0 if cursor is None else decode_cursor(cursor)

        with self._lock:
            self._seq += 1
            account_seq = self._account_seq[account_id] = self._account_seq.get(account_id, 0) + 1
            in_flight = self._in_flight[account_id] = self._in_flight.get(account_id, 0) + 1
            provider = self._providers.get(account_id or "")
            max_limit = PROVIDER_MAX_LIMIT.get(provider or "", DEFAULT_LIMIT)
            # 0 marks a limit the API rejects (not an integer, or < 1): there is no page index then.
            effective = (
                0
                if limit_raw is not None and (limit is None or limit < 1)
                else min(limit or DEFAULT_LIMIT, max_limit)
            )
            record = RequestRecord(
                seq=self._seq,
                account_seq=account_seq,
                path=split.path,
                account_id=account_id,
                user_id=user_id,
                cursor=cursor,
                limit=limit,
                key_ok=key_ok,
                key_sent=key_sent,
                key_in_query=key_in_query,
                in_flight=in_flight,
                started=started,
                status=0,
                method=method,
                page=offset // effective if offset is not None and effective >= 1 else None,
                cache_control=headers.get("cache-control"),
            )
            fault = self._take_fault(record)
            if fault is not None:
                record = replace(record, fault=fault.kind)
            position = len(self.requests)
            self.requests.append(record)
            callbacks = list(self._callbacks)

        response: Response | None = None
        cache_state: str | None = None
        try:
            for callback in callbacks:
                callback(record)
            wait = self._latency + (fault.seconds if fault is not None and fault.kind == "delay" else 0.0)
            if wait > 0 and not connection.wait(wait):
                response = None  # the client hung up (or we are stopping): nobody to answer
            elif fault is not None and not fault.is_page_shaping and fault.kind != "delay":
                response = self._fault_response(fault, record, offset, effective)
            else:
                page_fault = fault if fault is not None and fault.is_page_shaping else None
                response, cache_state = self._served_response(
                    record, method, offset, effective, page_fault, split.query
                )
        except Exception as exc:
            self.errors.append(exc)
            traceback.print_exc(file=sys.stderr)
            response = self._envelope("errors/unexpected_error", record, detail=f"simulator: {exc!r}")
        finally:
            # Out of flight before the bytes leave: a client that reads the response and at once
            # starts its next request (maybe on another connection) must not be counted twice.
            with self._lock:
                self._in_flight[account_id] -= 1
                if response is not None and response.action != "disconnect":
                    self._set_status(position, record, response.status, cache_state)
        return response

    def _served_response(
        self,
        record: RequestRecord,
        method: str,
        offset: int | None,
        limit: int,
        fault: Fault | None,
        query: str,
    ) -> tuple[Response, str | None]:
        """The answer through the service's cache and request limit; and "HIT" or "MISS" when the
        account's answers go through a cache (None when they do not)."""
        refused = self._refusal(record, method)
        if refused is not None:
            return refused, None
        account = record.account_id
        assert account is not None  # _refusal answers a request without one
        with self._lock:
            cache = _policy(self._cache_policies, account)
            limit_policy = _policy(self._limit_policies, account)
        if cache is None and limit_policy is None:
            return self._page_response(record, offset, limit, fault), None
        now = self._clock()
        cache_key: _CacheKey = (record.path, tuple(sorted(urllib.parse.parse_qsl(query, True))))
        with self._lock:
            if cache is not None and not (cache.honour_no_cache and asks_no_cache(record.cache_control)):
                hit = self._cache.get(cache_key)
                if hit is not None and now - hit.stored_at < cache.ttl:
                    age = max(0, int(now - hit.stored_at))
                    decision = self._limit_decision(limit_policy, account, now, count=False)
                    hit_headers = (("Age", str(age)), ("X-Cache", "HIT"), *decision.headers)
                    return Response(200, hit.body, headers=hit_headers), "HIT"
            decision = self._limit_decision(limit_policy, account, now, count=True)
        if decision.refused:
            assert limit_policy is not None
            response = self._envelope(
                "errors/too_many_requests"
                if limit_policy.answer == "rate_limited"
                else "errors/provider_error",
                record,
                detail=f"Request limit reached: {limit_policy.max_requests} requests per "
                f"{limit_policy.window:g} s for account {account}.",
            )
        else:
            response = self._page_response(record, offset, limit, fault)
            if cache is not None and response.status == 200:
                with self._lock:
                    self._cache[cache_key] = CachedAnswer(now, response.body)
        response.headers = (
            *response.headers,
            *((("X-Cache", "MISS"),) if cache is not None else ()),
            *decision.headers,
        )
        return response, None if cache is None else "MISS"

    def _limit_decision(
        self, policy: LimitPolicy | None, account: str, now: float, *, count: bool
    ) -> LimitDecision:
        """Count (or with count=False only look at) one request against the account's limit."""
        if policy is None:
            return LimitDecision(refused=False)
        window, decision = take_slot(policy, self._windows.get(account), now, count=count)
        if window is not None:
            self._windows[account] = window
        return decision

    def _set_status(self, position: int, record: RequestRecord, status: int, cache: str | None) -> None:
        # clear_requests may have emptied the list since; only patch our own record.
        if position < len(self.requests) and self.requests[position] is record:
            self.requests[position] = replace(record, status=status, cache=cache)

    def _take_fault(self, record: RequestRecord) -> Fault | None:
        for injection in self._injections:
            if injection.matches(record):
                if injection.use():
                    self._injections.remove(injection)
                return injection.fault
        return None

    def _fault_response(
        self, fault: Fault, record: RequestRecord, offset: int | None, limit: int
    ) -> Response:
        if fault.kind == "disconnect":
            return Response(0, b"", action="disconnect")
        if fault.kind == "error" or fault.kind == "rate_limited":
            return self._envelope(
                fault.error_type,
                record,
                status=fault.status,
                title=fault.title,
                detail=fault.detail,
                instance=fault.instance,
                headers=fault.headers,
            )
        if fault.kind == "body":
            return Response(fault.status, fault.body_bytes, fault.content_type, fault.headers)
        if fault.kind == "stall":
            # The normal answer, cut short: the client gets valid headers and then nothing more.
            normal = self._normal_response(record, record.method, offset, limit, None)
            normal.action, normal.stall_seconds = "stall", fault.seconds
            return normal
        raise AssertionError(f"not a replacing fault: {fault.kind}")

    def _normal_response(
        self,
        record: RequestRecord,
        method: str,
        offset: int | None,
        limit: int,
        fault: Fault | None,
    ) -> Response:
        """The answer the real API would give: an error envelope or a page (maybe fault-shaped)."""
        refused = self._refusal(record, method)
        if refused is not None:
            return refused
        return self._page_response(record, offset, limit, fault)

    def _refusal(self, record: RequestRecord, method: str) -> Response | None:
        """The error for a request that names no listing to answer from (None: it names one)."""
        if record.path not in FOLLOWERS_PATHS:
            return self._envelope("errors/resource_not_found", record, detail=f"No route {record.path}.")
        if method != "GET":
            return self._envelope(
                "errors/method_not_allowed", record, headers=(("Allow", "GET"),), detail=None
            )
        if not record.key_ok:
            # As the reference words the two: no key at all is `missing_credentials`, a key that is
            # not the right one `invalid_credentials` (docs/api.md#errors).
            if record.key_sent:
                return self._envelope(
                    "errors/invalid_credentials",
                    record,
                    detail="The X-API-KEY header does not carry a valid API key.",
                )
            return self._envelope(
                "errors/missing_credentials",
                record,
                detail="Send your API key in the X-API-KEY header.",
            )
        if not record.account_id:
            return self._envelope("errors/resource_not_found", record, detail="account_id is required.")
        return None

    def _page_response(
        self, record: RequestRecord, offset: int | None, limit: int, fault: Fault | None
    ) -> Response:
        """A page of the request's listing, or the 400/404 its parameters get."""
        assert record.account_id is not None  # _refusal answered a request without one
        if record.cursor is not None and offset is None:
            return self._envelope(
                "errors/invalid_parameters", record, detail="cursor is not a valid pagination cursor."
            )
        with self._lock:
            listing = self._listings.get((record.account_id, record.user_id))
            if listing is None:
                what = (
                    f"account {record.account_id}"
                    if record.account_id not in self._providers
                    else f"user {record.user_id} for account {record.account_id}"
                )
                return self._envelope("errors/resource_not_found", record, detail=f"No {what}.")
            if limit < 1:
                return self._envelope(
                    "errors/invalid_parameters", record, detail="limit must be an integer >= 1."
                )
            assert offset is not None
            if fault is not None and fault.kind == "departure":
                self._depart(listing, offset)
            body, next_cursor = listing.page(offset, limit)
            armed = listing.repeat_armed
            if armed is not None and record.cursor == armed:
                # The second half of Fault.repeat_cursor on a first page: send the cursor again.
                listing.repeat_armed = None
                body = self._reshape(listing, offset, limit, armed)
            elif fault is not None and fault.transform is None and fault.kind != "departure":
                body = self._apply_page_fault(fault, listing, record, offset, limit, next_cursor)
        if fault is not None and fault.transform is not None:
            # Outside the lock: the test's function may call back into the simulator.
            body = msgspec.json.encode(fault.transform(msgspec.json.decode(body)))
        return Response(200, body)

    def _depart(self, listing: Listing, offset: int) -> None:
        """A random follower from before `offset` (already listed by this pass) leaves."""
        if not 0 < offset <= len(listing.entries):
            return  # nothing listed yet (page 0), or past the end: nobody can shift
        left = listing.entries[self._rng.randrange(offset)].id
        skipped = listing.entries[offset].id if offset < len(listing.entries) else None
        listing.remove([left])
        self.departures.append(Departure(listing.account_id, listing.user_id, left, skipped))

    def _reshape(self, listing: Listing, offset: int, limit: int, cursor: str | None) -> bytes:
        return page_body([e.body for e in listing.window(offset, limit)], cursor)

    def _apply_page_fault(
        self,
        fault: Fault,
        listing: Listing,
        record: RequestRecord,
        offset: int,
        limit: int,
        next_cursor: str | None,
    ) -> bytes:
        """The page reshaped by `fault` (all but page_transform, which runs outside the lock)."""
        if fault.kind == "truncate":
            return self._reshape(listing, offset, limit, None)
        if fault.kind == "repeat_cursor":
            if record.cursor is not None:
                return self._reshape(listing, offset, limit, record.cursor)
            repeated = next_cursor or encode_cursor(0)
            listing.repeat_armed = repeated
            return self._reshape(listing, offset, limit, repeated)
        if fault.kind == "wrong_variant":
            other = other_provider(listing.provider)
            items = [
                msgspec.json.encode(
                    make_item(other, listing.seed, listing.account_id, listing.user_id, e.index)
                )
                for e in listing.window(offset, limit)
            ]
            return page_body(items, next_cursor)
        if fault.is_page_shaping:  # the quirks: null_fields, wrong_types, items_without_id, short_page
            return shape_page(fault, listing, offset, limit)
        raise AssertionError(f"not a page fault: {fault.kind}")

    def _envelope(
        self,
        error_type: str,
        record: RequestRecord,
        *,
        status: int | None = None,
        title: str | None = None,
        detail: str | Auto | None = AUTO,
        instance: str | Auto | None = AUTO,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        known = DOCUMENTED_ERRORS.get(error_type) or EXTRA_ERRORS.get(error_type)
        status = status if status is not None else (known[0] if known else 500)
        envelope: dict[str, Any] = {"title": title or (known[1] if known else status_phrase(status))}
        if detail is AUTO:
            detail = f"Simulated {error_type} for account {record.account_id}."
        if detail is not None:
            envelope["detail"] = detail
        if instance is AUTO:
            instance = f"req_{uuid.uuid4().hex[:24]}"
        if instance is not None:
            envelope["instance"] = instance
        envelope["type"] = error_type
        envelope["status"] = status
        return Response(status, msgspec.json.encode(envelope), headers=headers)
