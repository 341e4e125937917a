"""How one request is answered: read its query, record it, pick the fault injected for it, then give
the fault's answer in place of the normal one, or route it through the account's cache and request
limit to a page (pages.py) or the error the API gives (no key, a wrong path or method...)."""

from __future__ import annotations

import re
import sys
import time
import traceback
import urllib.parse
from dataclasses import replace
from typing import TypeVar

from followersync.simulator.cursors import decode_cursor
from followersync.simulator.errors import DEFAULT_LIMIT, FOLLOWERS_PATHS, PROVIDER_MAX_LIMIT, envelope
from followersync.simulator.faults import Fault
from followersync.simulator.pages import page_response
from followersync.simulator.quirks import (
    CachedAnswer,
    CacheKey,
    LimitDecision,
    LimitPolicy,
    asks_no_cache,
    take_slot,
)
from followersync.simulator.records import RequestRecord
from followersync.simulator.state import SimulatorState
from followersync.simulator.wire import Connection, Request, Response

# A `limit` query parameter that is an integer (RequestRecord.limit is None for anything else).
_INT = re.compile(r"-?[0-9]{1,12}")

_P = TypeVar("_P")


def _policy(policies: dict[str | None, _P | None], account: str) -> _P | None:
    """The account's own setting (maybe None: turned off for it), else the one for every account."""
    return policies[account] if account in policies else policies.get(None)


def answer(state: SimulatorState, request: Request, connection: Connection) -> Response | None:
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
    key_in_query = bool(state.api_key) and (
        state.api_key in target or state.api_key in urllib.parse.unquote_plus(target)
    )
    key_sent = headers.get("x-api-key") is not None
    key_ok = headers.get("x-api-key") == state.api_key
    offset = 0 if cursor is None else decode_cursor(cursor)

    with state.lock:
        state.seq += 1
        account_seq = state.account_seq[account_id] = state.account_seq.get(account_id, 0) + 1
        in_flight = state.in_flight[account_id] = state.in_flight.get(account_id, 0) + 1
        provider = state.providers.get(account_id or "")
        max_limit = PROVIDER_MAX_LIMIT.get(provider or "", DEFAULT_LIMIT)
        # 0 marks a limit the API rejects (not an integer, or < 1): there is no page index then.
        effective = (
            0
            if limit_raw is not None and (limit is None or limit < 1)
            else min(limit or DEFAULT_LIMIT, max_limit)
        )
        record = RequestRecord(
            seq=state.seq,
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
        fault = _take_fault(state, record)
        if fault is not None:
            record = replace(record, fault=fault.kind)
        position = len(state.requests)
        state.requests.append(record)
        callbacks = list(state.callbacks)

    response: Response | None = None
    cache_state: str | None = None
    try:
        for callback in callbacks:
            callback(record)
        wait = state.latency + (fault.seconds if fault is not None and fault.kind == "delay" else 0.0)
        if wait > 0 and not connection.wait(wait):
            response = None  # the client hung up (or we are stopping): nobody to answer
        elif fault is not None and not fault.is_page_shaping and fault.kind != "delay":
            response = _fault_response(state, fault, record, offset, effective)
        else:
            page_fault = fault if fault is not None and fault.is_page_shaping else None
            response, cache_state = _served_response(
                state, record, method, offset, effective, page_fault, split.query
            )
    except Exception as exc:
        state.errors.append(exc)
        traceback.print_exc(file=sys.stderr)
        response = envelope("errors/unexpected_error", record.account_id, detail=f"simulator: {exc!r}")
    finally:
        # Out of flight before the bytes leave: a client that reads the response and at once
        # starts its next request (maybe on another connection) must not be counted twice.
        with state.lock:
            state.in_flight[account_id] -= 1
            if response is not None and response.action != "disconnect":
                _set_status(state, position, record, response.status, cache_state)
    return response


def _served_response(
    state: SimulatorState,
    record: RequestRecord,
    method: str,
    offset: int | None,
    limit: int,
    fault: Fault | None,
    query: str,
) -> tuple[Response, str | None]:
    """The answer through the service's cache and request limit; and "HIT" or "MISS" when the
    account's answers go through a cache (None when they do not)."""
    refused = _refusal(state, record, method)
    if refused is not None:
        return refused, None
    account = record.account_id
    assert account is not None  # _refusal answers a request without one
    with state.lock:
        cache = _policy(state.cache_policies, account)
        limit_policy = _policy(state.limit_policies, account)
    if cache is None and limit_policy is None:
        return page_response(state, record, offset, limit, fault), None
    now = state.clock()
    cache_key: CacheKey = (record.path, tuple(sorted(urllib.parse.parse_qsl(query, True))))
    with state.lock:
        if cache is not None and not (cache.honour_no_cache and asks_no_cache(record.cache_control)):
            hit = state.cache.get(cache_key)
            if hit is not None and now - hit.stored_at < cache.ttl:
                age = max(0, int(now - hit.stored_at))
                decision = _limit_decision(state, limit_policy, account, now, count=False)
                hit_headers = (("Age", str(age)), ("X-Cache", "HIT"), *decision.headers)
                return Response(200, hit.body, headers=hit_headers), "HIT"
        decision = _limit_decision(state, limit_policy, account, now, count=True)
    if decision.refused:
        assert limit_policy is not None
        response = envelope(
            "errors/too_many_requests" if limit_policy.answer == "rate_limited" else "errors/provider_error",
            record.account_id,
            detail=f"Request limit reached: {limit_policy.max_requests} requests per "
            f"{limit_policy.window:g} s for account {account}.",
        )
    else:
        response = page_response(state, record, offset, limit, fault)
        if cache is not None and response.status == 200:
            with state.lock:
                state.cache[cache_key] = CachedAnswer(now, response.body)
    response.headers = (
        *response.headers,
        *((("X-Cache", "MISS"),) if cache is not None else ()),
        *decision.headers,
    )
    return response, None if cache is None else "MISS"


def _limit_decision(
    state: SimulatorState, policy: LimitPolicy | None, account: str, now: float, *, count: bool
) -> LimitDecision:
    """Count (or with count=False only look at) one request against the account's limit."""
    if policy is None:
        return LimitDecision(refused=False)
    window, decision = take_slot(policy, state.windows.get(account), now, count=count)
    if window is not None:
        state.windows[account] = window
    return decision


def _set_status(
    state: SimulatorState, position: int, record: RequestRecord, status: int, cache: str | None
) -> None:
    # clear_requests may have emptied the list since; only patch our own record.
    if position < len(state.requests) and state.requests[position] is record:
        state.requests[position] = replace(record, status=status, cache=cache)


def _take_fault(state: SimulatorState, record: RequestRecord) -> Fault | None:
    for injection in state.injections:
        if injection.matches(record):
            if injection.use():
                state.injections.remove(injection)
            return injection.fault
    return None


def _fault_response(
    state: SimulatorState, fault: Fault, record: RequestRecord, offset: int | None, limit: int
) -> Response:
    if fault.kind == "disconnect":
        return Response(0, b"", action="disconnect")
    if fault.kind == "error" or fault.kind == "rate_limited":
        return envelope(
            fault.error_type,
            record.account_id,
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
        normal = _normal_response(state, record, record.method, offset, limit, None)
        normal.action, normal.stall_seconds = "stall", fault.seconds
        return normal
    raise AssertionError(f"not a replacing fault: {fault.kind}")


def _normal_response(
    state: SimulatorState,
    record: RequestRecord,
    method: str,
    offset: int | None,
    limit: int,
    fault: Fault | None,
) -> Response:
    """The answer the real API would give: an error envelope or a page (maybe fault-shaped)."""
    refused = _refusal(state, record, method)
    if refused is not None:
        return refused
    return page_response(state, record, offset, limit, fault)


def _refusal(state: SimulatorState, record: RequestRecord, method: str) -> Response | None:
    """The error for a request that names no listing to answer from (None: it names one)."""
    if record.path not in FOLLOWERS_PATHS:
        return envelope("errors/resource_not_found", record.account_id, detail=f"No route {record.path}.")
    if method != "GET":
        return envelope(
            "errors/method_not_allowed", record.account_id, headers=(("Allow", "GET"),), detail=None
        )
    if not record.key_ok:
        # As the reference words the two: no key at all is `missing_credentials`, a key that is
        # not the right one `invalid_credentials` (docs/api.md#errors).
        if record.key_sent:
            return envelope(
                "errors/invalid_credentials",
                record.account_id,
                detail="The X-API-KEY header does not carry a valid API key.",
            )
        return envelope(
            "errors/missing_credentials",
            record.account_id,
            detail="Send your API key in the X-API-KEY header.",
        )
    if not record.account_id:
        return envelope("errors/resource_not_found", record.account_id, detail="account_id is required.")
    return None
