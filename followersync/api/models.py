"""The page of followers the API returns, decoded and validated once, at the edge (docs/api.md#the-page;
what a bad page does to a run: docs/semantics.md#bad-input).

Everything past `parse_page` trusts its input: each item is a typed, frozen `Follower`, and its JSON is
kept byte for byte (unknown extra fields included) for the store to save with the profile.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec

from followersync.api.errors import InvalidResponseError, body_excerpt
from followersync.page import (
    MAX_ID_LENGTH,
    Follower,
    InstagramFollower,
    LinkedInFollower,
    Page,
    RejectedItem,
)

__all__ = ["Follower", "InstagramFollower", "LinkedInFollower", "Page", "RejectedItem", "parse_page"]

PAGE_OBJECT = "UserFollowersList"
ITEM_OBJECT = "UserFollower"

# The reference gives the cursor parameter "Minimum length 1" (docs/api.md#parameters); an empty cursor
# in a page would restart the listing.
Cursor = Annotated[str, msgspec.Meta(min_length=1)]


# The fields the reference marks required, per provider (`profile_picture_url` is optional for
# Instagram). An item that lacks one, or sends it null, empty or of the wrong type, is coerced: stored
# with that column NULL and counted in `sync_runs.items_coerced`.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "linkedin": (
        "object",
        "urn",
        "name",
        "headline",
        "profile_url",
        "profile_picture_url",
        "profile_picture_url_large",
    ),
    "instagram": ("object", "messaging_id", "username", "name", "is_private", "is_verified"),
}
# Fields only one provider's items have: a page whose items carry the other provider's and none of
# their own is the wrong listing for the source's configured provider, not sloppy data.
_OWN_FIELDS: dict[str, frozenset[str]] = {
    "linkedin": frozenset({"urn", "headline", "profile_url", "profile_picture_url_large"}),
    "instagram": frozenset({"messaging_id", "username", "is_private", "is_verified"}),
}


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
_STRUCTS: dict[str, type[Follower]] = {"linkedin": LinkedInFollower, "instagram": InstagramFollower}
_any_decoder = msgspec.json.Decoder()

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


def _incomplete(item: Follower, provider: str) -> bool:
    """Whether a decoded item lacks a required field or has it null or empty (not a wrong type: an
    item with one never decodes as it is, see `_coerce`)."""
    required = [getattr(item, name) for name in _REQUIRED[provider]]
    return None in required or "" in required or item.object != ITEM_OBJECT


def _lacks_own_fields(item: Follower, provider: str) -> bool:
    """Whether the item has none of the fields only `provider`'s items have: maybe the other's."""
    return all(getattr(item, name) is None for name in _OWN_FIELDS[provider])


def _without_empty_strings(item: Follower) -> Follower:
    """The item with each empty string None: an empty name is as unknown as a missing one."""
    empty = {name: None for name in item.__struct_fields__ if getattr(item, name) == ""}
    return msgspec.structs.replace(item, **empty) if empty else item


def _coerce(raw: bytes, provider: str) -> Follower | str:
    """An item the strict decoder refused, as a Follower with every unusable field None; or, when it
    cannot be stored at all, the reason why."""
    try:
        value = _any_decoder.decode(raw)
    except msgspec.DecodeError:  # cannot happen inside a page that decoded, but say so if it does
        return "the item is not JSON"
    if not isinstance(value, dict):
        return f"the item is a JSON {type(value).__name__}, not an object"
    follower_id = value.get("id")
    if "id" not in value:
        return "no id"
    if not isinstance(follower_id, str):
        return (
            f"id is {'null' if follower_id is None else 'a JSON ' + type(follower_id).__name__}, not a string"
        )
    if not follower_id:
        return "id is empty"
    if len(follower_id) > MAX_ID_LENGTH:
        return f"id is {len(follower_id)} characters long, more than {MAX_ID_LENGTH}"
    struct = _STRUCTS[provider]
    fields: dict[str, Any] = {"id": follower_id}
    for name, annotation in struct.__annotations__.items():
        if name == "id" or name not in value:
            continue
        wanted = bool if "bool" in str(annotation) else str
        field_value = value[name]
        # bool is an int subclass, but no int is a str: isinstance is exact enough here.
        if isinstance(field_value, wanted) and field_value != "":
            fields[name] = field_value
    return struct(**fields)


def _looks_like(raw: bytes, provider: str) -> str | None:
    """The other provider's name when the item carries its fields and none of `provider`'s."""
    other = "instagram" if provider == "linkedin" else "linkedin"
    try:
        keys = _any_decoder.decode(raw).keys()
    except (msgspec.DecodeError, AttributeError):
        return None
    if keys & _OWN_FIELDS[other] and not keys & _OWN_FIELDS[provider]:
        return other
    return None


def parse_page(
    body: bytes, provider: str, *, request_cursor: str | None = None, age: float | None = None
) -> Page:
    """Decode and validate one page of followers of `provider` ("linkedin" or "instagram").

    A LinkedIn page as the API sends it::

        {"object": "UserFollowersList",
         "items": [{"object": "UserFollower", "id": "ACoAACr-1eYBl",
                    "urn": "urn:li:fsd_profile:ACoAACr-1eYBl",
                    "name": "Jordan Walke", "headline": "Engineer at Acme",
                    "profile_url": "https://www.linkedin.com/in/jordan-walke",
                    "profile_picture_url": null,
                    "profile_picture_url_large": "https://media.licdn.com/p-large.jpg"},
                   {"object": "UserFollower", "name": "No Id"}],
         "cursor": "eyJvIjoxMDB9"}

    becomes ``Page(provider="linkedin", items=[LinkedInFollower(id="ACoAACr-1eYBl", ...,
    profile_picture_url=None)], raw_items=[b'{"object": "UserFollower", "id": "ACoAACr-1eYBl", ...}'],
    cursor="eyJvIjoxMDB9", request_cursor=<the cursor it was asked for>, coerced=1,
    rejected=(RejectedItem(1, "no id", b'{"object": "UserFollower", "name": "No Id"}'),))``.
    ``"cursor": null`` gives ``cursor=None``: the last page.

    Items are tolerated as the real service sends them (docs/api.md#what-followersync-tolerates); the
    page itself is not. Raises `InvalidResponseError` naming the problem for a body that is not the
    documented page shape, and for items of the other provider's variant, e.g. ``items[0]: the items
    look like instagram's, not linkedin's: is the provider of this source right?``.
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
    rejected: list[RejectedItem] = []
    coerced = 0
    wrong_types = False
    astuple = msgspec.structs.astuple
    for index, raw in enumerate(raw_page.items):
        text = bytes(raw)
        try:
            decoded = item_decoder.decode(raw)
        except msgspec.ValidationError:  # a value of the wrong type, or no usable id
            item: Follower | str = _coerce(text, provider)
            wrong_types = wrong_types or not isinstance(item, str)
        else:
            # Almost every item: one C-level scan of its values finds nothing to look at closely.
            values = astuple(decoded)
            if (None not in values and "" not in values and decoded.object == ITEM_OBJECT) or not _incomplete(
                decoded, provider
            ):
                items.append(decoded)
                raw_items.append(text)
                continue
            item = _without_empty_strings(decoded)
        if isinstance(item, str) or _lacks_own_fields(item, provider):
            other = _looks_like(text, provider)
            if other is not None:
                raise InvalidResponseError(
                    f"items[{index}]: the items look like {other}'s, not {provider}'s: "
                    "is the provider of this source right?"
                )
        if isinstance(item, str):
            rejected.append(RejectedItem(index, item, text))
            continue
        coerced += 1
        items.append(item)
        raw_items.append(text)
    return Page(
        provider=provider,
        items=items,
        raw_items=raw_items,
        cursor=raw_page.cursor,
        request_cursor=request_cursor,
        coerced=coerced,
        rejected=tuple(rejected),
        age=age,
        wrong_types=wrong_types,
    )
