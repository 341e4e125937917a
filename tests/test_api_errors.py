"""Error envelopes become one exception class per meaning, and the API key never shows in them."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import pytest

from followersync.api import (
    AccountRestrictedError,
    ApiError,
    BadRequestError,
    CredentialError,
    CursorLoopError,
    ForbiddenError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    NotImplementedByApiError,
    PostpressError,
    ProviderLimitError,
    RateLimitedError,
    ServerError,
    TransientApiError,
    error_from_response,
)
from followersync.api.errors import parse_retry_after
from followersync.domain import ErrorKind, kind_of

# Written out from postpress's API reference (docs/api.md#errors lists the same), independently of the code:
# its 34 error types, each with its HTTP status, and what each means to followersync.
CREDENTIAL = [
    "missing_credentials",
    "multiple_sessions",
    "invalid_checkpoint_solution",
    "invalid_proxy_credentials",
    "checkpoint_error",
    "invalid_credentials",
    "expired_credentials",
    "insufficient_privileges",
    "disconnected_account",
    "disconnected_feature",
    "invalid_credentials_but_valid_account_imap",
    "expired_link",
    "wrong_account",
]
# Which 401 a refused API key gets, the reference does not say: these three may mean the key, the
# others are about the linked account's connection, which the API only judges once it took the key.
KEY_REFUSALS = {"missing_credentials", "invalid_credentials", "insufficient_privileges"}
FORBIDDEN = [
    "account_mismatch",
    "insufficient_permissions",
    "session_mismatch",
    "feature_not_subscribed",
    "subscription_required",
    "unknown_authentication_context",
    "action_required",
    "resource_access_restricted",
]
REFERENCE: list[tuple[int, str, ErrorKind, type[ApiError]]] = [
    *[
        (
            401,
            f"errors/{t}",
            ErrorKind.API_KEY if t in KEY_REFUSALS else ErrorKind.ACCOUNT_CREDENTIALS,
            CredentialError,
        )
        for t in CREDENTIAL
    ],
    (403, "errors/account_restricted", ErrorKind.RESTRICTED, AccountRestrictedError),
    *[(403, f"errors/{t}", ErrorKind.FORBIDDEN, ForbiddenError) for t in FORBIDDEN],
    (404, "errors/resource_not_found", ErrorKind.NOT_FOUND, NotFoundError),
    (404, "errors/invalid_resource_identifier", ErrorKind.NOT_FOUND, NotFoundError),
    (500, "errors/unexpected_error", ErrorKind.TRANSIENT, TransientApiError),
    (500, "errors/provider_error", ErrorKind.PROVIDER_LIMIT, ProviderLimitError),
    (500, "errors/authentication_intent_error", ErrorKind.SERVER, ServerError),
    (501, "errors/feature_not_implemented", ErrorKind.NOT_IMPLEMENTED, NotImplementedByApiError),
    (503, "errors/no_client_session", ErrorKind.TRANSIENT, TransientApiError),
    (503, "errors/no_channel", ErrorKind.TRANSIENT, TransientApiError),
    (503, "errors/no_handler", ErrorKind.TRANSIENT, TransientApiError),
    (503, "errors/network_down", ErrorKind.TRANSIENT, TransientApiError),
    (503, "errors/service_unavailable", ErrorKind.TRANSIENT, TransientApiError),
    (504, "errors/request_timeout", ErrorKind.TRANSIENT, TransientApiError),
]


def envelope(status: int, type_: str, **fields: object) -> bytes:
    return json.dumps({"type": type_, "status": status, "title": "Some title", **fields}).encode()


def test_the_code_knows_all_34_types_of_the_reference_by_the_type_alone() -> None:
    types = [t for _, t, _, _ in REFERENCE]
    assert len(set(types)) == len(types) == 34  # the reference's whole catalogue, written out above
    # Without a status, only the code's catalogue of types can tell what an error means.
    unknown = [t for t in types if kind_of(t, None) is ErrorKind.OTHER]
    assert unknown == []


@pytest.mark.parametrize(("status", "type_", "kind", "cls"), REFERENCE, ids=[t for _, t, _, _ in REFERENCE])
def test_each_documented_type_has_its_meaning_and_class(
    status: int, type_: str, kind: ErrorKind, cls: type[ApiError]
) -> None:
    # By the type alone: a type missing from the code's catalogue would fall back on its status, which
    # for most types gives the same class, but not always the same meaning.
    assert kind_of(type_, None) is kind
    error = error_from_response(status, envelope(status, type_), {"content-type": "application/json"})
    assert type(error) is cls
    assert error.error_type == error.type == type_
    assert error.status == status


def test_envelope_fields_are_kept_and_the_message_is_one_line() -> None:
    body = envelope(
        401,
        "errors/expired_credentials",
        title="Credentials have expired.",
        detail="Reconnect\nthe account.",
        instance="req_01HX",
    )
    error = error_from_response(401, body, {})
    assert (error.title, error.detail, error.instance) == (
        "Credentials have expired.",
        "Reconnect\nthe account.",
        "req_01HX",
    )
    assert error.error_detail == {
        "status": 401,
        "title": "Credentials have expired.",
        "detail": "Reconnect\nthe account.",
        "instance": "req_01HX",
    }
    assert str(error) == (
        "401 errors/expired_credentials: Credentials have expired. "
        "(Reconnect the account.) [instance req_01HX]"
    )


def test_optional_envelope_fields_may_be_absent() -> None:
    error = error_from_response(
        404, b'{"type": "errors/resource_not_found", "status": 404, "title": "Nope"}', {}
    )
    assert isinstance(error, NotFoundError)
    assert error.detail is None and error.instance is None
    assert error.error_detail == {"status": 404, "title": "Nope"}
    assert str(error) == "404 errors/resource_not_found: Nope"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, CredentialError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (500, ServerError),
        (501, NotImplementedByApiError),
        (502, ServerError),
        (503, TransientApiError),
        (504, TransientApiError),
        (418, ApiError),
    ],
)
def test_an_unknown_type_falls_back_on_the_status(status: int, cls: type[ApiError]) -> None:
    error = error_from_response(status, envelope(status, "errors/brand_new_type"), {})
    assert type(error) is cls
    assert error.error_type == "errors/brand_new_type"


def test_the_type_decides_before_the_status() -> None:
    error = error_from_response(500, envelope(500, "errors/expired_credentials"), {})
    assert isinstance(error, CredentialError)


@pytest.mark.parametrize(
    ("status", "cls"), [(502, ServerError), (503, TransientApiError), (401, CredentialError)]
)
def test_a_body_that_is_not_an_envelope_is_classed_by_status(status: int, cls: type[ApiError]) -> None:
    html = b"<html><head><title>Bad Gateway</title></head>\n<body>nginx</body></html>"
    error = error_from_response(status, html, {"Content-Type": "text/html"})
    assert type(error) is cls
    assert error.error_type == f"http_{status}"
    assert error.detail is not None
    assert "not an error envelope" in error.detail
    assert "text/html" in error.detail
    assert "<title>Bad Gateway</title>" in error.detail
    assert "\n" not in str(error)


@pytest.mark.parametrize("body", [b"", b"[1, 2]", b'{"title": "no type"}', b'{"type": 7}', b"null"])
def test_other_non_envelopes(body: bytes) -> None:
    error = error_from_response(500, body, {})
    assert type(error) is ServerError
    assert error.error_type == "http_500"
    assert error.title == "Internal Server Error"


def test_429_is_rate_limited_with_retry_after_in_seconds() -> None:
    error = error_from_response(429, b"", {"Retry-After": "12"})
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 12.0
    assert error.error_detail["retry_after"] == 12.0
    without = error_from_response(429, envelope(429, "errors/too_many_requests"), {})
    assert isinstance(without, RateLimitedError)
    assert without.retry_after is None


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    error = error_from_response(429, b"", {"retry-after": "Fri, 01 May 2026 12:00:30 GMT"}, now=now)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 30.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        ("2.5", 2.5),
        (" 7 ", 7.0),
        ("-3", None),
        ("soon", None),
        ("nan", None),
        ("Fri, 01 May 2026 11:00:00 GMT", 0.0),  # a date in the past: retry now
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, datetime(2026, 5, 1, 12, 0, tzinfo=UTC)) == seconds


def test_the_tree() -> None:
    for cls in (ApiError, NetworkError, InvalidResponseError, CursorLoopError):
        assert issubclass(cls, PostpressError)
    for cls in (
        CredentialError,
        AccountRestrictedError,
        ForbiddenError,
        BadRequestError,
        NotFoundError,
        RateLimitedError,
        NotImplementedByApiError,
        TransientApiError,
        ServerError,
    ):
        assert issubclass(cls, ApiError)
    # A restriction is not a generic "forbidden": the engine treats it apart.
    assert not issubclass(AccountRestrictedError, ForbiddenError)


def test_our_own_errors_have_bare_names_and_a_detail() -> None:
    network = NetworkError("ReadTimeout: timed out")
    invalid = InvalidResponseError("items[3]: Object missing required field `urn`")
    loop = CursorLoopError("cursor repeats", pages=4)
    assert (network.error_type, invalid.error_type, loop.error_type) == (
        "network_error",
        "invalid_response",
        "cursor_loop",
    )
    assert invalid.error_detail["detail"] == "items[3]: Object missing required field `urn`"
    assert str(invalid) == "items[3]: Object missing required field `urn`"
    assert loop.error_detail["pages"] == 4


def test_attempts_show_in_the_message_once_retried() -> None:
    error = NetworkError("ConnectError: refused")
    assert error.attempts == 1
    error.attempts = 3
    assert str(error) == "ConnectError: refused (after 3 attempts)"


def test_redact_removes_a_secret_from_every_text() -> None:
    secret = "pp_live_SECRET123"
    body = envelope(401, "errors/invalid_credentials", detail=f"key {secret} is bad", instance=secret)
    error = error_from_response(401, body, {})
    error.redact(secret)
    for text in (str(error), repr(error), repr(error.args), repr(error.error_detail), repr(vars(error))):
        assert secret not in text
    assert "[redacted]" in str(error)


@pytest.mark.parametrize(
    "error",
    [
        error_from_response(503, envelope(503, "errors/no_channel", detail="d", instance="i"), {}),
        error_from_response(429, b"", {"retry-after": "5"}),
        NetworkError("ConnectError"),
        InvalidResponseError("cursor: bad"),
        CursorLoopError("loop", pages=2),
    ],
)
def test_errors_survive_pickling(error: PostpressError) -> None:
    error.attempts = 2
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.error_detail == error.error_detail
    assert copy.error_type == error.error_type
