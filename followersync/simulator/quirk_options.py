"""`followersync simulate --quirk NAME[=VALUE]`: the real service's quirks, turned on for every account.

parse_quirk("limit=100/3600")       # a Quirk, or ValueError naming what is wrong
apply_quirks(sim, [quirk, ...])     # after the accounts are added, before or after start()

The option itself (its click callback) is the CLI's: followersync/cli/simulate_command.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast, get_args

import msgspec

from followersync.simulator.core import Simulator
from followersync.simulator.faults import Fault, IdLoss
from followersync.simulator.quirks import LimitAnswer

# name -> (the value it takes, what it does): the --help list, in this order.
QUIRKS: dict[str, tuple[str, str]] = {
    "null-fields": ("FIELD[,FIELD...]", "every item sends these fields as null"),
    "missing-fields": ("FIELD[,FIELD...]", "every item lacks these fields"),
    "wrong-types": ("FIELD:VALUE[,...]", "every item sends VALUE (JSON, else a string) as FIELD"),
    "no-id-every": (
        "N[:HOW]",
        "items 0, N, 2N... of each page have no usable id (HOW: missing|null|empty|number)",
    ),
    "short-pages": ("N", "pages hold at most N items; the cursor goes on right after them"),
    "close-early": ("N", "every pass ends (cursor null) after the first N followers"),
    "cache": ("SECONDS", "answers are cached that long (Age, X-Cache); Cache-Control: no-cache skips it"),
    "stale-cache": ("SECONDS", "the same cache, but it ignores Cache-Control: no-cache"),
    "limit": ("N/SECONDS", "N requests per SECONDS window per account, then 500 errors/provider_error"),
    "limit-429": ("N/SECONDS", "the same, then 429 errors/too_many_requests without Retry-After"),
    "ratelimit-headers": ("", "with a limit: x-ratelimit-limit, -remaining and -reset on every answer"),
}


@dataclass(frozen=True)
class Quirk:
    """One `--quirk`, parsed: the text given and what it turns on (one of the fields below)."""

    text: str
    fault: Fault | None = None  # a page quirk (all of them are combined on every page)
    close_after: int | None = None
    cache_ttl: float | None = None
    honour_no_cache: bool = True
    limit: tuple[int, float, LimitAnswer] | None = None  # max_requests, window, answer
    ratelimit_headers: bool = False

    @property
    def name(self) -> str:
        return self.text.partition("=")[0]


def parse_quirk(text: str) -> Quirk:
    """The quirk `text` names (`NAME` or `NAME=VALUE`); ValueError with a one-line reason."""
    name, has_value, value = text.partition("=")
    name = name.strip()
    if name not in QUIRKS:
        raise ValueError(f"unknown quirk {name!r} (known: {', '.join(QUIRKS)})")
    takes = QUIRKS[name][0]
    if not takes:
        if has_value:
            raise ValueError(f"quirk {name!r} takes no value")
        return Quirk(text, ratelimit_headers=True)
    if not value.strip():
        raise ValueError(f"quirk {name!r} needs a value: {name}={takes}")
    try:
        return _parse_value(text, name, value.strip())
    except ValueError as exc:
        raise ValueError(f"quirk {name!r}: {exc} (expected {name}={takes})") from None


def _parse_value(text: str, name: str, value: str) -> Quirk:
    if name in ("null-fields", "missing-fields"):
        return Quirk(text, fault=Fault.null_fields(*_names(value), missing=name == "missing-fields"))
    if name == "wrong-types":
        values: dict[str, Any] = {}
        for pair in value.split(","):
            field, sep, raw = pair.partition(":")
            if not sep or not field.strip():
                raise ValueError(f"{pair!r} is not FIELD:VALUE")
            values[field.strip()] = _json_or_text(raw.strip())
        return Quirk(text, fault=Fault.wrong_types(**values))
    if name == "no-id-every":
        every, _, how = value.partition(":")
        how = how.strip() or "missing"
        if how not in get_args(IdLoss):
            raise ValueError(f"HOW must be one of {'|'.join(get_args(IdLoss))}, not {how!r}")
        return Quirk(text, fault=Fault.items_without_id(_count(every, 1), cast(IdLoss, how)))
    if name == "short-pages":
        return Quirk(text, fault=Fault.short_page(_count(value, 1)))
    if name == "close-early":
        return Quirk(text, close_after=_count(value, 0))
    if name in ("cache", "stale-cache"):
        return Quirk(text, cache_ttl=_seconds(value), honour_no_cache=name == "cache")
    # limit, limit-429
    count, sep, window = value.partition("/")
    if not sep:
        raise ValueError(f"{value!r} is not N/SECONDS")
    answer: LimitAnswer = "rate_limited" if name == "limit-429" else "provider_error"
    return Quirk(text, limit=(_count(count, 1), _seconds(window), answer))


def _names(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise ValueError(f"{value!r} has an empty field name")
    return names


def _json_or_text(raw: str) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw


def _count(raw: str, least: int) -> int:
    raw = raw.strip()
    if not raw.isdigit() or int(raw) < least:
        raise ValueError(f"{raw!r} is not a whole number >= {least}")
    return int(raw)


def _seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{raw.strip()!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{raw.strip()!r} is not a positive number of seconds")
    return seconds


def check_quirks(quirks: Sequence[Quirk]) -> None:
    """ValueError when the quirks do not go together (one cache, one limit, headers need a limit)."""
    for what, given in (
        ("cache", [q for q in quirks if q.cache_ttl is not None]),
        ("limit", [q for q in quirks if q.limit is not None]),
        ("close-early", [q for q in quirks if q.close_after is not None]),
    ):
        if len(given) > 1:
            raise ValueError(f"one {what} quirk at most, not {', '.join(q.text for q in given)}")
    if any(q.ratelimit_headers for q in quirks) and not any(q.limit is not None for q in quirks):
        raise ValueError(
            "quirk 'ratelimit-headers' needs a limit: add limit=N/SECONDS or limit-429=N/SECONDS"
        )


def apply_quirks(sim: Simulator, quirks: Sequence[Quirk]) -> None:
    """Turn `quirks` on for every account of `sim` (the listings it has now, for close-early)."""
    check_quirks(quirks)
    faults = [q.fault for q in quirks if q.fault is not None]
    if faults:
        sim.inject(Fault.combined(*faults), times=-1)
    for quirk in quirks:
        if quirk.close_after is not None:
            for account_id, user_id in sim.listings():
                sim.close_listing_early(account_id, after=quirk.close_after, user_id=user_id)
        if quirk.cache_ttl is not None:
            sim.enable_cache(ttl=quirk.cache_ttl, honour_no_cache=quirk.honour_no_cache)
        if quirk.limit is not None:
            max_requests, window, answer = quirk.limit
            headers = any(q.ratelimit_headers for q in quirks)
            sim.limit_requests(max_requests=max_requests, window=window, answer=answer, headers=headers)


def quirks_help() -> str:
    """The list of quirks for the command's epilog (a `\\b` block, so click keeps the lines)."""
    lines = ["Quirks of the real service (--quirk, repeatable; each on for every account):", "", "\b"]
    for name, (takes, does) in QUIRKS.items():
        lines += [f"  {name}{'=' + takes if takes else ''}", f"      {does}"]
    return "\n".join(lines)
