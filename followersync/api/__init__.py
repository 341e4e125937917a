"""The postpress API client: requests, pagination, retries, pacing, and the page and error types."""

from followersync.api.client import Client, RequestStats
from followersync.api.errors import (
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
    RateLimitedError,
    ServerError,
    TransientApiError,
    error_from_response,
)
from followersync.api.models import Follower, InstagramFollower, LinkedInFollower, Page, parse_page
from followersync.api.pacing import Pacer

__all__ = [
    "AccountRestrictedError",
    "ApiError",
    "BadRequestError",
    "Client",
    "CredentialError",
    "CursorLoopError",
    "Follower",
    "ForbiddenError",
    "InstagramFollower",
    "InvalidResponseError",
    "LinkedInFollower",
    "NetworkError",
    "NotFoundError",
    "NotImplementedByApiError",
    "Pacer",
    "Page",
    "PostpressError",
    "RateLimitedError",
    "RequestStats",
    "ServerError",
    "TransientApiError",
    "error_from_response",
    "parse_page",
]
