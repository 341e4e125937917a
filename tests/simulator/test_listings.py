"""The fake postpress API pages its listings as the reference says (docs/api.md), with the
reference's item variants, and its followers come and go."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from followersync.simulator import (
    RequestRecord,
    Simulator,
    decode_cursor,
    encode_cursor,
)
from tests.simulator.support import (
    INSTAGRAM_REQUIRED,
    JSON,
    LINKEDIN_FIELDS,
    fetch_pass,
    get,
    ids_of,
)

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket


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
