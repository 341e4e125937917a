"""Our exceptions, one per meaning of a failure.

The hierarchy::

    PostpressError                    (a FollowersyncError: domain.py's root of all we raise)
    ├── ApiError                      the API answered with an error envelope (or an error status)
    │   ├── CredentialError           401: the account must be reconnected
    │   ├── AccountRestrictedError    403 errors/account_restricted
    │   ├── ForbiddenError            other 403 types
    │   ├── BadRequestError           400 (undocumented; e.g. a stale cursor)
    │   ├── NotFoundError             404
    │   ├── RateLimitedError          429
    │   ├── ProviderLimitError        500 provider_error: the provider's limits; the account rests
    │   ├── NotImplementedByApiError  501
    │   ├── TransientApiError         500 unexpected_error, 503, 504: worth a retry
    │   └── ServerError               other 5xx (e.g. 500 authentication_intent_error): not retried
    ├── NetworkError                  connect/read errors and timeouts
    ├── InvalidResponseError          a 2xx body that is not the documented page
    ├── LimitWindowError              x-ratelimit-remaining reached 0: wait for the window to reset
    └── CursorLoopError               the listing never ends (a repeated cursor, too many pages)

The class is chosen by the envelope's ``type`` first and the HTTP status second, because the API
documents meanings per type (a 500 may or may not be worth retrying); docs/api.md#errors has the table.
The engine decides what a failure does to a run from the class alone; ``error_type`` and
``error_detail`` are what it records.
"""

from __future__ import annotations

import http
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec

from followersync.domain import ErrorKind, ErrorType, FollowersyncError, kind_of
from followersync.text import one_line

__all__ = [
    "AccountRestrictedError",
    "ApiError",
    "BadRequestError",
    "CredentialError",
    "CursorLoopError",
    "ForbiddenError",
    "InvalidResponseError",
    "LimitWindowError",
    "NetworkError",
    "NotFoundError",
    "NotImplementedByApiError",
    "PostpressError",
    "ProviderLimitError",
    "RateLimitedError",
    "ServerError",
    "TransientApiError",
    "error_from_response",
    "parse_retry_after",
]

# Server-supplied text ends up in one-line log messages and table cells; an error page can be huge.
_MAX_TEXT = 300
_REDACTED = "[redacted]"


def _rebuild(cls: type[PostpressError], state: dict[str, Any], args: tuple[Any, ...]) -> PostpressError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class PostpressError(FollowersyncError):
    """Base class of every failure talking to the postpress API."""

    error_type: str = "postpress_error"

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        error_detail: Mapping[str, object] | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        if error_type is not None:
            self.error_type = error_type
        self.error_detail: dict[str, object] = dict(error_detail or {})
        self.attempts = attempts

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (after {self.attempts} attempts)"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive Exception's default pickling (it replays `args`).
        return (_rebuild, (type(self), dict(self.__dict__), self.args))

    def redact(self, secret: str) -> None:
        """Replace every occurrence of `secret` in this error's text (a server may echo what it got)."""
        if not secret:
            return
        for name, value in list(vars(self).items()):
            if isinstance(value, str) and secret in value:
                setattr(self, name, value.replace(secret, _REDACTED))
        for key, value in list(self.error_detail.items()):
            if isinstance(value, str) and secret in value:
                self.error_detail[key] = value.replace(secret, _REDACTED)
        self.args = tuple(a.replace(secret, _REDACTED) if isinstance(a, str) else a for a in self.args)


class ApiError(PostpressError):
    """The API answered with an error."""

    def __init__(
        self,
        status: int,
        error_type: str,
        title: str,
        detail: str | None = None,
        instance: str | None = None,
        *,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.instance = instance
        self.retry_after = retry_after
        error_detail: dict[str, object] = {"status": status, "title": title}
        if detail is not None:
            error_detail["detail"] = detail
        if instance is not None:
            error_detail["instance"] = instance
        if retry_after is not None:
            error_detail["retry_after"] = retry_after
        message = f"{status} {one_line(error_type, 100)}: {one_line(title, _MAX_TEXT)}"
        if detail:
            message += f" ({one_line(detail, _MAX_TEXT)})"
        if instance:
            message += f" [instance {one_line(instance, 100)}]"
        super().__init__(message, error_type=error_type, error_detail=error_detail, attempts=attempts)

    @property
    def type(self) -> str:
        """The envelope's `type`, verbatim (``http_<status>`` when the body was not an envelope)."""
        return self.error_type


class CredentialError(ApiError):
    """The account's credentials are missing, expired or invalid: reconnect the account (401)."""


class AccountRestrictedError(ApiError):
    """The provider has restricted the account (403 errors/account_restricted)."""


class ForbiddenError(ApiError):
    """Authenticated, but this action is not allowed (403)."""


class BadRequestError(ApiError):
    """The API rejected the request (400; undocumented, so e.g. a stale cursor)."""


class NotFoundError(ApiError):
    """The account or user was not found, or its identifier is not valid (404)."""


class RateLimitedError(ApiError):
    """Too many requests (429); `retry_after` is the seconds the API asked us to wait, if it said."""


class ProviderLimitError(ApiError):
    """The provider is over its limits or struggling (500 errors/provider_error): retry later, not now."""


class NotImplementedByApiError(ApiError):
    """The API does not offer this feature yet (501)."""


class TransientApiError(ApiError):
    """A failure the API says a retry can cure (500 unexpected_error, 503, 504)."""


class ServerError(ApiError):
    """A server-side failure that a retry is not known to cure (other 5xx)."""


class NetworkError(PostpressError):
    """No usable HTTP answer: the connection failed, dropped, or timed out."""

    error_type = ErrorType.NETWORK_ERROR

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(
            message, error_detail={"title": "Network error", "detail": message}, attempts=attempts
        )


class InvalidResponseError(PostpressError):
    """A successful answer whose body is not the documented page; the message names what is wrong."""

    error_type = ErrorType.INVALID_RESPONSE

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(
            message, error_detail={"title": "Invalid response", "detail": message}, attempts=attempts
        )


class LimitWindowError(PostpressError):
    """The answers said the account's request window is used up (`x-ratelimit-remaining: 0`) and
    resets later than a request may wait; `retry_after` is the seconds until it resets."""

    error_type = ErrorType.RATELIMIT_WINDOW

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(
            message,
            error_detail={"title": "Request window used up", "detail": message, "retry_after": retry_after},
        )
        self.retry_after = retry_after


class CursorLoopError(PostpressError):
    """The listing does not end: a cursor came back that was already requested, or too many pages."""

    error_type = ErrorType.CURSOR_LOOP

    def __init__(self, message: str, *, pages: int) -> None:
        super().__init__(message, error_detail={"title": "Cursor loop", "detail": message, "pages": pages})
        self.pages = pages


# The class of each meaning (`domain.kind_of` judges the meaning, by type first): the pass runner decides
# from the class alone what a failure does to a run, the client whether to retry.
_CLASS_OF: dict[ErrorKind, type[ApiError]] = {
    ErrorKind.API_KEY: CredentialError,
    ErrorKind.ACCOUNT_CREDENTIALS: CredentialError,
    ErrorKind.RESTRICTED: AccountRestrictedError,
    ErrorKind.FORBIDDEN: ForbiddenError,
    ErrorKind.BAD_REQUEST: BadRequestError,
    ErrorKind.NOT_FOUND: NotFoundError,
    ErrorKind.RATE_LIMITED: RateLimitedError,
    ErrorKind.PROVIDER_LIMIT: ProviderLimitError,
    ErrorKind.NOT_IMPLEMENTED: NotImplementedByApiError,
    ErrorKind.TRANSIENT: TransientApiError,
    ErrorKind.SERVER: ServerError,
    ErrorKind.OTHER: ApiError,
}


def _class_for(status: int, error_type: str | None) -> type[ApiError]:
    return _CLASS_OF[kind_of(error_type, status)]


class _Envelope(msgspec.Struct):
    type: str
    title: str | None = None
    detail: str | None = None
    instance: str | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(seconds, 0.0)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


def body_excerpt(body: bytes, limit: int = 120) -> str:
    """The start of a body as one printable line, for messages about bodies we could not use."""
    text = _PRINTABLE.sub(" ", body[: limit * 2].decode("utf-8", errors="replace"))
    return one_line(text, limit)


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, now: datetime | None = None
) -> ApiError:
    """The exception for an error answer: by the envelope's `type`, then by the HTTP `status`.

    A documented envelope looks like::

        {"type": "errors/expired_credentials", "status": 401, "title": "Credentials have expired.",
         "detail": "Reconnect the account.", "instance": "req_01HXYZ"}

    and becomes ``CredentialError`` with those fields. A body that is not an envelope (an HTML error page
    from a proxy, say) is classed by status alone, with ``error_type`` ``http_<status>``. `now` is used
    to turn an HTTP-date Retry-After into seconds.
    """
    retry_after = parse_retry_after(_header(headers, "retry-after"), now)
    try:
        envelope: _Envelope | None = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        envelope = None
    if envelope is not None and envelope.type.strip():
        cls = _class_for(status, envelope.type)
        return cls(
            status,
            envelope.type,
            envelope.title or _reason(status),
            envelope.detail,
            envelope.instance,
            retry_after=retry_after,
        )
    content_type = _header(headers, "content-type") or "no content type"
    if body.strip():
        detail = (
            f"the body was not an error envelope ({content_type}, {len(body)} bytes): {body_excerpt(body)}"
        )
    else:
        detail = "the body was empty, not an error envelope"
    return _class_for(status, None)(
        status, f"http_{status}", _reason(status), detail, retry_after=retry_after
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # httpx.Headers is case-insensitive already; a plain dict from a test may not be.
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value
