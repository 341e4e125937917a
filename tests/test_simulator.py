"""The fake postpress API behaves like the reference says the real one does (docs/api.md), over a real
socket.

Every test talks HTTP to a running `Simulator` with httpx; nothing is mocked. Faults are checked by
what a client observes (status, body, a dropped connection, a read timeout).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from followersync.cli.simulate_command import simulate_command
from followersync.simulator import (
    DOCUMENTED_ERRORS,
    Fault,
    RequestRecord,
    Simulator,
    SimulatorError,
    decode_cursor,
    encode_cursor,
)

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket

KEY = "test-key-7f3a"
LINKEDIN_FIELDS = {
    "object",
    "id",
    "urn",
    "name",
    "headline",
    "profile_url",
    "profile_picture_url",
    "profile_picture_url_large",
}
INSTAGRAM_REQUIRED = {"object", "id", "messaging_id", "username", "name", "is_private", "is_verified"}
JSON = dict[str, Any]
ENVELOPE_FIELDS = ["title", "detail", "instance", "type", "status"]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # The simulator is what this file proves, so it is built here by hand rather than by make_sim
    # (tests.sim_support), which is built on it; its listings are accounts, not configured sources.
    with Simulator(api_key=KEY, seed=7) as simulator:
        simulator.add_account("acc_li", "linkedin", followers=250)
        simulator.add_account("acc_ig", "instagram", followers=450)
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"X-API-KEY": KEY}, timeout=5) as http:
        yield http


def get(client: httpx.Client, **params: Any) -> httpx.Response:
    return client.get("/users/followers", params={k: v for k, v in params.items() if v is not None})


def fetch_pass(
    client: httpx.Client, account_id: str, *, limit: int | None = None, **extra: Any
) -> list[JSON]:
    """Every page of one pass, from no cursor to cursor null."""
    pages: list[JSON] = []
    cursor = None
    while True:
        response = get(client, account_id=account_id, limit=limit, cursor=cursor, **extra)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "runaway pagination"


def wait_until(condition: Callable[[], bool], within: float = 4.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def ids_of(pages: list[JSON]) -> list[str]:
    return [item["id"] for page in pages for item in page["items"]]


# -- pagination and data ---------------------------------------------------------------------------


def test_a_pass_pages_to_cursor_null_with_limits_capped(sim: Simulator, client: httpx.Client) -> None:
    ig_pages = fetch_pass(client, "acc_ig", limit=500)  # Instagram caps at 200
    assert [len(p["items"]) for p in ig_pages] == [200, 200, 50]
    assert ids_of(ig_pages) == sim.follower_ids("acc_ig")

    li_pages = fetch_pass(client, "acc_li", limit=150)  # LinkedIn caps at 100
    assert [len(p["items"]) for p in li_pages] == [100, 100, 50]

    default_pages = fetch_pass(client, "acc_ig")  # no limit: 100
    assert [len(p["items"]) for p in default_pages] == [100, 100, 100, 100, 50]
    assert all(p["object"] == "UserFollowersList" for p in ig_pages + li_pages + default_pages)

    small = fetch_pass(client, "acc_li", limit=7)
    assert len(small) == 36 and ids_of(small) == sim.follower_ids("acc_li")


def test_cursor_is_opaque_offset_like_the_reference_example(client: httpx.Client) -> None:
    assert encode_cursor(100) == "eyJvIjoxMDB9"  # the reference's example cursor
    assert decode_cursor("eyJvIjoxMDB9") == 100
    assert decode_cursor("not a cursor!") is None
    assert decode_cursor(base64.urlsafe_b64encode(b'{"o": -3}').decode()) is None
    first = get(client, account_id="acc_ig", limit=200).json()
    assert decode_cursor(first["cursor"]) == 200
    # Past the end (the listing shrank since the cursor was issued): an empty last page.
    past = get(client, account_id="acc_ig", cursor=encode_cursor(10_000)).json()
    assert past == {"object": "UserFollowersList", "items": [], "cursor": None}


def test_items_are_the_reference_variants(sim: Simulator, client: httpx.Client) -> None:
    response = get(client, account_id="acc_li", limit=100)
    assert response.headers["content-type"] == "application/json"
    for item in response.json()["items"]:
        assert set(item) == LINKEDIN_FIELDS
        assert item["object"] == "UserFollower"
        assert item["urn"] == f"urn:li:fsd_profile:{item['id']}"
        assert item["profile_url"].startswith("https://www.linkedin.com/in/")
        assert all(isinstance(item[f], str) for f in LINKEDIN_FIELDS)

    ig_items = [i for p in fetch_pass(client, "acc_ig", limit=200) for i in p["items"]]
    for item in ig_items:
        assert INSTAGRAM_REQUIRED <= set(item) <= INSTAGRAM_REQUIRED | {"profile_picture_url"}
        assert isinstance(item["is_private"], bool) and isinstance(item["is_verified"], bool)
        assert re.fullmatch(r"[0-9]+", item["id"]) and re.fullmatch(r"[0-9]+", item["messaging_id"])
    # The optional picture is really omitted for some, and names are not all ASCII.
    assert 0 < sum("profile_picture_url" not in i for i in ig_items) < len(ig_items) // 4
    assert any(not i["name"].isascii() for i in ig_items)
    assert any(i["is_private"] for i in ig_items)
    assert len({i["id"] for i in ig_items}) == len(ig_items)
    assert sim.followers("acc_ig") == ig_items


def test_followers_are_deterministic_by_seed_account_and_user() -> None:
    def listing(seed: int, account: str = "acc", user_id: str | None = None) -> list[JSON]:
        simulator = Simulator(seed=seed)
        simulator.add_account(account, "linkedin", followers=40, user_id=user_id)
        return simulator.followers(account, user_id=user_id)

    assert listing(1) == listing(1)
    assert listing(1) != listing(2)
    assert listing(1, "other") != listing(1)
    assert listing(1, user_id="company_42") != listing(1)


def test_some_people_follow_several_sources() -> None:
    simulator = Simulator(seed=3)
    simulator.add_account("acc_ig_1", "instagram", followers=200)
    simulator.add_account("acc_ig_2", "instagram", followers=200)
    common = set(simulator.follower_ids("acc_ig_1")) & set(simulator.follower_ids("acc_ig_2"))
    assert len(common) == len(range(5, 200, 16))  # one in sixteen: indexes 5, 21, ...


def test_user_id_selects_another_listing_of_the_account(sim: Simulator, client: httpx.Client) -> None:
    sim.add_account("acc_li", "linkedin", followers=30, user_id="ACoAACompany")
    pages = fetch_pass(client, "acc_li", user_id="ACoAACompany")
    assert ids_of(pages) == sim.follower_ids("acc_li", user_id="ACoAACompany")
    assert len(ids_of(pages)) == 30
    with pytest.raises(ValueError, match="linkedin account"):
        sim.add_account("acc_li", "instagram", user_id="someone")


# -- churn ------------------------------------------------------------------------------------------


def test_follow_adds_at_the_head_and_unfollow_removes(sim: Simulator, client: httpx.Client) -> None:
    before = sim.follower_ids("acc_ig")
    new = sim.follow("acc_ig", 3)
    assert sim.follower_ids("acc_ig") == new + before
    assert ids_of(fetch_pass(client, "acc_ig", limit=200))[:3] == new  # the page cache was dropped

    gone = sim.unfollow("acc_ig", [before[10], before[20]])
    assert gone == [before[10], before[20]]
    served = ids_of(fetch_pass(client, "acc_ig", limit=200))
    assert before[10] not in served and len(served) == 451

    randomly = sim.unfollow("acc_ig", count=5)
    assert len(randomly) == 5 and not set(randomly) & set(sim.follower_ids("acc_ig"))
    with pytest.raises(KeyError):
        sim.unfollow("acc_ig", [before[10]])  # already gone

    sim.refollow("acc_ig", [before[10]])
    assert sim.follower_ids("acc_ig")[0] == before[10]


def test_follows_mid_pass_shift_the_listing_so_pages_overlap(sim: Simulator, client: httpx.Client) -> None:
    """Offset cursors: followers added at the head push the rest down, as with the real API."""

    def churn(record: RequestRecord) -> None:
        if record.account_id == "acc_ig" and record.page == 1:
            sim.follow("acc_ig", 5)

    sim.on_request(churn)
    served = ids_of(fetch_pass(client, "acc_ig", limit=200))
    assert len(served) == 455 and len(set(served)) == 450  # five seen twice, the new five not at all
    assert set(served) < set(sim.follower_ids("acc_ig"))


def test_unfollows_mid_pass_make_a_pass_miss_someone(sim: Simulator, client: httpx.Client) -> None:
    before = sim.follower_ids("acc_ig")

    def churn(record: RequestRecord) -> None:
        if record.account_id == "acc_ig" and record.page == 1:
            sim.unfollow("acc_ig", before[:1])

    sim.on_request(churn)
    served = ids_of(fetch_pass(client, "acc_ig", limit=200))
    # Page 1 starts one further down the shortened listing: its former first follower is skipped.
    assert len(served) == 449
    assert set(sim.follower_ids("acc_ig")) - set(served) == {before[200]}


def test_change_profile_edits_the_person_in_every_listing_that_holds_them(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.add_account("acc_li", "linkedin", followers=40, user_id="ACoAACompany")
    shared = sorted(set(sim.follower_ids("acc_li")) & set(sim.follower_ids("acc_li", user_id="ACoAACompany")))
    person = shared[0]
    before = next(f for f in sim.followers("acc_li") if f["id"] == person)
    fetch_pass(client, "acc_li", limit=100)  # the pages are cached now

    changed = sim.change_profile("acc_li", person, headline="CTO at Initech", profile_picture_url=None)
    assert changed == before | {"headline": "CTO at Initech", "profile_picture_url": None}
    for user_id in (None, "ACoAACompany"):
        served = {
            i["id"]: i for p in fetch_pass(client, "acc_li", limit=100, user_id=user_id) for i in p["items"]
        }
        assert served[person] == changed  # the cached page was dropped
    assert sim.follower_ids("acc_li") == [f["id"] for f in sim.followers("acc_li")]  # same places

    # Who left and comes back brings the profile as it is now.
    sim.unfollow("acc_li", [person])
    sim.change_profile("acc_li", person, user_id="ACoAACompany", name="Renamed")
    sim.refollow("acc_li", [person])
    assert sim.followers("acc_li")[0] == changed | {"name": "Renamed"}

    with pytest.raises(ValueError, match="id"):
        sim.change_profile("acc_li", person, id="someone-else")
    with pytest.raises(KeyError):
        sim.change_profile("acc_ig", person, name="not an Instagram follower")


# -- authentication and validation ----------------------------------------------------------------


def assert_envelope(response: httpx.Response, status: int, error_type: str) -> JSON:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body: JSON = response.json()
    assert body["type"] == error_type and body["status"] == status
    assert list(body) == [f for f in ENVELOPE_FIELDS if f in body] and "title" in body
    return body


def test_the_api_key_must_be_in_the_x_api_key_header(sim: Simulator, client: httpx.Client) -> None:
    url = f"{sim.base_url}/users/followers"
    missing = httpx.get(url, params={"account_id": "acc_ig"})
    assert_envelope(missing, 401, "errors/missing_credentials")
    # A key that came but is not the right one is invalid, not missing (as the reference words them).
    wrong = httpx.get(url, params={"account_id": "acc_ig"}, headers={"X-API-KEY": "nope"})
    assert_envelope(wrong, 401, "errors/invalid_credentials")
    empty = httpx.get(url, params={"account_id": "acc_ig"}, headers={"X-API-KEY": ""})
    assert_envelope(empty, 401, "errors/invalid_credentials")
    leaked = httpx.get(url, params={"account_id": "acc_ig", "api_key": KEY})
    assert leaked.status_code == 401
    assert get(client, account_id="acc_ig").status_code == 200

    records = sim.requests_for("acc_ig")
    assert [(r.key_ok, r.key_sent, r.key_in_query, r.status) for r in records] == [
        (False, False, False, 401),
        (False, True, False, 401),
        (False, True, False, 401),
        (False, False, True, 401),
        (True, True, False, 200),
    ]


def test_unknown_or_missing_account_or_user_is_404(client: httpx.Client) -> None:
    assert_envelope(get(client, account_id="acc_nobody"), 404, "errors/resource_not_found")
    assert_envelope(get(client), 404, "errors/resource_not_found")
    assert_envelope(get(client, account_id="acc_ig", user_id="stranger"), 404, "errors/resource_not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "%%%garbage"},
        {"cursor": ""},
        {"cursor": base64.urlsafe_b64encode(b"[1,2]").decode()},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "ten"},
        {"limit": "2.5"},
    ],
)
def test_bad_cursor_or_limit_is_400(client: httpx.Client, params: dict[str, str]) -> None:
    assert_envelope(get(client, account_id="acc_ig", **params), 400, "errors/invalid_parameters")


def test_both_url_forms_of_the_reference_are_served(sim: Simulator) -> None:
    root = sim.base_url.removesuffix("/api/v1")
    with httpx.Client(headers={"X-API-KEY": KEY}) as http:
        for path in ("/api/v1/users/followers", "/v1/users/followers"):
            assert http.get(root + path, params={"account_id": "acc_li"}).status_code == 200
        assert_envelope(http.get(root + "/api/v2/users"), 404, "errors/resource_not_found")
        assert_envelope(http.post(root + "/api/v1/users/followers"), 405, "errors/method_not_allowed")


# -- faults -----------------------------------------------------------------------------------------


def test_documented_errors_are_all_there() -> None:
    by_status: dict[int, int] = {}
    for status, title in DOCUMENTED_ERRORS.values():
        by_status[status] = by_status.get(status, 0) + 1
        assert title.endswith(".")
    assert by_status == {401: 13, 403: 9, 404: 2, 500: 3, 501: 1, 503: 5, 504: 1}


def test_error_fault_sends_the_documented_envelope(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.error("errors/expired_credentials"), account_id="acc_li")
    body = assert_envelope(get(client, account_id="acc_li"), 401, "errors/expired_credentials")
    assert body["title"] == "Credentials have expired. Reconnect the account."
    assert body["detail"] and body["instance"].startswith("req_")
    assert get(client, account_id="acc_li").status_code == 200  # used up

    sim.inject(Fault.error("errors/provider_error", detail=None, instance=None, title="Upstream down"))
    bare = assert_envelope(get(client, account_id="acc_li"), 500, "errors/provider_error")
    assert bare == {"title": "Upstream down", "type": "errors/provider_error", "status": 500}

    sim.inject(Fault.error("errors/teapot", status=418, retry_after="3"))
    odd = get(client, account_id="acc_li")
    assert_envelope(odd, 418, "errors/teapot")
    assert odd.headers["retry-after"] == "3"
    with pytest.raises(ValueError, match="status"):
        Fault.error("errors/teapot")


def test_rate_limited_with_and_without_retry_after(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.rate_limited(2))
    sim.inject(Fault.rate_limited(0.25))
    sim.inject(Fault.rate_limited())
    waits = []
    for _ in range(3):
        response = get(client, account_id="acc_ig")
        assert_envelope(response, 429, "errors/too_many_requests")
        waits.append(response.headers.get("retry-after"))
    assert waits == ["2", "0.25", None]
    assert [r.fault for r in sim.requests] == ["rate_limited"] * 3


def test_body_fault_sends_any_raw_response(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.body(b"<html>502 Bad Gateway</html>", status=502, content_type="text/html"))
    html = get(client, account_id="acc_ig")
    assert (html.status_code, html.headers["content-type"], html.text) == (
        502,
        "text/html",
        "<html>502 Bad Gateway</html>",
    )

    sim.inject(Fault.body(b'{"object": "UserFollowersList", "items": [', status=200))
    with pytest.raises(ValueError):
        get(client, account_id="acc_ig").json()

    sim.inject(Fault.body(b"definitely not gzip", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(httpx.DecodingError):
        get(client, account_id="acc_ig")


def test_page_transform_wrong_variant_and_truncate(sim: Simulator, client: httpx.Client) -> None:
    def drop_name(page: JSON) -> JSON:
        assert page["items"][0]["id"] == sim.follower_ids("acc_li")[0]  # may call the simulator
        del page["items"][0]["name"]
        return page

    sim.inject(Fault.page_transform(drop_name), account_id="acc_li", on_page=0)
    page = get(client, account_id="acc_li").json()
    assert "name" not in page["items"][0] and "name" in page["items"][1]
    assert "name" in get(client, account_id="acc_li").json()["items"][0]  # the cache was not touched

    sim.inject(Fault.wrong_variant(), account_id="acc_li")
    wrong = get(client, account_id="acc_li").json()
    assert set(wrong["items"][0]) >= INSTAGRAM_REQUIRED and wrong["cursor"] is not None

    sim.inject(Fault.truncate(), account_id="acc_li")
    short = get(client, account_id="acc_li").json()
    assert len(short["items"]) == 100 and short["cursor"] is None


def test_repeat_cursor_makes_a_client_see_a_cursor_twice(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.repeat_cursor(), account_id="acc_ig", on_page=1)
    first = get(client, account_id="acc_ig", limit=200).json()
    second = get(client, account_id="acc_ig", limit=200, cursor=first["cursor"]).json()
    assert second["cursor"] == first["cursor"]

    # On a first page: its cursor comes back once more on the page it leads to.
    sim.inject(Fault.repeat_cursor(), account_id="acc_ig", on_page=0)
    first = get(client, account_id="acc_ig", limit=200).json()
    second = get(client, account_id="acc_ig", limit=200, cursor=first["cursor"]).json()
    assert second["cursor"] == first["cursor"] == encode_cursor(200)
    third = get(client, account_id="acc_ig", limit=200, cursor=second["cursor"]).json()
    assert third["cursor"] == encode_cursor(400)  # then back to normal


def test_delay_answers_late_and_gives_up_on_a_client_that_left(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.delay(0.05))
    assert get(client, account_id="acc_ig").status_code == 200

    sim.inject(Fault.delay(5))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/users/followers", params={"account_id": "acc_ig"}, timeout=0.2)
    # The client hung up: the server stops waiting (long before 5 s) and answers nobody.
    wait_until(lambda: sim.in_flight("acc_ig") == 0)
    assert get(client, account_id="acc_ig").status_code == 200
    assert sim.max_in_flight("acc_ig") == 1
    assert [r.status for r in sim.requests_for("acc_ig")] == [200, 0, 200]


def test_disconnect_closes_without_a_response(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.disconnect(), account_id="acc_ig", on_request=2)
    assert get(client, account_id="acc_ig").status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        get(client, account_id="acc_ig")
    assert get(client, account_id="acc_ig").status_code == 200
    assert [(r.account_seq, r.status, r.fault) for r in sim.requests] == [
        (1, 200, None),
        (2, 0, "disconnect"),
        (3, 200, None),
    ]


def test_stall_sends_headers_then_hangs(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.stall(5), account_id="acc_ig")
    with client.stream("GET", "/users/followers", params={"account_id": "acc_ig"}, timeout=0.3) as response:
        assert response.status_code == 200  # the headers came
        with pytest.raises(httpx.ReadTimeout):
            response.read()

    sim.inject(Fault.stall(0.05), account_id="acc_ig")
    with pytest.raises(httpx.RemoteProtocolError):  # the body ends short when the server gives up
        get(client, account_id="acc_ig")


def test_injection_targets(sim: Simulator, client: httpx.Client) -> None:
    boom = Fault.error("errors/service_unavailable")
    sim.inject(boom, account_id="acc_li", on_request=2, times=2)  # requests 2 and 3 of acc_li
    sim.inject(Fault.error("errors/network_down"), on_request=1)  # the very first request overall
    statuses = [get(client, account_id="acc_li").status_code for _ in range(5)]
    assert statuses == [503, 503, 503, 200, 200]
    assert [r.fault for r in sim.requests] == ["error", "error", "error", None, None]

    sim.inject(Fault.error("errors/request_timeout"), account_id="acc_ig", times=-1)
    assert {get(client, account_id="acc_ig").status_code for _ in range(4)} == {504}
    assert get(client, account_id="acc_li").status_code == 200  # other accounts unaffected
    sim.clear_faults()
    assert get(client, account_id="acc_ig").status_code == 200

    sim.inject(Fault.error("errors/no_channel"), on_page=2, times=2)
    pages = [
        get(client, account_id="acc_ig", cursor=encode_cursor(o)).status_code for o in (100, 200, 200, 200)
    ]
    assert pages == [200, 503, 503, 200]

    with pytest.raises(ValueError):
        sim.inject(boom, on_request=1, on_page=1)


def test_page_faults_on_an_error_request_are_used_up(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.truncate())
    assert get(client, account_id="acc_nobody").status_code == 404
    assert get(client, account_id="acc_ig").json()["cursor"] is not None


# -- request records ------------------------------------------------------------------------------


def test_records_count_per_account_and_in_flight(sim: Simulator, client: httpx.Client) -> None:
    fetch_pass(client, "acc_ig", limit=200)
    fetch_pass(client, "acc_li")
    assert [r.account_seq for r in sim.requests_for("acc_ig")] == [1, 2, 3]
    assert [r.seq for r in sim.requests] == [1, 2, 3, 4, 5, 6]
    assert [r.page for r in sim.requests_for("acc_li")] == [0, 1, 2]
    assert sim.max_in_flight("acc_ig") == sim.max_in_flight("acc_li") == 1
    assert sim.max_in_flight("acc_never") == 0
    assert all(r.path == "/api/v1/users/followers" and r.key_ok for r in sim.requests)

    # Four requests at once for one account: all four are in flight together.
    sim.clear_requests()
    inside = threading.Barrier(4, timeout=5)
    sim.on_request(lambda record: inside.wait())
    threads = [
        threading.Thread(target=get, args=(client,), kwargs={"account_id": "acc_li"}) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sim.max_in_flight("acc_li") == 4
    assert sorted(r.in_flight for r in sim.requests) == [1, 2, 3, 4]
    assert sim.requests[0].seq == 7  # sequence numbers keep counting after clear_requests


def test_accounts_are_served_in_parallel(sim: Simulator, client: httpx.Client) -> None:
    """A slow request of one account does not hold up another's: both are inside at once."""
    both_inside = threading.Barrier(2, timeout=5)
    sim.on_request(lambda record: both_inside.wait())
    results: dict[str, int] = {}

    def one(account_id: str) -> None:
        results[account_id] = get(client, account_id=account_id).status_code

    threads = [threading.Thread(target=one, args=(a,)) for a in ("acc_ig", "acc_li")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"acc_ig": 200, "acc_li": 200}
    assert sim.max_in_flight("acc_ig") == sim.max_in_flight("acc_li") == 1


def test_a_failing_callback_fails_the_test_loudly() -> None:
    def broken(record: RequestRecord) -> None:
        raise RuntimeError("bug in the test's churn")

    with pytest.raises(SimulatorError), Simulator(api_key=KEY) as simulator:
        simulator.add_account("acc", "instagram", followers=3)
        simulator.on_request(broken)
        response = httpx.get(
            f"{simulator.base_url}/users/followers", params={"account_id": "acc"}, headers={"X-API-KEY": KEY}
        )
        assert_envelope(response, 500, "errors/unexpected_error")


def test_latency_delays_every_response(sim: Simulator, client: httpx.Client) -> None:
    sim.set_latency(5)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/users/followers", params={"account_id": "acc_li"}, timeout=0.1)
    wait_until(lambda: sim.in_flight("acc_li") == 0)
    sim.set_latency(0.01)
    assert get(client, account_id="acc_li").status_code == 200


def test_plain_http_details(sim: Simulator) -> None:
    """Malformed requests get a bare 400; `Connection: close` is honoured; keep-alive is the default."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    request = (
        f"GET /v1/users/followers?account_id=acc_li&limit=1 HTTP/1.1\r\nHost: x\r\nX-API-KEY: {KEY}\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(request + b"\r\n" + request + b"Connection: close\r\n\r\n")  # pipelined
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 2  # both answered, then the server closed


# -- life cycle and speed ---------------------------------------------------------------------------


def test_stop_closes_idle_and_stalled_connections() -> None:
    before = threading.active_count()
    simulator = Simulator(api_key=KEY).start()
    simulator.add_account("acc", "linkedin", followers=10)
    simulator.inject(Fault.stall(60))
    url = f"{simulator.base_url}/users/followers"
    idle = httpx.Client(headers={"X-API-KEY": KEY})
    stalled = httpx.Client(headers={"X-API-KEY": KEY})
    try:
        with stalled.stream("GET", url, params={"account_id": "acc"}) as response:
            assert idle.get(url, params={"account_id": "acc"}).status_code == 200  # kept alive
            simulator.stop()
            with pytest.raises(httpx.RemoteProtocolError):
                response.read()
        with pytest.raises(httpx.TransportError):
            idle.get(url, params={"account_id": "acc"})
    finally:
        idle.close()
        stalled.close()
    simulator.stop()  # idempotent
    for _ in range(100):
        if threading.active_count() <= before:
            break
        time.sleep(0.02)
    assert threading.active_count() <= before


def test_speed_of_sequential_keep_alive_pages() -> None:
    """Not an assertion on time: prints pages/s so a slowdown is visible in `pytest -s`."""
    with Simulator(api_key=KEY) as simulator:
        simulator.add_account("acc_ig", "instagram", followers=20_000)
        with httpx.Client(base_url=simulator.base_url, headers={"X-API-KEY": KEY}) as http:
            fetch_pass(http, "acc_ig", limit=200)  # warm the page cache
            started = time.perf_counter()
            pages = fetch_pass(http, "acc_ig", limit=200)
            elapsed = time.perf_counter() - started
    assert len(pages) == 100
    print(f"\nsimulator: {len(pages) / elapsed:.0f} pages/s (200-item Instagram pages, keep-alive)")


# -- the standalone server ---------------------------------------------------------------------------


def test_simulate_command_help_shows_an_example_and_no_key() -> None:
    result = CliRunner().invoke(simulate_command, ["--help"], env={"POSTPRESS_API_KEY": "secret-123"})
    assert result.exit_code == 0
    assert "--churn" in result.output and "Example" in result.output
    assert "secret-123" not in result.output


def test_followersync_simulate_is_the_simulate_command_imported_only_when_used() -> None:
    from followersync.cli import cli

    through_cli = CliRunner().invoke(cli, ["simulate", "--help"], prog_name="followersync")
    # The command on its own, in the context the group gives its subcommands (-h, the width).
    direct = CliRunner().invoke(
        simulate_command, ["--help"], prog_name="followersync simulate", **cli.context_settings
    )
    assert through_cli.exit_code == 0 and through_cli.output == direct.output
    assert through_cli.output.startswith("Usage: followersync simulate [OPTIONS]")
    listed = CliRunner().invoke(cli, ["--help"], prog_name="followersync").output
    assert "simulate  Serve a realistic fake postpress API" in listed
    # A fresh interpreter: this one has long imported the simulator. `sync` and `worker` must not pay
    # for http.server and the simulator just because the CLI also offers `simulate`.
    code = "import followersync.cli, sys; assert 'http.server' not in sys.modules, 'http.server imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_simulate_serves_until_sigterm_without_printing_the_key() -> None:
    env = {**os.environ, "POSTPRESS_API_KEY": "secret-456"}
    args = ["--port", "0", "--instagram-accounts", "2", "--followers", "30", "--churn", "50"]
    process = subprocess.Popen(
        [sys.executable, "-m", "followersync", "simulate", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = re.search(r"(http://\S+/api/v1)", first)
        assert base_url, first
        lines = [process.stdout.readline() for _ in range(6)]
        assert any("acc_linkedin_01" in line for line in lines)
        assert any("acc_ig_02" in line for line in lines)
        response = httpx.get(
            f"{base_url.group(1)}/users/followers",
            params={"account_id": "acc_ig_02"},
            headers={"X-API-KEY": "secret-456"},
        )
        assert response.status_code == 200 and 15 <= len(response.json()["items"]) <= 45  # churning
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert "secret-456" not in first + "".join(lines) + rest


@pytest.mark.parametrize("key_in_env", [None, "secret-789"])
def test_the_start_up_hints_curl_works_as_printed(key_in_env: str | None) -> None:
    """With the built-in key, $POSTPRESS_API_KEY is unset: the hint names the default key itself.
    With a key from the environment, the hint names the variable, never the key."""
    env = {k: v for k, v in os.environ.items() if k != "POSTPRESS_API_KEY"}
    if key_in_env is not None:
        env["POSTPRESS_API_KEY"] = key_in_env
    process = subprocess.Popen(
        [sys.executable, "-m", "followersync", "simulate", "--port", "0", "--followers", "5"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(8)]
        [hint] = [line for line in lines if line.startswith("try: curl ")]
        assert key_in_env is None or key_in_env not in hint
        # The printed command, run by a shell with the same environment, as the user would.
        done = subprocess.run(
            hint.removeprefix("try: ").strip() + " --silent --show-error --write-out ' %{http_code}'",
            shell=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    body, code = done.stdout.rsplit(" ", 1)
    assert code == "200", done.stdout + done.stderr
    assert len(json.loads(body)["items"]) == 2


def test_record_is_plain_data() -> None:
    encoded = msgspec.json.encode(
        RequestRecord(1, 1, "/v1/users/followers", "a", None, None, None, True, False, 1, 0.0, 200)
    )
    assert b'"status":200' in encoded


# -- the package's public names ---------------------------------------------------------------------


def test_the_public_names_stay_importable_from_the_package() -> None:
    # The simulator is a package of modules; tests, the demo, the CLI and the benchmark import these
    # from `followersync.simulator` itself, so none may move out of it unnoticed.
    import followersync.simulator as package

    expected = [
        "DEFAULT_API_KEY",
        "DOCUMENTED_ERRORS",
        "PROVIDER_MAX_LIMIT",
        "Departure",
        "Fault",
        "RequestRecord",
        "Simulator",
        "SimulatorError",
        "decode_cursor",
        "encode_cursor",
        "serve",
    ]
    assert package.__all__ == expected
    for name in expected:
        exec(f"from followersync.simulator import {name}", {})
