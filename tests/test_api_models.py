"""A page is decoded and validated once; anything off the documented shape is named precisely."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from followersync.api import InstagramFollower, InvalidResponseError, LinkedInFollower, parse_page

LINKEDIN_ITEM: dict[str, Any] = {
    "object": "UserFollower",
    "id": "ACoAACr-1eYBl",
    "urn": "urn:li:fsd_profile:ACoAACr-1eYBl",
    "name": "Jordan Walke",
    "headline": "Engineer at Acme",
    "profile_url": "https://www.linkedin.com/in/jordan-walke",
    "profile_picture_url": "https://media.licdn.com/p.jpg",
    "profile_picture_url_large": "https://media.licdn.com/p-large.jpg",
}
INSTAGRAM_ITEM: dict[str, Any] = {
    "object": "UserFollower",
    "id": "17841400000000001",
    "messaging_id": "340282366841710300949128131112345",
    "username": "jordan.w",
    "name": "Jordan W",
    "profile_picture_url": "https://scontent.cdninstagram.com/p.jpg",
    "is_private": False,
    "is_verified": True,
}
ITEMS = {"linkedin": LINKEDIN_ITEM, "instagram": INSTAGRAM_ITEM}


def page(items: list[Any], cursor: Any = "eyJvIjoxMDB9", **extra: Any) -> bytes:
    return json.dumps({"object": "UserFollowersList", "items": items, "cursor": cursor, **extra}).encode()


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k != key}


def test_the_reference_example_parses() -> None:
    parsed = parse_page(page([LINKEDIN_ITEM]), "linkedin", request_cursor="abc")
    assert parsed.provider == "linkedin"
    assert parsed.items == [LinkedInFollower(**LINKEDIN_ITEM)]
    assert parsed.cursor == "eyJvIjoxMDB9"
    assert parsed.request_cursor == "abc"
    assert [json.loads(raw) for raw in parsed.raw_items] == [LINKEDIN_ITEM]


def test_an_instagram_page_and_its_optional_picture() -> None:
    no_picture = without(with_(INSTAGRAM_ITEM, id="2"), "profile_picture_url")
    null_picture = with_(INSTAGRAM_ITEM, id="3", profile_picture_url=None)
    parsed = parse_page(page([INSTAGRAM_ITEM, no_picture, null_picture], cursor=None), "instagram")
    assert parsed.cursor is None
    assert [item.id for item in parsed.items] == ["17841400000000001", "2", "3"]
    first, second, third = parsed.items
    assert isinstance(first, InstagramFollower)
    assert first.is_verified is True and first.is_private is False
    assert isinstance(second, InstagramFollower) and second.profile_picture_url is None
    assert isinstance(third, InstagramFollower) and third.profile_picture_url is None


def test_raw_items_are_the_bytes_received_with_unknown_fields_kept() -> None:
    body = (
        b'{"object":"UserFollowersList","new_top_level":1,"items":[ '
        b'{"object":"UserFollower","id":"1","urn":"u","name":"n","headline":"h","profile_url":"p",'
        b'"profile_picture_url":"q","profile_picture_url_large":"r","pronouns":"they","x":{"y":[1]}} ],'
        b'"cursor":null}'
    )
    parsed = parse_page(body, "linkedin")
    (raw,) = parsed.raw_items
    assert raw == body[body.index(b'{"object":"UserFollower"') : body.index(b"} ]") + 1]
    assert json.loads(raw)["x"] == {"y": [1]}


def test_an_empty_last_page() -> None:
    parsed = parse_page(page([], cursor=None), "linkedin")
    assert parsed.items == [] and parsed.raw_items == [] and parsed.cursor is None


def test_followers_are_frozen() -> None:
    follower = parse_page(page([LINKEDIN_ITEM]), "linkedin").items[0]
    with pytest.raises(AttributeError):
        follower.name = "x"  # type: ignore[misc]


BAD_BODIES: list[tuple[str, str, bytes, str]] = [
    ("not JSON", "linkedin", b"<!doctype html><html><body>Hello</body></html>", "body is not JSON"),
    ("truncated JSON", "linkedin", page([LINKEDIN_ITEM])[:50], "body is not JSON"),
    ("empty body", "linkedin", b"", "body is empty, not JSON"),
    ("a JSON array", "linkedin", b"[]", "body: Expected `object`, got `array`"),
    ("JSON null", "linkedin", b"null", "body: Expected `object`, got `null`"),
    (
        "wrong page object",
        "linkedin",
        json.dumps({"object": "UserFollower", "items": [], "cursor": None}).encode(),
        "object: expected 'UserFollowersList', got 'UserFollower'",
    ),
    (
        "an error envelope with status 200",
        "linkedin",
        b'{"type": "errors/unexpected_error", "status": 500, "title": "oops"}',
        "Object missing required field `object`",
    ),
    (
        "items missing",
        "linkedin",
        b'{"object": "UserFollowersList", "cursor": null}',
        "Object missing required field `items`",
    ),
    (
        "items not a list",
        "linkedin",
        b'{"object": "UserFollowersList", "items": {}, "cursor": null}',
        "items: Expected `array`, got `object`",
    ),
    (
        "cursor missing",
        "linkedin",
        b'{"object": "UserFollowersList", "items": []}',
        "Object missing required field `cursor`",
    ),
    ("empty cursor", "linkedin", page([], cursor=""), "cursor: Expected `str` of length >= 1"),
    ("cursor a number", "linkedin", page([], cursor=100), "cursor: Expected `str | null`, got `int`"),
    (
        "an Instagram item in a LinkedIn listing",
        "linkedin",
        page([INSTAGRAM_ITEM]),
        "items[0]: the items look like instagram's, not linkedin's: is the provider of this source right?",
    ),
    (
        "a LinkedIn item in an Instagram listing",
        "instagram",
        page([LINKEDIN_ITEM]),
        "items[0]: the items look like linkedin's, not instagram's: is the provider of this source right?",
    ),
    (
        "the other provider's item after good ones",
        "linkedin",
        page([LINKEDIN_ITEM, with_(INSTAGRAM_ITEM, id="2")]),
        "items[1]: the items look like instagram's",
    ),
]


@pytest.mark.parametrize(
    ("provider", "body", "message"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_bad_bodies_are_invalid_responses_that_say_why(provider: str, body: bytes, message: str) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        parse_page(body, provider)
    assert message in str(caught.value)
    assert caught.value.error_type == "invalid_response"
    assert caught.value.error_detail["detail"] == str(caught.value)


def test_the_not_json_message_shows_how_the_body_starts() -> None:
    with pytest.raises(InvalidResponseError, match=r"it starts: <!doctype html><html>"):
        parse_page(b"<!doctype html><html>\n<body>Maintenance</body></html>", "linkedin")


def test_an_id_of_512_characters_is_fine() -> None:
    parsed = parse_page(page([with_(LINKEDIN_ITEM, id="x" * 512)]), "linkedin")
    assert parsed.items[0].id == "x" * 512


def test_an_unknown_provider_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown provider 'tiktok'"):
        parse_page(page([]), "tiktok")


def test_items_decode_as_msgspec_structs() -> None:
    # The store relies on msgspec.structs.asdict to map fields to columns.
    follower = parse_page(page([LINKEDIN_ITEM]), "linkedin").items[0]
    assert msgspec.structs.asdict(follower) == LINKEDIN_ITEM


# --- items as the real service sends them (docs/api.md#what-followersync-tolerates) ---------------


@pytest.mark.parametrize(
    ("provider", "item", "column"),
    [
        ("linkedin", with_(LINKEDIN_ITEM, profile_picture_url=None), "profile_picture_url"),
        ("linkedin", without(LINKEDIN_ITEM, "urn"), "urn"),
        ("linkedin", with_(LINKEDIN_ITEM, name=42), "name"),
        ("linkedin", with_(LINKEDIN_ITEM, headline=""), "headline"),
        ("linkedin", with_(LINKEDIN_ITEM, headline=["a"]), "headline"),
        ("instagram", with_(INSTAGRAM_ITEM, is_private="no"), "is_private"),
        ("instagram", with_(INSTAGRAM_ITEM, is_verified=None), "is_verified"),
        ("instagram", without(INSTAGRAM_ITEM, "username"), "username"),
        ("instagram", with_(INSTAGRAM_ITEM, name=True), "name"),
    ],
)
def test_an_item_with_an_unusable_field_is_kept_with_that_field_none_and_counted(
    provider: str, item: dict[str, Any], column: str
) -> None:
    good = with_(ITEMS[provider], id="other")
    parsed = parse_page(page([good, item]), provider)
    assert [i.id for i in parsed.items] == ["other", item["id"]]
    assert getattr(parsed.items[1], column) is None
    kept = {k: v for k, v in ITEMS[provider].items() if k not in (column, "id")}
    assert {k: getattr(parsed.items[1], k) for k in kept} == kept
    assert parsed.coerced == 1 and parsed.rejected == ()
    assert [json.loads(raw) for raw in parsed.raw_items] == [good, item]  # kept as the API sent it


def test_an_instagram_item_without_a_picture_is_not_coerced() -> None:
    parsed = parse_page(page([without(INSTAGRAM_ITEM, "profile_picture_url")]), "instagram")
    assert parsed.coerced == 0 and parsed.items[0].profile_picture_url is None


def test_a_wrong_item_object_is_kept_and_counted() -> None:
    parsed = parse_page(page([with_(LINKEDIN_ITEM, object="UserFollowing")]), "linkedin")
    assert parsed.coerced == 1 and parsed.items[0].name == "Jordan Walke"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (without(LINKEDIN_ITEM, "id"), "no id"),
        (with_(LINKEDIN_ITEM, id=None), "id is null, not a string"),
        (with_(LINKEDIN_ITEM, id=""), "id is empty"),
        (with_(LINKEDIN_ITEM, id=12345), "id is a JSON int, not a string"),
        (with_(LINKEDIN_ITEM, id="9" * 513), "id is 513 characters long, more than 512"),
        ("ACoA", "the item is a JSON str, not an object"),
        (None, "the item is a JSON NoneType, not an object"),
    ],
)
def test_an_item_without_a_usable_id_is_rejected_raw_and_the_page_goes_on(item: Any, reason: str) -> None:
    parsed = parse_page(page([item, LINKEDIN_ITEM]), "linkedin")
    assert [i.id for i in parsed.items] == [LINKEDIN_ITEM["id"]]
    (rejected,) = parsed.rejected
    assert (rejected.position, rejected.reason) == (0, reason)
    assert json.loads(rejected.raw) == item
    assert parsed.coerced == 0
