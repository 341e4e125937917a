"""Faults: what the simulator does instead of (or on top of) answering a request normally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from followersync.simulator.errors import AUTO, DOCUMENTED_ERRORS, EXTRA_ERRORS, Auto
from followersync.simulator.records import RequestRecord
from followersync.simulator.wire import status_phrase

FaultKind = Literal[
    "error",
    "rate_limited",
    "body",
    "page_transform",
    "wrong_variant",
    "repeat_cursor",
    "truncate",
    "delay",
    "disconnect",
    "stall",
    "departure",
    "null_fields",
    "wrong_types",
    "items_without_id",
    "short_page",
    "combined",
]

IdLoss = Literal["missing", "null", "empty", "number"]

# The page-shaping faults that edit a page's items and cursor (quirks.py) and so can be combined.
_ITEM_QUIRKS = ("null_fields", "wrong_types", "items_without_id", "short_page")


@dataclass(frozen=True)
class Fault:
    """What the simulator does instead of (or on top of) answering a request normally.

    Build one with a classmethod and hand it to `Simulator.inject`. A fault replaces whatever the
    request would have got, including a 401 or 404 (and bypasses the simulator's cache and request
    limit); the page-shaping faults (`page_transform`, `wrong_variant`, `repeat_cursor`, `truncate`,
    `departure`, and the quirks `null_fields`, `wrong_types`, `items_without_id`, `short_page`,
    `combined`) only change a 200 page and are used up without effect on a request that fails anyway
    or is answered from the cache (which serves the page as it was shaped when cached).
    """

    kind: FaultKind
    status: int = 200
    body_bytes: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, compare=False)
    error_type: str = ""
    title: str | None = None
    detail: str | Auto | None = AUTO
    instance: str | Auto | None = AUTO
    fields: tuple[str, ...] = ()  # null_fields
    values: tuple[tuple[str, Any], ...] = ()  # wrong_types: (field, value sent instead)
    every: int = 1  # null_fields, items_without_id: items at page positions 0, every, 2*every...
    missing: bool = False  # null_fields: remove the fields rather than send null
    id_loss: IdLoss = "missing"  # items_without_id
    keep: int = 0  # short_page
    parts: tuple[Fault, ...] = ()  # combined

    @classmethod
    def error(
        cls,
        type: str,
        *,
        status: int | None = None,
        title: str | None = None,
        detail: str | Auto | None = AUTO,
        instance: str | Auto | None = AUTO,
        retry_after: str | None = None,
    ) -> Fault:
        """An error envelope of `type`, e.g. `Fault.error("errors/expired_credentials")`.

        `status` and `title` default from `DOCUMENTED_ERRORS` (an undocumented type needs `status`).
        `detail` defaults to a sentence naming the simulator and `instance` to a fresh `req_...` id;
        None omits the field (both are optional in the envelope). `retry_after` adds that header.
        """
        known = DOCUMENTED_ERRORS.get(type) or EXTRA_ERRORS.get(type)
        if status is None:
            if known is None:
                raise ValueError(f"{type!r} is not a documented error type: give its status")
            status = known[0]
        if title is None:
            title = known[1] if known else status_phrase(status)
        headers = (("Retry-After", retry_after),) if retry_after is not None else ()
        return cls(
            "error",
            status=status,
            error_type=type,
            title=title,
            detail=detail,
            instance=instance,
            headers=headers,
        )

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Fault:
        """A 429 `errors/too_many_requests`, with `Retry-After: <seconds>` when `retry_after` is given.

        Without it, it stands for the provider's own limit (followersync stops the account for this run).
        Whole seconds are sent as an integer; fractions (e.g. 0.05, to keep tests fast) as a decimal,
        which HTTP does not define, so clients should parse the header as a float.
        """
        value = None if retry_after is None else _format_seconds(retry_after)
        return replace(
            cls.error("errors/too_many_requests", status=429, retry_after=value), kind="rate_limited"
        )

    @classmethod
    def body(
        cls,
        body: bytes,
        *,
        status: int = 200,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Any raw response: not JSON, HTML from a proxy, a bad gzip body, a huge body...

        `Content-Length` is always computed; `headers` may add e.g. `Content-Encoding: gzip`.
        """
        return cls(
            "body",
            status=status,
            body_bytes=body,
            content_type=content_type,
            headers=tuple((headers or {}).items()),
        )

    @classmethod
    def page_transform(cls, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Fault:
        """The normal page decoded to a fresh dict, altered by `fn` (which returns the page to send)."""
        return cls("page_transform", transform=fn)

    @classmethod
    def wrong_variant(cls) -> Fault:
        """The normal page, but its items in the other provider's variant."""
        return cls("wrong_variant")

    @classmethod
    def repeat_cursor(cls) -> Fault:
        """The normal items, with a cursor the client has already seen.

        On a request with a cursor, the response's cursor is that same cursor. On the first request
        (no cursor) the page's cursor is normal (the offset-0 cursor when the listing fits in one
        page) and the next request that sends it back gets that cursor once more.
        """
        return cls("repeat_cursor")

    @classmethod
    def truncate(cls) -> Fault:
        """The normal items but `cursor: null`: the listing ends early (a truncated pass)."""
        return cls("truncate")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally after `seconds` (ends early, without an answer, if the client hangs up)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def disconnect(cls) -> Fault:
        """Read the request, then close the connection without sending anything."""
        return cls("disconnect")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Send the headers and half the body, hang for `seconds` (or until the client hangs up),
        then close: a slow-loris server, which only a read timeout gets the client out of."""
        return cls("stall", seconds=seconds)

    @classmethod
    def departure(cls) -> Fault:
        """A follower already listed leaves just before this page is read (inject it `on_page` >= 1).

        The listing is offset-paged, so everyone behind the leaver moves up one place and the follower
        at this page's offset slips back onto the page already read: the pass never sees them, though
        they never left. `Simulator.departures` records who left and who was skipped.
        """
        return cls("departure")

    @classmethod
    def null_fields(cls, *fields: str, every: int = 1, missing: bool = False) -> Fault:
        """The normal page, but the items at positions 0, every, 2*every, ... of the page get each of
        `fields` set to JSON null (removed from the item instead with `missing=True`).

        Like the real API's members without a photo (`"profile_picture_url": null`) or without a
        headline (no `headline` at all). A field an item lacks is added as null (or stays absent).
        """
        if not fields:
            raise ValueError("name at least one field")
        return cls("null_fields", fields=fields, every=_every(every), missing=missing)

    @classmethod
    def wrong_types(cls, **values: Any) -> Fault:
        """The normal page, but every item has each field of `values` replaced by that value, e.g.
        `Fault.wrong_types(is_private="yes", name=42)` (a value None sends JSON null)."""
        if not values:
            raise ValueError("give at least one field=value")
        return cls("wrong_types", values=tuple(values.items()))

    @classmethod
    def items_without_id(cls, every: int = 1, how: IdLoss = "missing") -> Fault:
        """The normal page, but the items at positions 0, every, 2*every, ... of the page have no
        usable id: `how` is "missing" (no `id` key), "null", "empty" ("") or "number" (a JSON integer,
        the item's place in the listing)."""
        if how not in ("missing", "null", "empty", "number"):
            raise ValueError(f"how must be missing, null, empty or number, not {how!r}")
        return cls("items_without_id", every=_every(every), id_loss=how)

    @classmethod
    def short_page(cls, keep: int) -> Fault:
        """Only the first `keep` items of the page (fewer than the `limit` asked), with a cursor that
        continues right after them: nothing is skipped. The cursor is null only if the listing really
        ends there. A page that has `keep` items or fewer anyway is sent as it is."""
        if keep < 1:
            raise ValueError("keep must be at least 1 (an empty page with a cursor never advances)")
        return cls("short_page", keep=keep)

    @classmethod
    def combined(cls, *faults: Fault) -> Fault:
        """Several of `null_fields`, `wrong_types`, `items_without_id` and `short_page` on the same
        page, applied in the order given (one request gets one injected fault; this is how several
        quirks reach the same page, as `followersync simulate --quirk` does)."""
        parts: list[Fault] = []
        for fault in faults:
            if fault.kind == "combined":
                parts.extend(fault.parts)
            elif fault.kind in _ITEM_QUIRKS:
                parts.append(fault)
            else:
                raise ValueError(f"only item quirks combine ({', '.join(_ITEM_QUIRKS)}), not {fault.kind}")
        if not parts:
            raise ValueError("combine at least one fault")
        return cls("combined", parts=tuple(parts))

    @property
    def is_page_shaping(self) -> bool:
        """Whether this fault only alters a normal 200 page."""
        return self.kind in (
            "page_transform",
            "wrong_variant",
            "repeat_cursor",
            "truncate",
            "departure",
            *_ITEM_QUIRKS,
            "combined",
        )


def _every(every: int) -> int:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1, not {every!r}")
    return every


def _format_seconds(seconds: float) -> str:
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0")


@dataclass(frozen=True)
class Departure:
    """A follower who left mid-pass (`Fault.departure`), and the one the pass skipped because of it."""

    account_id: str
    user_id: str | None
    left: str  # already listed by the pass, then unfollowed
    skipped: str | None  # never left, but moved onto a page already read (None: the listing ended)


@dataclass
class Injection:
    """A fault `Simulator.inject` was given, with which requests it applies to and how often."""

    fault: Fault
    account_id: str | None
    on_request: int | None
    on_page: int | None
    times: int  # remaining uses; -1 = forever

    def matches(self, rec: RequestRecord) -> bool:
        if self.account_id is not None and rec.account_id != self.account_id:
            return False
        if self.on_request is not None:
            n = rec.account_seq if self.account_id is not None else rec.seq
            # on_request=N with times=t covers requests N .. N+t-1 (t=-1: N onwards).
            return n >= self.on_request and (self.times < 0 or n < self.on_request + self.times)
        if self.on_page is not None:
            return rec.page == self.on_page
        return True

    def use(self) -> bool:
        """Count one use; True when the injection is spent and should be dropped."""
        if self.on_request is not None or self.times < 0:
            return False
        self.times -= 1
        return self.times <= 0
