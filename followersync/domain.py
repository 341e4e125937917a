"""The vocabulary every layer shares: providers, pass modes, run statuses, events, and what an API
error type means. Imports no other module of followersync, so any layer may import it.

The words are the user's, the same from the SQL to the command line: a *source* is a linked account
(optionally narrowed to one user's followers), a *pass* pages through its whole listing (full) or
stops early (incremental), a *run* is one invocation's work on a source, an *event* records a
follower arriving (`baseline`, `follow`) or leaving (`unfollow`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """A social network whose followers postpress lists."""

    name: str  # as in the configuration and the `sources.provider` column
    title: str  # as people write it
    max_page_size: int  # the API's largest `limit` for this provider


PROVIDERS: dict[str, Provider] = {
    "linkedin": Provider("linkedin", "LinkedIn", 100),
    "instagram": Provider("instagram", "Instagram", 200),
}


class PassMode(enum.StrEnum):
    """The modes a pass runs in (the `mode` of `sync_runs` and `sync_passes`)."""

    FULL = "full"  # every page of the listing, then unfollows are settled
    INCREMENTAL = "incremental"  # stops at the first page with nothing new


PASS_MODES = tuple(mode.value for mode in PassMode)
SYNC_MODES = ("auto", *PASS_MODES)
"""What `followersync sync --mode` accepts: auto picks full or incremental."""


class RunStatus(enum.StrEnum):
    """How a run stands or ended: the `status` of `sync_runs` (docs/semantics.md#passes)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEFERRED = "deferred"  # stopped on purpose (a limit, the budget, a signal): the next run resumes
    FAILED = "failed"
    ABANDONED = "abandoned"  # its process died: found by the next process, its lease expired


RUN_STATUSES = tuple(status.value for status in RunStatus)


class ErrorType(enum.StrEnum):
    """followersync's own `sync_runs.error_type` values; the others are the API's (`errors/...`)."""

    BUDGET_EXHAUSTED = "budget_exhausted"  # the account's daily request budget is used up
    RATELIMIT_WINDOW = "ratelimit_window"  # the API said its request window is used up
    LEASE_LOST = "lease_lost"  # another process took the account's lease
    NETWORK_ERROR = "network_error"  # the API could not be reached, or did not answer in time
    INVALID_RESPONSE = "invalid_response"  # a success whose body is not the documented page
    CURSOR_LOOP = "cursor_loop"  # the listing never ends
    DATABASE_ERROR = "database_error"
    INTERNAL_ERROR = "internal_error"  # a bug of ours: the run's message has it


class FollowersyncError(Exception):
    """The root of every exception followersync raises on purpose (bad settings, an API failure, a
    schema it cannot use, a budget or lease that stops a run), so a caller can catch them all."""


EVENTS = ("baseline", "follow", "unfollow")

# The profile fields whose changes make a follower's profile history (README, "Profile history").
# Picture URLs are left out: they are signed, short-lived CDN links that differ on every listing.
TRACKED_FIELDS: dict[str, tuple[str, ...]] = {
    "linkedin": ("name", "headline", "profile_url"),
    "instagram": ("username", "name", "is_private", "is_verified"),
}

NOTIFY_EVENTS = ("unfollow", "follow", "profile_change", "withheld", "attention")
"""What a `[[notify]]` hook can ask for (README, "Notifications")."""


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's condition: `column` holds one of `values` (fixed words, never user input)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# --- what an API error means -------------------------------------------------------------------------


class ErrorKind(enum.Enum):
    """The meaning of an error the API answered: what a pass does about it, what the user should."""

    API_KEY = "the API key was refused"
    ACCOUNT_CREDENTIALS = "the linked account must be reconnected"
    RESTRICTED = "the provider restricted the account"
    FORBIDDEN = "the key may not list this (scopes, subscription)"
    BAD_REQUEST = "the request was refused (e.g. a stale cursor)"
    NOT_FOUND = "no such account or user"
    RATE_LIMITED = "too many requests"
    PROVIDER_LIMIT = "the provider is over its limits or struggling: rest the account"
    NOT_IMPLEMENTED = "the API does not offer this listing"
    TRANSIENT = "a passing failure: worth a retry"
    SERVER = "a server failure not worth a retry"
    OTHER = "an error the API does not document"


def _types(*names: str) -> frozenset[str]:
    return frozenset(f"errors/{name}" for name in names)


# The 401 types (the reference's catalogue, docs/api.md#errors). Which one a wrong API key gets is not
# documented (the simulator answers missing_credentials when no key is sent, invalid_credentials when
# a wrong one is, as the reference's descriptions read): these three may mean the key; the others are
# about the linked account's connection to the provider, which the API can only judge once it accepted
# the key.
API_KEY_TYPES = _types("missing_credentials", "invalid_credentials", "insufficient_privileges")
ACCOUNT_CREDENTIAL_TYPES = _types(
    "expired_credentials",
    "disconnected_account",
    "disconnected_feature",
    "checkpoint_error",
    "invalid_checkpoint_solution",
    "multiple_sessions",
    "invalid_proxy_credentials",
    "invalid_credentials_but_valid_account_imap",
    "expired_link",
    "wrong_account",
)
FORBIDDEN_TYPES = _types(
    "account_mismatch",
    "insufficient_permissions",
    "session_mismatch",
    "feature_not_subscribed",
    "subscription_required",
    "unknown_authentication_context",
    "action_required",
    "resource_access_restricted",
)
NOT_FOUND_TYPES = _types("resource_not_found", "invalid_resource_identifier")
TRANSIENT_TYPES = _types(
    "unexpected_error",
    "no_client_session",
    "no_channel",
    "no_handler",
    "network_down",
    "service_unavailable",
    "request_timeout",
)

_BY_TYPE: dict[str, ErrorKind] = {
    **dict.fromkeys(API_KEY_TYPES, ErrorKind.API_KEY),
    **dict.fromkeys(ACCOUNT_CREDENTIAL_TYPES, ErrorKind.ACCOUNT_CREDENTIALS),
    "errors/account_restricted": ErrorKind.RESTRICTED,
    **dict.fromkeys(FORBIDDEN_TYPES, ErrorKind.FORBIDDEN),
    **dict.fromkeys(NOT_FOUND_TYPES, ErrorKind.NOT_FOUND),
    **dict.fromkeys(TRANSIENT_TYPES, ErrorKind.TRANSIENT),
    # "Retry later", says the reference; the service also answers a LinkedIn account's limits with it.
    "errors/provider_error": ErrorKind.PROVIDER_LIMIT,
    "errors/authentication_intent_error": ErrorKind.SERVER,
    "errors/feature_not_implemented": ErrorKind.NOT_IMPLEMENTED,
}

_BY_STATUS: dict[int, ErrorKind] = {
    400: ErrorKind.BAD_REQUEST,
    401: ErrorKind.API_KEY,  # an undocumented 401: the key is the first thing to check
    403: ErrorKind.FORBIDDEN,
    404: ErrorKind.NOT_FOUND,
    429: ErrorKind.RATE_LIMITED,
    501: ErrorKind.NOT_IMPLEMENTED,
    503: ErrorKind.TRANSIENT,
    504: ErrorKind.TRANSIENT,
}


def kind_of(error_type: str | None, status: int | None) -> ErrorKind:
    """What an API error means, judged by its `type` first and its HTTP status second, because the API
    documents meanings per type (a 500 may or may not be worth retrying). A 429 is the HTTP layer's
    rate limit whatever the body says."""
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if error_type is not None and error_type in _BY_TYPE:
        return _BY_TYPE[error_type]
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is not None and 500 <= status < 600:
        return ErrorKind.SERVER
    return ErrorKind.OTHER
