"""The real service's quirks: items with bad fields or no id, short pages, its cache and its limits.

The page quirks are `Fault`s (faults.py) shaped here; the cache and the request limit are state the
simulator keeps per account (`Simulator.enable_cache`, `Simulator.limit_requests`), decided here and
applied by answering.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from followersync.simulator.faults import Fault
from followersync.simulator.listing import Listing

LimitAnswer = Literal["provider_error", "rate_limited"]


# -- page quirks ------------------------------------------------------------------------------------


def shape_page(fault: Fault, listing: Listing, offset: int, limit: int) -> bytes:
    """The page at `offset` as `fault` (an item quirk, or several combined) makes it."""
    chunk = listing.window(offset, limit)
    items: list[dict[str, Any]] = [msgspec.json.decode(e.body) for e in chunk]
    cursor = listing.cursor_after(offset + len(chunk))
    for part in fault.parts or (fault,):
        if part.kind == "short_page" and len(items) > part.keep:
            items = items[: part.keep]
            cursor = listing.cursor_after(offset + part.keep)  # right after the last item sent
        elif part.kind == "null_fields":
            for item in items[:: part.every]:
                for name in part.fields:
                    if part.missing:
                        item.pop(name, None)
                    else:
                        item[name] = None
        elif part.kind == "wrong_types":
            for item in items:
                item.update(part.values)
        elif part.kind == "items_without_id":
            for position in range(0, len(items), part.every):
                item = items[position]
                if part.id_loss == "missing":
                    item.pop("id", None)
                else:
                    item["id"] = {"null": None, "empty": "", "number": offset + position}[part.id_loss]
    return msgspec.json.encode({"object": "UserFollowersList", "items": items, "cursor": cursor})


# -- the cache --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachePolicy:
    """`Simulator.enable_cache`: how long answers live, and whether `Cache-Control: no-cache` counts."""

    ttl: float
    honour_no_cache: bool


# A cached answer is one per request path and query parameters (in any order).
CacheKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class CachedAnswer:
    """An answer in the cache: when it was stored (on the simulator's clock) and its body."""

    stored_at: float
    body: bytes


def asks_no_cache(cache_control: str | None) -> bool:
    """Whether a request's `Cache-Control` header carries the `no-cache` directive."""
    if not cache_control:
        return False
    return any(part.strip().lower().split("=")[0] == "no-cache" for part in cache_control.split(","))


# -- the request limit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitPolicy:
    """`Simulator.limit_requests`: `max_requests` per fixed `window` seconds, and the answer beyond."""

    max_requests: int
    window: float
    answer: LimitAnswer
    headers: bool


@dataclass
class LimitWindow:
    """One account's current window: when it started and how many requests it has answered."""

    started: float
    used: int = 0


@dataclass
class LimitDecision:
    """What the limiter made of one request: refused or not, and the x-ratelimit-* headers to send."""

    refused: bool
    headers: tuple[tuple[str, str], ...] = ()


def take_slot(
    policy: LimitPolicy, window: LimitWindow | None, now: float, *, count: bool
) -> tuple[LimitWindow | None, LimitDecision]:
    """The account's window after a request at `now`, and the decision on that request.

    A request that counts opens a window when none is active (the first, or the first after the last
    one expired). Over the limit nothing is counted, so refusals never extend or restart a window.
    `count=False` (an answer from the cache) only reads the window: it opens none, counts nothing and
    is never refused.
    """
    if window is None or now >= window.started + policy.window:
        if not count:
            return window, _decision(policy, policy.max_requests, policy.window)
        window = LimitWindow(now)
    refused = False
    if count:
        if window.used >= policy.max_requests:
            refused = True
        else:
            window.used += 1
    remaining = policy.max_requests - window.used
    return window, _decision(policy, remaining, window.started + policy.window - now, refused=refused)


def _decision(
    policy: LimitPolicy, remaining: int, reset_in: float, *, refused: bool = False
) -> LimitDecision:
    if not policy.headers:
        return LimitDecision(refused)
    return LimitDecision(
        refused,
        (
            ("x-ratelimit-limit", str(policy.max_requests)),
            ("x-ratelimit-remaining", str(max(0, remaining))),
            ("x-ratelimit-reset", str(max(0, math.ceil(reset_in)))),
        ),
    )
