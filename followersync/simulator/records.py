"""Request records: each request as the server saw it, so tests can prove pacing without timing anything."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. `requests` holds them in arrival order.

    `status` is 0 while the request is being handled (the record an `on_request` callback gets) and
    stays 0 when no response was sent (a disconnect, or the client hung up first).
    """

    seq: int  # 1-based, over all requests the server has received (clear_requests keeps counting)
    account_seq: int  # 1-based, per account_id (None counts as one account)
    path: str
    account_id: str | None
    user_id: str | None
    cursor: str | None
    limit: int | None  # as sent; None if absent or not an integer
    key_ok: bool  # X-API-KEY present and equal to the configured key
    key_in_query: bool  # the API key appears somewhere in the URL (a client bug, always)
    in_flight: int  # requests in flight for this account_id when this one started, itself included
    started: float  # time.monotonic() on arrival
    status: int  # status sent back; 0 = none (yet)
    method: str = "GET"
    page: int | None = None  # offset // limit when cursor and limit are valid; 0 without cursor
    fault: str | None = None  # kind of the injected fault applied to this request, if any
    cache_control: str | None = None  # the request's Cache-Control header, as sent (None: none)
    cache: str | None = None  # "HIT" or "MISS" when the account's answers go through a cache (enable_cache)
    key_sent: bool = False  # an X-API-KEY header came, right or wrong (which 401 a refusal gets)
