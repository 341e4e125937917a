"""The page of followers the API returns, decoded and validated once, at the edge (docs/api.md#the-page;
what a bad page does to a run: docs/semantics.md#bad-input).

Everything past `parse_page` trusts its input: each item is a typed, frozen `Follower`, and its JSON is
kept byte for byte (unknown extra fields included) for the store to save with the profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import msgspec

from followersync.api.errors import InvalidResponseError, body_excerpt

__all__ = ["Follower", "InstagramFollower", "LinkedInFollower", "Page", "parse_page"]

PAGE_OBJECT = "UserFollowersList"
ITEM_OBJECT = "UserFollower"

# An id is a key in our tables; the bound keeps a broken answer from filling an index with megabytes.
FollowerId = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
# The reference gives the cursor parameter "Minimum length 1" (docs/api.md#parameters); an empty cursor
# in a page would restart the listing.
Cursor = Annotated[str, msgspec.Meta(min_length=1)]


class LinkedInFollower(msgspec.Struct, frozen=True):
    """One follower of a LinkedIn account or company page."""

    object: str
    id: FollowerId
    urn: str
    name: str
    headline: str
    profile_url: str
    profile_picture_url: str
    profile_picture_url_large: str


class InstagramFollower(msgspec.Struct, frozen=True):
    """One follower of an Instagram account."""

    object: str
    id: FollowerId
    messaging_id: str
    username: str
    name: str
    is_private: bool
    is_verified: bool
    profile_picture_url: str | None = None


Follower = LinkedInFollower | InstagramFollower


@dataclass(frozen=True)
class Page:
    """One validated page of a follower listing."""

    provider: str
    items: list[Follower]
    raw_items: list[bytes]
    cursor: str | None
    request_cursor: str | None


class _RawPage(msgspec.Struct):
    object: str
    items: list[msgspec.Raw]
    cursor: Cursor | None  # required, and may be null: null marks the last page


_page_decoder = msgspec.json.Decoder(_RawPage)
_item_decoders: dict[
    str, msgspec.json.Decoder[LinkedInFollower] | msgspec.json.Decoder[InstagramFollower]
] = {
    "linkedin": msgspec.json.Decoder(LinkedInFollower),
    "instagram": msgspec.json.Decoder(InstagramFollower),
}

_AT_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<path>.*)`$", re.DOTALL)


def _where(error: msgspec.ValidationError, prefix: str) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.name`" as "items[3].name: Expected `str`, got `int`".

    `prefix` names where the decoded value sits in the page ("" for the page itself, shown as "body").
    """
    text = str(error)
    match = _AT_PATH.match(text)
    if match is None:
        return f"{prefix or 'body'}: {text}"
    location = prefix + match["path"] if prefix else match["path"].lstrip(".")
    return f"{location}: {match['message']}"


def parse_page(body: bytes, provider: str, *, request_cursor: str | None = None) -> Page:
    """Decode and validate one page of followers of `provider` ("linkedin" or "instagram").

    A LinkedIn page as the API sends it::

        {"object": "UserFollowersList",
         "items": [{"object": "UserFollower", "id": "ACoAACr-1eYBl",
                    "urn": "urn:li:fsd_profile:ACoAACr-1eYBl",
                    "name": "Jordan Walke", "headline": "Engineer at Acme",
                    "profile_url": "https://www.linkedin.com/in/jordan-walke",
                    "profile_picture_url": "https://media.licdn.com/p.jpg",
                    "profile_picture_url_large": "https://media.licdn.com/p-large.jpg"}],
         "cursor": "eyJvIjoxMDB9"}

    becomes ``Page(provider="linkedin", items=[LinkedInFollower(id="ACoAACr-1eYBl", ...)],
    raw_items=[b'{"object": "UserFollower", "id": "ACoAACr-1eYBl", ...}'], cursor="eyJvIjoxMDB9",
    request_cursor=<the cursor it was asked for>)``. ``"cursor": null`` gives ``cursor=None``: the last page.

    Raises `InvalidResponseError` naming the first problem found, e.g.
    ``items[3]: Object missing required field `urn``` (which is also what an Instagram item in a LinkedIn
    listing gives).
    """
    try:
        item_decoder = _item_decoders[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}") from None
    try:
        raw_page = _page_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidResponseError(_where(exc, "")) from None
    except msgspec.DecodeError as exc:
        if not body.strip():
            raise InvalidResponseError("body is empty, not JSON") from None
        raise InvalidResponseError(f"body is not JSON ({exc}); it starts: {body_excerpt(body)}") from None
    if raw_page.object != PAGE_OBJECT:
        raise InvalidResponseError(f"object: expected {PAGE_OBJECT!r}, got {raw_page.object[:100]!r}")

    items: list[Follower] = []
    raw_items: list[bytes] = []
    for index, raw in enumerate(raw_page.items):
        where = f"items[{index}]"
        try:
            item = item_decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise InvalidResponseError(_where(exc, where)) from None
        if item.object != ITEM_OBJECT:
            raise InvalidResponseError(f"{where}.object: expected {ITEM_OBJECT!r}, got {item.object[:100]!r}")
        items.append(item)
        raw_items.append(bytes(raw))
    return Page(
        provider=provider,
        items=items,
        raw_items=raw_items,
        cursor=raw_page.cursor,
        request_cursor=request_cursor,
    )
