"""A fake postpress API on a real socket, for the demo, the integration tests and the benchmark.

It serves `GET {base_url}/users/followers` the way `seed/postpress-list-all-followers.txt` describes
it: the `X-API-KEY` header, `account_id` / `user_id` / `cursor` / `limit` query parameters, pages of
`{"object": "UserFollowersList", "items": [...], "cursor": "..." | null}` in each provider's item
variant, and the error envelope `{"title", "detail", "instance", "type", "status"}`.

Why a real server rather than a mocked transport: the client's timeouts, keep-alive, retries and
pacing are only proven against real connections, and a fault such as a dropped connection or a
stalled body only exists on a socket.

What it gives a test::

    with Simulator(api_key="k") as sim:
        sim.add_account("acc_ig_01", "instagram", followers=450)
        sim.inject(Fault.error("errors/provider_error"), account_id="acc_ig_01", on_page=1)
        ...  # run the client against sim.base_url
        assert sim.max_in_flight("acc_ig_01") == 1

- Followers are generated deterministically from `(seed, account_id, user_id, index)`, with
  realistic names (some with accents, other scripts or emoji), ids and URLs. About one follower in
  sixteen is drawn from a pool shared by all listings of the same provider, so the same person can
  follow two sources, as in life.
- Listings are newest first and the cursor is an opaque offset (url-safe base64 of `{"o": offset}`),
  like the real API: a follower added at the head mid-pass shifts the listing, so a client sees some
  followers twice across pages; one removed mid-pass makes it miss one.
- `follow`, `unfollow` and `refollow` churn a listing; `inject` makes chosen requests fail in a chosen
  way (`Fault`), or churns the listing at a chosen page (`Fault.departure`: someone already listed
  leaves mid-pass, so the pass skips a follower who never left); `requests` records every request
  with the number in flight for its account, so tests can prove pacing without timing anything.
- Page bodies are built from items serialised once and cached per (listing version, offset, limit),
  so repeated passes cost little more than the socket.

`serve` / `simulate_command` run it standalone (`followersync simulate`), e.g. for docker-compose.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import hashlib
import http.server
import random
import re
import selectors
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from types import FrameType, TracebackType
from typing import Any, Literal

import click
import msgspec

__all__ = [
    "DEFAULT_API_KEY",
    "DOCUMENTED_ERRORS",
    "PROVIDER_MAX_LIMIT",
    "Departure",
    "Fault",
    "RequestRecord",
    "Simulator",
    "SimulatorError",
    "decode_cursor",
    "encode_cursor",
    "serve",
    "simulate_command",
]

DEFAULT_API_KEY = "sim-key"
DEFAULT_LIMIT = 100
PROVIDER_MAX_LIMIT = {"linkedin": 100, "instagram": 200}
# Both forms appear in the reference (the heading and the example request).
FOLLOWERS_PATHS = frozenset({"/api/v1/users/followers", "/v1/users/followers"})

# Every error type of the reference: type -> (HTTP status, the reference's description).
# The description doubles as the envelope's default `title`.
DOCUMENTED_ERRORS: dict[str, tuple[int, str]] = {
    # 401: credentials are missing, expired, or otherwise invalid.
    "errors/missing_credentials": (401, "Some credentials are necessary to perform the request."),
    "errors/multiple_sessions": (
        401,
        "LinkedIn limits multiple sessions on certain Recruiter accounts. Use the cookie connection method.",
    ),
    "errors/invalid_checkpoint_solution": (
        401,
        "The checkpoint resolution did not pass successfully. Retry.",
    ),
    "errors/invalid_proxy_credentials": (401, "The provided proxy credentials are invalid."),
    "errors/checkpoint_error": (401, "The checkpoint does not appear to be resolvable."),
    "errors/invalid_credentials": (401, "The provided credentials are invalid."),
    "errors/expired_credentials": (401, "Credentials have expired. Reconnect the account."),
    "errors/insufficient_privileges": (401, "This resource is out of your API-key scopes."),
    "errors/disconnected_account": (401, "The account is disconnected from the provider service."),
    "errors/disconnected_feature": (401, "The service you're trying to reach is disconnected."),
    "errors/invalid_credentials_but_valid_account_imap": (
        401,
        "IMAP/SMTP credentials are invalid but the account is otherwise valid.",
    ),
    "errors/expired_link": (401, "This link has expired. Generate a new one."),
    "errors/wrong_account": (401, "The provided credentials do not match the correct account."),
    # 403: authenticated but the account is restricted or the action is not allowed.
    "errors/account_restricted": (403, "The account has been restricted by the provider."),
    "errors/account_mismatch": (403, "This action cannot be done with your account."),
    "errors/insufficient_permissions": (
        403,
        "Valid authentication but insufficient permissions to perform the request.",
    ),
    "errors/session_mismatch": (403, "Token user id does not match client session id."),
    "errors/feature_not_subscribed": (
        403,
        "The requested feature has not been subscribed or authenticated properly.",
    ),
    "errors/subscription_required": (403, "A subscription is required to use this feature."),
    "errors/unknown_authentication_context": (
        403,
        "An additional step seems necessary to complete login.",
    ),
    "errors/action_required": (403, "An additional step is required."),
    "errors/resource_access_restricted": (403, "You don't have access to this resource."),
    # 404: the account or user could not be found.
    "errors/resource_not_found": (404, "The requested resource was not found."),
    "errors/invalid_resource_identifier": (404, "The provided identifier is not valid."),
    # 500: something went wrong on postpress's side or with the upstream provider.
    "errors/unexpected_error": (500, "Something went wrong."),
    "errors/provider_error": (500, "The provider is experiencing operational problems. Retry later."),
    "errors/authentication_intent_error": (
        500,
        "The current authentication intent was killed after failure.",
    ),
    # 501: planned but not yet available.
    "errors/feature_not_implemented": (501, "This feature has not been implemented yet."),
    # 503: postpress is temporarily unable to handle the request.
    "errors/no_client_session": (503, "No client session is currently running."),
    "errors/no_channel": (503, "No channel to client session."),
    "errors/no_handler": (503, "Handler missing for that request."),
    "errors/network_down": (503, "Network is down on the server side. Retry shortly."),
    "errors/service_unavailable": (503, "Service temporarily unavailable. Retry later."),
    # 504: the upstream provider did not respond in time.
    "errors/request_timeout": (504, "Request timed out. Retry, and contact support if it persists."),
}

# Types the reference does not document but that a server must still answer with. The simulator
# uses them for its own validation and for `Fault.rate_limited`.
EXTRA_ERRORS: dict[str, tuple[int, str]] = {
    "errors/invalid_parameters": (400, "The request parameters are invalid."),
    "errors/too_many_requests": (429, "Too many requests. Slow down."),
    "errors/method_not_allowed": (405, "Only GET is supported on this resource."),
}


class SimulatorError(RuntimeError):
    """The simulator itself (or an `on_request` callback) failed while answering a request."""


# ---------------------------------------------------------------------------------------------------
# Cursors


def encode_cursor(offset: int) -> str:
    """The opaque cursor for `offset`: url-safe base64 of `{"o": offset}`, unpadded.

    >>> encode_cursor(100)
    'eyJvIjoxMDB9'
    """
    return base64.urlsafe_b64encode(b'{"o":%d}' % offset).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> int | None:
    """The offset in `cursor`, or None if it is not a cursor this simulator made."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        data = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None
    offset = data.get("o") if isinstance(data, dict) else None
    # bool is an int subclass: {"o": true} is not an offset.
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        return None
    return offset


# ---------------------------------------------------------------------------------------------------
# Deterministic follower data

_FIRST_NAMES = (
    "Jordan", "Maria", "Wei", "Aisha", "Lukas", "Sofia", "Mateo", "Emma", "Noah", "Olivia", "Liam",
    "Chloé", "Zoë", "José", "Björn", "Søren", "Renée", "François", "Łukasz", "Dragoș", "Ayşe", "İlker",
    "Nguyễn", "Ngozi", "Kwame", "Priya", "Arjun", "Hana", "Yuki", "Min-jun", "Fatima", "Omar", "Chen",
    "Ana", "João", "Mårten", "Eva", "Tomás", "Ines", "Kai", "Leila", "Sven", "Anaïs", "Dmitri", "Olga",
    "Saoirse", "Siobhán", "Thandiwe", "Mei", "Rahul", "Grace", "Ethan", "Isabella", "Amara", "Yusuf",
)  # fmt: skip
_LAST_NAMES = (
    "Walke", "García", "Zhang", "Khan", "Müller", "Rossi", "Fernández", "Smith", "Johnson", "Dubois",
    "Nowak", "Kowalczyk", "Ångström", "O'Brien", "Ní Dhomhnaill", "Núñez", "Yılmaz", "Popescu", "Tanaka",  # noqa: RUF001
    "Kim", "Okafor", "Mensah", "Patel", "Sharma", "Haddad", "Cohen", "Silva", "Santos", "van der Berg",
    "de la Cruz", "Lefèvre", "Søndergaard", "Novák", "Đorđević", "Ivanova", "Nakamura", "Le", "Tran",
    "Schmidt", "Jensen", "Larsen", "Moreau", "Brown", "Wilson", "Abdullah", "Mwangi", "Lindqvist",
)  # fmt: skip
# Whole display names in other scripts, used as-is for a share of followers.
_SCRIPT_NAMES = (
    "李伟", "王芳", "佐藤 花子", "김민준", "Ольга Иванова", "Дмитрий Соколов", "محمد علي", "فاطمة الزهراء",
    "דוד כהן", "Νίκος Παπαδόπουλος", "अर्जुन शर्मा", "สมชาย ใจดี", "Αλεξάνδρα Γεωργίου", "Ελένη Κ.",  # noqa: RUF001
)  # fmt: skip
_EMOJI = ("🚀", "🌍", "✨", "📈", "🎨", "☕", "🌱", "💡", "🏳️‍🌈", "👩‍💻", "🇧🇷", "🔥")
_ROLES = (
    "Software Engineer", "Product Manager", "Head of Growth", "Data Scientist", "Founder", "Co-founder & CEO",
    "Marketing Lead", "Recruiter", "UX Designer", "Sales Director", "CTO", "Student", "Consultant",
    "Staff Engineer", "Community Manager", "Investor", "Gründer", "Ingénieure logicielle", "Desenvolvedor",
)  # fmt: skip
_COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Müller & Söhne GmbH", "Société Générale Tech", "Nordlys AS", "Zeta Analytics", "Pied Piper",
    "Tyrell Corp", "Soylent", "Vandelay Industries", "Oceanic", "Cyberdyne", "Massive Dynamic",
)  # fmt: skip
_HEADLINE_FORMS = (
    "{role} at {company}",
    "{role} @ {company}",
    "{role} | {company} | Speaker",
    "{role} at {company} {emoji}",
    "Helping teams ship faster · {role}",
    "{role} — ex-{company}",
    "Open to work: {role}",
)
_CDN_HOSTS = ("fra5-1", "lhr8-2", "iad3-1", "gru1-1", "sin6-4", "cdg4-3")
_HANDLE_SEPARATORS = ("", ".", "_", "__", ".")
_HANDLE_WORDS = ("official", "the", "real", "photo", "travels", "studio", "art", "eats", "fit", "design")
_SHARED_EVERY = 16  # one follower in this many comes from the provider-wide pool
_SHARED_SLOT = 5


class _Draw:
    """Deterministic choices from one 512-bit hash: cheap (one blake2b per follower)."""

    __slots__ = ("digest", "state")

    def __init__(self, key: str) -> None:
        self.digest = hashlib.blake2b(key.encode("utf-8"), digest_size=64).digest()
        # Draws take the low-order bits (the digest's last bytes); ids and tokens its first ones.
        self.state = int.from_bytes(self.digest, "big")

    def below(self, n: int) -> int:
        self.state, value = divmod(self.state, n)
        return value

    def pick(self, seq: Sequence[str]) -> str:
        return seq[self.below(len(seq))]

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent

    def token(self, length: int, start: int = 0) -> str:
        """Up to 24 url-safe characters per 18 digest bytes from `start` (ids, URL tokens)."""
        return base64.urlsafe_b64encode(self.digest[start : start + 27]).decode("ascii")[:length]

    def digits(self, length: int, start: int = 0) -> str:
        """Up to 28 decimal digits from 12 digest bytes at `start`."""
        return str(int.from_bytes(self.digest[start : start + 12], "big")).rjust(length, "0")[:length]


# Letters that Unicode does not decompose into an ASCII base letter plus accents.
_TRANSLITERATE = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "\u0131": "i"}
)


def _slug(text: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


def _person_key(seed: int, provider: str, account_id: str, user_id: str | None, index: int) -> str:
    if index % _SHARED_EVERY == _SHARED_SLOT:
        # Shared across all listings of the provider (same seed): the same person follows several
        # sources, which the store must record as one profile.
        return f"{seed}\x1fpool\x1f{provider}\x1f{index // _SHARED_EVERY}"
    return f"{seed}\x1f{account_id}\x1f{user_id or ''}\x1f{index}"


def _display_name(d: _Draw) -> str:
    roll = d.below(100)
    if roll < 10:
        return d.pick(_SCRIPT_NAMES)
    name = f"{d.pick(_FIRST_NAMES)} {d.pick(_LAST_NAMES)}"
    if roll < 18:
        name = f"{name} {d.pick(_EMOJI)}"
    elif roll < 21:
        name = f"Dr. {name}"
    elif roll < 23:
        name = f"{name}, PhD"
    return name


def _linkedin_item(key: str) -> dict[str, Any]:
    d = _Draw(key)
    member = "ACoAA" + d.token(34)
    name = _display_name(d)
    slug = _slug(name) or "member"
    media = d.token(20, start=27)
    stamp = 1_600_000_000_000 + d.below(100_000_000_000)
    picture = f"https://media.licdn.com/dms/image/v2/D4E03AQ{media}/profile-displayphoto-shrink_"
    query = f"/0/{stamp}?e=1767225600&v=beta&t={media[::-1]}"
    return {
        "object": "UserFollower",
        "id": member,
        "urn": f"urn:li:fsd_profile:{member}",
        "name": name,
        "headline": d.pick(_HEADLINE_FORMS).format(
            role=d.pick(_ROLES), company=d.pick(_COMPANIES), emoji=d.pick(_EMOJI)
        ),
        "profile_url": f"https://www.linkedin.com/in/{slug}-{member[5:13].lower()}",
        "profile_picture_url": f"{picture}100_100{query}",
        "profile_picture_url_large": f"{picture}800_800{query}",
    }


def _instagram_item(key: str) -> dict[str, Any]:
    d = _Draw(key)
    provider_id = str(1_000_000_000 + int(d.digits(11)))
    name = _display_name(d)
    if d.chance(4):
        name = ""  # Instagram's full_name is optional in the app; the API still sends the field
    base = _slug(name).replace("-", d.pick(_HANDLE_SEPARATORS)) or "user"
    roll = d.below(100)
    if roll < 80:
        username = f"{base[:22]}{d.below(100_000)}"
    elif roll < 90:
        username = f"{base[:20]}_{d.pick(_HANDLE_WORDS)}"
    elif roll < 96:
        username = f"{d.pick(_HANDLE_WORDS)}.{base[:20]}"
    else:
        username = base[:28]
    item: dict[str, Any] = {
        "object": "UserFollower",
        "id": provider_id,
        "messaging_id": "1784" + d.digits(13, start=12),
        "username": username,
        "name": name,
    }
    if not d.chance(8):  # optional in the reference: some followers come without a picture
        item["profile_picture_url"] = (
            f"https://scontent-{d.pick(_CDN_HOSTS)}.cdninstagram.com/v/t51.2885-19/"
            f"{d.digits(9, start=24)}_{d.token(12, start=36)}_n.jpg"
            "?stp=dst-jpg_s150x150&_nc_ht=scontent.cdninstagram.com"
        )
    item["is_private"] = d.chance(30)
    item["is_verified"] = d.chance(2)
    return item


def _make_item(
    provider: str, seed: int, account_id: str, user_id: str | None, index: int, attempt: int = 0
) -> dict[str, Any]:
    key = _person_key(seed, provider, account_id, user_id, index)
    if attempt:
        key = f"{key}\x1f{attempt}"
    return _linkedin_item(key) if provider == "linkedin" else _instagram_item(key)


def _other_provider(provider: str) -> str:
    return "instagram" if provider == "linkedin" else "linkedin"


# ---------------------------------------------------------------------------------------------------
# Faults


class _Auto(enum.Enum):
    """Marks a Fault.error argument left to its default (None means: omit the field)."""

    AUTO = "auto"


_AUTO = _Auto.AUTO

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
]


@dataclass(frozen=True)
class Fault:
    """What the simulator does instead of (or on top of) answering a request normally.

    Build one with a classmethod and hand it to `Simulator.inject`. A fault replaces whatever the
    request would have got, including a 401 or 404; the page-shaping faults (`page_transform`,
    `wrong_variant`, `repeat_cursor`, `truncate`) only change a 200 page and are used up without
    effect on a request that fails anyway.
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
    detail: str | _Auto | None = _AUTO
    instance: str | _Auto | None = _AUTO

    @classmethod
    def error(
        cls,
        type: str,
        *,
        status: int | None = None,
        title: str | None = None,
        detail: str | _Auto | None = _AUTO,
        instance: str | _Auto | None = _AUTO,
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
            title = known[1] if known else _phrase(status)
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

        Without it, it stands for the provider's own limit (SPEC: stop the account for this run).
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

    @property
    def is_page_shaping(self) -> bool:
        """Whether this fault only alters a normal 200 page."""
        return self.kind in ("page_transform", "wrong_variant", "repeat_cursor", "truncate", "departure")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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
class _Injection:
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


# ---------------------------------------------------------------------------------------------------
# Request records


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


# ---------------------------------------------------------------------------------------------------
# Listings


class _Entry:
    __slots__ = ("body", "id", "index")

    def __init__(self, id: str, index: int, body: bytes) -> None:
        self.id = id
        self.index = index
        self.body = body


_MAX_CACHED_PAGES = 4096  # per listing; a pass over a huge listing must not double its memory


class _Listing:
    """The followers of one (account_id, user_id), newest first, with its page cache."""

    def __init__(self, seed: int, provider: str, account_id: str, user_id: str | None) -> None:
        self.seed = seed
        self.provider = provider
        self.account_id = account_id
        self.user_id = user_id
        self.entries: list[_Entry] = []  # listing order: newest first
        self.by_id: dict[str, _Entry] = {}
        self.gone: dict[str, _Entry] = {}  # unfollowed, kept so `refollow` can bring them back
        self.handles: set[str] = set()  # Instagram usernames ever made here (they stay taken)
        self.next_index = 0
        self.version = 0
        self.pages: dict[tuple[int, int], bytes] = {}
        self.repeat_armed: str | None = None  # cursor to repeat once (Fault.repeat_cursor)

    def new_entries(self, count: int) -> list[_Entry]:
        """`count` new followers (not yet listed), oldest first."""
        made: list[_Entry] = []
        batch: set[str] = set()
        for _ in range(count):
            index = self.next_index
            self.next_index += 1
            attempt = 0
            while True:
                item = _make_item(self.provider, self.seed, self.account_id, self.user_id, index, attempt)
                follower_id = item["id"]
                # Ids are hashes (Instagram's have only ~11 digits): a clash is rare but possible in a
                # big listing, and a listing must never hold one id twice. Usernames are unique on
                # Instagram too (within a listing here; across listings only the shared pool's match).
                handle = item.get("username")
                if (
                    follower_id not in self.by_id
                    and follower_id not in self.gone
                    and follower_id not in batch
                    and handle not in self.handles
                ):
                    break
                attempt += 1
            batch.add(follower_id)
            if handle is not None:
                self.handles.add(handle)
            made.append(_Entry(follower_id, index, msgspec.json.encode(item)))
        return made

    def push_head(self, entries: list[_Entry]) -> None:
        """Put `entries` (oldest first) at the head, so the last one is the newest follower."""
        fresh = [e for e in entries if e.id not in self.by_id]
        for e in fresh:
            self.by_id[e.id] = e
            self.gone.pop(e.id, None)
        self.entries[:0] = reversed(fresh)
        self.changed()

    def remove(self, ids: Sequence[str]) -> None:
        drop = set(ids)
        for follower_id in drop:
            self.gone[follower_id] = self.by_id.pop(follower_id)
        self.entries = [e for e in self.entries if e.id not in drop]
        self.changed()

    def changed(self) -> None:
        self.version += 1
        self.pages.clear()

    def page(self, offset: int, limit: int) -> tuple[bytes, str | None]:
        """The serialised page at `offset` and its next cursor (None on the last page)."""
        key = (offset, limit)
        chunk_end = min(offset + limit, len(self.entries))
        cursor = encode_cursor(chunk_end) if chunk_end < len(self.entries) else None
        body = self.pages.get(key)
        if body is None:
            body = _page_body([e.body for e in self.entries[offset:chunk_end]], cursor)
            if len(self.pages) >= _MAX_CACHED_PAGES:
                self.pages.clear()
            self.pages[key] = body
        return body, cursor


def _page_body(items: list[bytes], cursor: str | None) -> bytes:
    tail = b'],"cursor":null}' if cursor is None else b'],"cursor":"%s"}' % cursor.encode("ascii")
    return b'{"object":"UserFollowersList","items":[' + b",".join(items) + tail


# ---------------------------------------------------------------------------------------------------
# HTTP


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    action: Literal["send", "disconnect", "stall"] = "send"
    stall_seconds: float = 0.0

    def encode(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {_phrase(self.status)}"]
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}")
        lines.append(f"Content-Length: {len(self.body)}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


_INT = re.compile(r"-?[0-9]{1,12}")
_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its simulator and can close its keep-alive connections."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: Simulator, family: int) -> None:
        self.address_family = family
        self.simulator = simulator
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-response is normal here; anything else is a simulator bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or exc is None:
            return
        self.simulator.errors.append(exc)
        traceback.print_exc(file=sys.stderr)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also calls socket.getfqdn(), a DNS lookup that can take seconds on
        # a machine without DNS; nothing here needs the server's name.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: requests are read with a lean parser (see handle_one_request) and answered by
    `Simulator._answer`."""

    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle: otherwise a small response waits for a delayed ACK.
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is dropped after this long
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections[self.request] = threading.current_thread()

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.pop(self.request, None)
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        # BaseHTTPRequestHandler.parse_request runs the email package's header parser, which costs
        # more than building a cached page; this reads the request line and headers directly.
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line:
                self.close_connection = True
                return
            if line in (b"\r\n", b"\n"):  # tolerated between keep-alive requests (RFC 9112 2.2)
                self.close_connection = False
                return
            parts = line.decode("latin-1").split()
            if len(line) > _MAX_LINE or len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._send_bare(400)
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for _ in range(_MAX_HEADERS + 1):
                raw = self.rfile.readline(_MAX_LINE + 1)
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = raw.decode("latin-1").partition(":")
                if not sep or len(raw) > _MAX_LINE:
                    self._send_bare(400)
                    return
                headers[name.strip().lower()] = value.strip()
            else:
                self._send_bare(431)
                return
            connection = headers.get("connection", "").lower()
            self.close_connection = "close" in connection or (
                version == "HTTP/1.0" and "keep-alive" not in connection
            )
            if "transfer-encoding" in headers:
                self.close_connection = True  # no GET has a chunked body; don't try to resync
            elif headers.get("content-length", "0") != "0":
                length = headers["content-length"]
                if not length.isdigit() or int(length) > 1_000_000:
                    self._send_bare(400)
                    return
                self.rfile.read(int(length))
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        self.server.simulator._answer(self, method, target, headers)

    def _send_bare(self, status: int) -> None:
        self.close_connection = True
        self.write(_Response(status, b"", content_type=None, headers=(("Connection", "close"),)).encode())

    def write(self, data: bytes) -> bool:
        """Send `data`; False (and the connection closed) if the client has gone."""
        try:
            self.wfile.write(data)
            return True
        except OSError:
            self.close_connection = True
            return False

    def wait(self, seconds: float, stopping: threading.Event) -> bool:
        """Sleep `seconds`, watching the socket: False as soon as the client hangs up or the server
        stops. So a client that times out and retries never overlaps a request still sleeping here,
        and in-flight counts stay true."""
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            watch = True
            while True:
                remaining = deadline - time.monotonic()
                if stopping.is_set():
                    return False
                if remaining <= 0:
                    return True
                step = min(remaining, 0.05)  # short steps so stop() is noticed promptly
                if not watch:
                    time.sleep(step)
                    continue
                try:
                    readable = bool(selector.select(step))
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        return False  # orderly close from the client
                except OSError:
                    return False
                if readable:
                    watch = False  # pipelined bytes, not a close: a close can't be told apart now

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a log line per request would cost more than the request."""


# ---------------------------------------------------------------------------------------------------
# The simulator


class Simulator:
    """A fake postpress API in a background thread, plus the controls tests need.

    Start it with `start()` or a `with` block; `base_url` is then `http://127.0.0.1:PORT/api/v1`
    (the server also answers `/v1/users/followers`). All methods are thread-safe; request handling
    for different accounts (and for the same one) runs in parallel, one thread per connection.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        latency: float = 0.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._api_key = api_key
        self._latency = latency
        self._seed = seed
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._providers: dict[str, str] = {}  # account_id -> provider
        self._listings: dict[tuple[str, str | None], _Listing] = {}
        self._injections: list[_Injection] = []
        self._callbacks: list[Callable[[RequestRecord], object]] = []
        self._seq = 0
        self._account_seq: dict[str | None, int] = {}
        self._in_flight: dict[str | None, int] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
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
        self._server = _Server((self._host, self._port), self, family)
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
        listing = _Listing(self._seed, provider, account_id, user_id)
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

    def _listing(self, account_id: str, user_id: str | None) -> _Listing:
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
            self._injections.append(_Injection(fault, account_id, on_request, on_page, times))

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

    def _answer(self, handler: _Handler, method: str, target: str, headers: dict[str, str]) -> None:
        """Record, apply any fault, and send the response of one request."""
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
                key_in_query=key_in_query,
                in_flight=in_flight,
                started=started,
                status=0,
                method=method,
                page=offset // effective if offset is not None and effective >= 1 else None,
            )
            fault = self._take_fault(record)
            if fault is not None:
                record = replace(record, fault=fault.kind)
            position = len(self.requests)
            self.requests.append(record)
            callbacks = list(self._callbacks)

        response: _Response | None = None
        try:
            for callback in callbacks:
                callback(record)
            wait = self._latency + (fault.seconds if fault is not None and fault.kind == "delay" else 0.0)
            if wait > 0 and not handler.wait(wait, self._stopping):
                response = None  # the client hung up (or we are stopping): nobody to answer
            elif fault is not None and not fault.is_page_shaping and fault.kind != "delay":
                response = self._fault_response(fault, record, offset, effective)
            else:
                page_fault = fault if fault is not None and fault.is_page_shaping else None
                response = self._normal_response(record, method, offset, effective, page_fault)
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
                    self._set_status(position, record, response.status)

        if response is None or response.action == "disconnect":
            handler.close_connection = True
            return
        data = response.encode()
        if response.action == "stall":
            handler.close_connection = True
            cut = len(data) - max(1, len(response.body) // 2)
            if handler.write(data[:cut]):
                handler.wait(response.stall_seconds, self._stopping)
            return
        handler.write(data)

    def _set_status(self, position: int, record: RequestRecord, status: int) -> None:
        # clear_requests may have emptied the list since; only patch our own record.
        if position < len(self.requests) and self.requests[position] is record:
            self.requests[position] = replace(record, status=status)

    def _take_fault(self, record: RequestRecord) -> Fault | None:
        for injection in self._injections:
            if injection.matches(record):
                if injection.use():
                    self._injections.remove(injection)
                return injection.fault
        return None

    def _fault_response(
        self, fault: Fault, record: RequestRecord, offset: int | None, limit: int
    ) -> _Response:
        if fault.kind == "disconnect":
            return _Response(0, b"", action="disconnect")
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
            return _Response(fault.status, fault.body_bytes, fault.content_type, fault.headers)
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
    ) -> _Response:
        """The answer the real API would give: an error envelope or a page (maybe fault-shaped)."""
        if record.path not in FOLLOWERS_PATHS:
            return self._envelope("errors/resource_not_found", record, detail=f"No route {record.path}.")
        if method != "GET":
            return self._envelope(
                "errors/method_not_allowed", record, headers=(("Allow", "GET"),), detail=None
            )
        if not record.key_ok:
            return self._envelope(
                "errors/missing_credentials",
                record,
                detail="Send your API key in the X-API-KEY header.",
            )
        if not record.account_id:
            return self._envelope("errors/resource_not_found", record, detail="account_id is required.")
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
        return _Response(200, body)

    def _depart(self, listing: _Listing, offset: int) -> None:
        """A random follower from before `offset` (already listed by this pass) leaves."""
        if not 0 < offset <= len(listing.entries):
            return  # nothing listed yet (page 0), or past the end: nobody can shift
        left = listing.entries[self._rng.randrange(offset)].id
        skipped = listing.entries[offset].id if offset < len(listing.entries) else None
        listing.remove([left])
        self.departures.append(Departure(listing.account_id, listing.user_id, left, skipped))

    def _reshape(self, listing: _Listing, offset: int, limit: int, cursor: str | None) -> bytes:
        return _page_body([e.body for e in listing.entries[offset : offset + limit]], cursor)

    def _apply_page_fault(
        self,
        fault: Fault,
        listing: _Listing,
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
            other = _other_provider(listing.provider)
            items = [
                msgspec.json.encode(
                    _make_item(other, listing.seed, listing.account_id, listing.user_id, e.index)
                )
                for e in listing.entries[offset : offset + limit]
            ]
            return _page_body(items, next_cursor)
        raise AssertionError(f"not a page fault: {fault.kind}")

    def _envelope(
        self,
        error_type: str,
        record: RequestRecord,
        *,
        status: int | None = None,
        title: str | None = None,
        detail: str | _Auto | None = _AUTO,
        instance: str | _Auto | None = _AUTO,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> _Response:
        known = DOCUMENTED_ERRORS.get(error_type) or EXTRA_ERRORS.get(error_type)
        status = status if status is not None else (known[0] if known else 500)
        envelope: dict[str, Any] = {"title": title or (known[1] if known else _phrase(status))}
        if detail is _AUTO:
            detail = f"Simulated {error_type} for account {record.account_id}."
        if detail is not None:
            envelope["detail"] = detail
        if instance is _AUTO:
            instance = f"req_{uuid.uuid4().hex[:24]}"
        if instance is not None:
            envelope["instance"] = instance
        envelope["type"] = error_type
        envelope["status"] = status
        return _Response(status, msgspec.json.encode(envelope), headers=headers)


# ---------------------------------------------------------------------------------------------------
# Standalone server


def _account_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(1, count + 1)]


def _churn(sim: Simulator, rate: float, seed: int, stop: threading.Event) -> None:
    """Follow/unfollow events at `rate` per second, spread over all listings, until `stop`."""
    rng = random.Random(seed ^ 0x5EED)
    listings = sim.listings()
    while listings and not stop.wait(rng.expovariate(rate)):
        account_id, user_id = rng.choice(listings)
        # Slightly more follows than unfollows: a growing account, like the demo wants to show.
        if rng.random() < 0.55 or not sim.follower_ids(account_id, user_id=user_id):
            sim.follow(account_id, user_id=user_id)
        else:
            sim.unfollow(account_id, count=1, user_id=user_id)


def serve(
    *,
    host: str,
    port: int,
    api_key: str,
    linkedin_accounts: int,
    instagram_accounts: int,
    followers: int,
    seed: int,
    latency: float,
    churn: float,
) -> None:
    """Run a simulator in the foreground until SIGINT or SIGTERM (`followersync simulate`).

    Creates `acc_linkedin_01`.. and `acc_ig_01`.., each with `followers` followers, churns them at
    `churn` events per second, and prints the base URL and the account ids (never the key).
    """
    sim = Simulator(api_key, latency=latency, seed=seed, host=host, port=port)
    accounts = [(a, "linkedin") for a in _account_ids("acc_linkedin_", linkedin_accounts)]
    accounts += [(a, "instagram") for a in _account_ids("acc_ig_", instagram_accounts)]
    for account_id, provider in accounts:
        sim.add_account(account_id, provider, followers=followers)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    sim.start()  # binding first: a port in use fails here, with nothing to undo
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        key_note = (
            "the built-in default (see --help)"
            if api_key == DEFAULT_API_KEY
            else "from --api-key / $POSTPRESS_API_KEY (not shown)"
        )
        lines = [
            f"postpress simulator serving {sim.base_url}/users/followers (also /v1/users/followers)"
            f" on {host}:{sim.port}",
            f"X-API-KEY: {key_note}",
            f"latency {latency:g}s, churn {churn:g} events/s, seed {seed}",
            "accounts:",
            *(f"  {a:<20} {p:<10} {followers} followers" for a, p in accounts),
        ]
        if accounts:
            lines.append(
                f'try: curl -H "X-API-KEY: $POSTPRESS_API_KEY" '
                f"'{sim.base_url}/users/followers?account_id={accounts[0][0]}&limit=2'"
            )
        lines.append("Ctrl-C or SIGTERM stops it.")
        print("\n".join(lines), flush=True)
        churner = None
        if churn > 0:
            churner = threading.Thread(target=_churn, args=(sim, churn, seed, stop), daemon=True)
            churner.start()
        stop.wait()
        if churner is not None:
            churner.join(timeout=2)
    finally:
        sim.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("simulator stopped", flush=True)


@click.command(
    "simulate",
    epilog=(
        "Example (then point followersync at it with "
        "FOLLOWERSYNC_BASE_URL=http://127.0.0.1:8080/api/v1):\n\n"
        "\b\n"
        "  POSTPRESS_API_KEY=dev-key followersync simulate --port 8080 \\\n"
        "      --instagram-accounts 2 --followers 5000 --churn 2\n"
        "  curl -H 'X-API-KEY: dev-key' \\\n"
        "      'http://127.0.0.1:8080/api/v1/users/followers?account_id=acc_ig_01&limit=5'"
    ),
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container)."
)
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--api-key",
    envvar="POSTPRESS_API_KEY",
    default=DEFAULT_API_KEY,
    show_default=False,
    help=f"Key the X-API-KEY header must carry. Default: $POSTPRESS_API_KEY, else {DEFAULT_API_KEY!r}.",
)
@click.option(
    "--linkedin-accounts", default=1, show_default=True, type=click.IntRange(0, 99), help="acc_linkedin_01..."
)
@click.option(
    "--instagram-accounts", default=1, show_default=True, type=click.IntRange(0, 99), help="acc_ig_01..."
)
@click.option(
    "--followers", default=1000, show_default=True, type=click.IntRange(0), help="Followers per account."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same followers.")
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds added to every response.",
)
@click.option(
    "--churn",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Follow/unfollow events per second.",
)
def simulate_command(
    host: str,
    port: int,
    api_key: str,
    linkedin_accounts: int,
    instagram_accounts: int,
    followers: int,
    seed: int,
    latency: float,
    churn: float,
) -> None:
    """Serve a realistic fake postpress API (GET /api/v1/users/followers) until Ctrl-C or SIGTERM.

    For demos, docker-compose and integration tests: deterministic followers (by seed), real
    pagination with offset cursors, optional latency and live follow/unfollow churn.
    """
    try:
        serve(
            host=host,
            port=port,
            api_key=api_key,
            linkedin_accounts=linkedin_accounts,
            instagram_accounts=instagram_accounts,
            followers=followers,
            seed=seed,
            latency=latency,
            churn=churn,
        )
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _main() -> None:
    """`python -m followersync.simulator`: the simulate command without the rest of the CLI."""
    simulate_command(prog_name="followersync simulate")


if __name__ == "__main__":
    _main()
