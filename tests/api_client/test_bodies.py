"""A body that is not the documented page, and a listing that never ends, are refused by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from followersync.api import (
    Client,
    CursorLoopError,
    InvalidResponseError,
    RequestStats,
)
from followersync.simulator import Fault, Simulator, encode_cursor
from tests.api_client.support import LI, fetch

# -- bad bodies and cursor loops ------------------------------------------------------------------------


def drop_urn_of_item_3(page: dict[str, Any]) -> dict[str, Any]:
    del page["items"][3]["urn"]
    return page


def set_item(index: int, **fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def transform(page: dict[str, Any]) -> dict[str, Any]:
        page["items"][index].update(fields)
        return page

    return transform


BAD = [
    ("not JSON", Fault.body(b"Service OK"), "body is not JSON"),
    (
        "HTML with status 200",
        Fault.body(b"<!doctype html><html><body>Login</body></html>", content_type="text/html"),
        "body is not JSON",
    ),
    ("empty body", Fault.body(b""), "body is empty"),
    ("wrong object", Fault.page_transform(lambda p: {**p, "object": "List"}), "object: expected"),
    (
        "other provider's variant",
        Fault.wrong_variant(),
        "items[0]: the items look like instagram's, not linkedin's: is the provider of this source right?",
    ),
    (
        "empty cursor",
        Fault.page_transform(lambda p: {**p, "cursor": ""}),
        "cursor: Expected `str` of length >= 1",
    ),
    ("items not a list", Fault.page_transform(lambda p: {**p, "items": {}}), "items: Expected `array`"),
    (
        "no cursor field",
        Fault.page_transform(lambda p: {k: v for k, v in p.items() if k != "cursor"}),
        "Object missing required field `cursor`",
    ),
    ("bad gzip", Fault.body(b"not gzip", headers={"Content-Encoding": "gzip"}), "could not be decoded"),
]


@pytest.mark.parametrize(("fault", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_every_bad_body_is_an_invalid_response_naming_the_problem(
    sim: Simulator, client: Client, fault: Fault, message: str
) -> None:
    sim.inject(fault, account_id="acc_li")
    with pytest.raises(InvalidResponseError) as caught:
        fetch(client)
    assert message in str(caught.value)
    assert caught.value.error_type == "invalid_response"
    assert caught.value.error_detail["detail"] == caught.value.message
    assert caught.value.attempts == 1
    assert len(sim.requests) == 1  # a bad body is not retried: the same request gets the same page


def test_items_with_unusable_fields_or_no_id_do_not_fail_the_page(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.page_transform(drop_urn_of_item_3), account_id="acc_li", times=1)
    sim.inject(Fault.page_transform(set_item(0, id="", name=5)), account_id="acc_li", on_page=1)
    first, second = list(client.pages(LI, cursor=None, limit=100, stats=RequestStats()))[:2]
    assert (first.coerced, len(first.rejected), len(first.items)) == (1, 0, 100)
    assert first.items[3].urn is None
    assert (second.coerced, [r.reason for r in second.rejected], len(second.items)) == (
        0,
        ["id is empty"],
        99,
    )


def test_a_bad_page_mid_listing_stops_it_after_the_good_pages(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.wrong_variant(), account_id="acc_li", on_page=2)
    seen = []
    with pytest.raises(InvalidResponseError):
        for page in client.pages(LI, cursor=None, limit=100, stats=RequestStats()):
            seen.append(page)
    assert len(seen) == 2


def test_a_repeated_cursor_is_a_cursor_loop(sim: Simulator, client: Client) -> None:
    sim.inject(Fault.repeat_cursor(), account_id="acc_li", on_page=1)
    seen = []
    with pytest.raises(CursorLoopError) as caught:
        for page in client.pages(LI, cursor=None, limit=100, stats=RequestStats()):
            seen.append(page)
    # The page that loops is not handed out: its cursor must not become a checkpoint.
    assert len(seen) == 1
    assert caught.value.error_type == "cursor_loop"
    assert "already requested" in str(caught.value)
    assert len(sim.requests) == 2


def test_a_cursor_back_to_the_starting_cursor_is_a_loop(sim: Simulator, client: Client) -> None:
    start = encode_cursor(100)
    sim.inject(Fault.repeat_cursor(), account_id="acc_li")
    with pytest.raises(CursorLoopError):
        list(client.pages(LI, cursor=start, limit=100, stats=RequestStats()))


def test_a_cursor_back_to_an_earlier_page_is_a_loop(sim: Simulator, client: Client) -> None:
    sim.inject(
        Fault.page_transform(lambda p: {**p, "cursor": encode_cursor(100)}), account_id="acc_li", on_page=2
    )
    sim.add_account("acc_big", "linkedin", followers=1000)
    with pytest.raises(CursorLoopError):
        list(client.pages(LI, cursor=None, limit=100, stats=RequestStats()))


def test_more_pages_than_max_pages_is_a_cursor_loop(sim: Simulator, client: Client) -> None:
    seen = []
    with pytest.raises(CursorLoopError, match="more than 2 pages") as caught:
        for page in client.pages(LI, cursor=None, limit=100, stats=RequestStats(), max_pages=2):
            seen.append(page)
    assert len(seen) == 2
    assert caught.value.pages == 2
    assert len(sim.requests) == 2


def test_a_truncated_listing_just_ends(sim: Simulator, client: Client) -> None:
    # The client cannot tell an early `cursor: null` from the end; the unfollow guard handles it.
    sim.inject(Fault.truncate(), account_id="acc_li")
    pages = list(client.pages(LI, cursor=None, limit=100, stats=RequestStats()))
    assert len(pages) == 1 and pages[0].cursor is None
