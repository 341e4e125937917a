"""The simulator's catalogue: the error types it answers with, the envelope it sends them in, its
paths and each provider's page limit."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import msgspec

from followersync.domain import PROVIDERS, FollowersyncError
from followersync.simulator.wire import Response, status_phrase

DEFAULT_API_KEY = "sim-key"
DEFAULT_LIMIT = 100
PROVIDER_MAX_LIMIT = {p.name: p.max_page_size for p in PROVIDERS.values()}
# Both forms appear in the reference (the heading and the example request): docs/api.md#the-endpoint.
FOLLOWERS_PATHS = frozenset({"/api/v1/users/followers", "/v1/users/followers"})

# Every error type of the reference (docs/api.md#errors): type -> (HTTP status, the reference's
# description). The description doubles as the envelope's default `title`.
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

# Types the reference does not document but that a server must still answer with (what followersync
# makes of them: docs/api.md#what-the-reference-does-not-say). The simulator uses them for its own
# validation and for `Fault.rate_limited`.
EXTRA_ERRORS: dict[str, tuple[int, str]] = {
    "errors/invalid_parameters": (400, "The request parameters are invalid."),
    "errors/too_many_requests": (429, "Too many requests. Slow down."),
    "errors/method_not_allowed": (405, "Only GET is supported on this resource."),
}


class SimulatorError(FollowersyncError, RuntimeError):
    """The simulator itself (or an `on_request` callback) failed while answering a request."""


class Auto(enum.Enum):
    """Marks an envelope field left to its default (`Fault.error`); None means: omit the field."""

    AUTO = "auto"


AUTO = Auto.AUTO


def envelope(
    error_type: str,
    account_id: str | None,
    *,
    status: int | None = None,
    title: str | None = None,
    detail: str | Auto | None = AUTO,
    instance: str | Auto | None = AUTO,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """The error envelope of `error_type` for a request of `account_id`: status and title from the
    catalogue unless given, a `detail` naming the simulator and a fresh `instance` unless given
    (None omits either field)."""
    known = DOCUMENTED_ERRORS.get(error_type) or EXTRA_ERRORS.get(error_type)
    status = status if status is not None else (known[0] if known else 500)
    fields: dict[str, Any] = {"title": title or (known[1] if known else status_phrase(status))}
    if detail is AUTO:
        detail = f"Simulated {error_type} for account {account_id}."
    if detail is not None:
        fields["detail"] = detail
    if instance is AUTO:
        instance = f"req_{uuid.uuid4().hex[:24]}"
    if instance is not None:
        fields["instance"] = instance
    fields["type"] = error_type
    fields["status"] = status
    return Response(status, msgspec.json.encode(fields), headers=headers)
