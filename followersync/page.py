"""A page of followers as the API listed it, once the client has decoded and checked it: what the
store writes and the pass runner counts (docs/api.md#the-page).

Its own module, below every layer that uses it, so that the store needs nothing of the API client;
not in `domain` because the follower types are msgspec structs (the client decodes straight into
them), and importing msgspec would cost every command's start-up, `status` included, ~25 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

__all__ = [
    "MAX_ID_LENGTH",
    "Follower",
    "FollowerId",
    "InstagramFollower",
    "LinkedInFollower",
    "Page",
    "RejectedItem",
]

# An id is a key in our tables; the bound keeps a broken answer from filling an index with megabytes.
MAX_ID_LENGTH = 512
FollowerId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]


class LinkedInFollower(msgspec.Struct, frozen=True):
    """One follower of a LinkedIn account or company page.

    Only `id` is sure to be there: a field the API sent null, empty, of the wrong type or not at all
    is None (docs/api.md#what-followersync-tolerates).
    """

    id: FollowerId
    object: str | None = None
    urn: str | None = None
    name: str | None = None
    headline: str | None = None
    profile_url: str | None = None
    profile_picture_url: str | None = None
    profile_picture_url_large: str | None = None


class InstagramFollower(msgspec.Struct, frozen=True):
    """One follower of an Instagram account (only `id` is sure to be there, as for LinkedIn)."""

    id: FollowerId
    object: str | None = None
    messaging_id: str | None = None
    username: str | None = None
    name: str | None = None
    is_private: bool | None = None
    is_verified: bool | None = None
    profile_picture_url: str | None = None


Follower = LinkedInFollower | InstagramFollower


@dataclass(frozen=True)
class RejectedItem:
    """An item that cannot be stored (no usable `id`), kept raw for the quarantine table."""

    position: int  # its index on the page
    reason: str
    raw: bytes


@dataclass(frozen=True)
class Page:
    """One validated page of a follower listing.

    `coerced` counts the stored items that lacked a field or had a null, empty or wrong-typed one;
    `rejected` holds the items that could not be stored at all. `age` is the answer's `Age` header in
    seconds (None when the answer had none): how long the upstream had cached it.
    """

    provider: str
    items: list[Follower]
    raw_items: list[bytes]
    cursor: str | None
    request_cursor: str | None
    coerced: int = 0
    rejected: tuple[RejectedItem, ...] = ()
    age: float | None = None
    # Some stored item had a field of the wrong JSON type (`"is_private": "yes"`): its raw JSON holds a
    # value the column must not take (the PostgreSQL writer reads the columns from the raw items).
    wrong_types: bool = False
