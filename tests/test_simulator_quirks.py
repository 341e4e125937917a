"""The fake postpress API can behave like the real service does beyond its reference: items with bad
fields or no usable id, short pages, listings closed early, a cache, and per-account request limits
(docs/simulator.md), each turned on by a test or by `followersync simulate --quirk`.

Every test talks HTTP to a running `Simulator` with httpx; nothing is mocked. Cache ages and limit
windows run on a clock the test moves by hand, so nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from followersync.cli.simulate_command import simulate_command
from followersync.simulator import Fault, Simulator, encode_cursor
from followersync.simulator.quirk_options import QUIRKS, apply_quirks, parse_quirk
from tests.simulator.support import JSON, fetch_pass, get

KEY = "test-key-quirks"


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[Simulator]:
    with Simulator(api_key=KEY, seed=11, clock=clock) as simulator:
        simulator.add_account("acc_li", "linkedin", followers=250)
        simulator.add_account("acc_ig", "instagram", followers=120)
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"X-API-KEY": KEY}, timeout=5) as http:
        yield http


def items_of(pages: list[JSON]) -> list[JSON]:
    return [item for page in pages for item in page["items"]]


def ids_of(pages: list[JSON]) -> list[str]:
    return [item["id"] for item in items_of(pages)]


# -- items with null, missing or wrong-typed fields -------------------------------------------------


def test_null_fields_on_every_nth_item_of_the_page(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.null_fields("profile_picture_url", "headline", every=3), account_id="acc_li")
    items = get(client, account_id="acc_li", limit=10).json()["items"]
    nulled = [i for i, item in enumerate(items) if item["profile_picture_url"] is None]
    assert nulled == [0, 3, 6, 9]
    assert all(items[i]["headline"] is None for i in nulled)
    assert all(isinstance(item["headline"], str) for i, item in enumerate(items) if i not in nulled)
    assert items == [
        item | ({"profile_picture_url": None, "headline": None} if i in nulled else {})
        for i, item in enumerate(sim.followers("acc_li")[:10])
    ]
    # Used up: the next page is whole again, and the page cache was never touched.
    assert get(client, account_id="acc_li", limit=10).json()["items"] == sim.followers("acc_li")[:10]


def test_missing_fields_on_every_page_of_a_pass(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.null_fields("headline", missing=True), account_id="acc_li", times=-1)
    pages = fetch_pass(client, "acc_li", limit=100)
    assert not any("headline" in item for item in items_of(pages))
    assert ids_of(pages) == sim.follower_ids("acc_li")  # the pass itself is whole


def test_wrong_types_replace_fields_of_every_item(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.wrong_types(is_private="yes", name=42, is_verified=None), account_id="acc_ig")
    items = get(client, account_id="acc_ig", limit=50).json()["items"]
    assert len(items) == 50
    assert {(i["is_private"], i["name"], i["is_verified"]) for i in items} == {("yes", 42, None)}
    assert [i["id"] for i in items] == sim.follower_ids("acc_ig")[:50]


# -- items without a usable id ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "looks"),
    [("missing", "absent"), ("null", None), ("empty", ""), ("number", "number")],
)
def test_items_without_a_usable_id(sim: Simulator, client: httpx.Client, how: Any, looks: Any) -> None:
    sim.inject(Fault.items_without_id(every=4, how=how), account_id="acc_li", on_page=1)
    page = get(client, account_id="acc_li", limit=10, cursor=encode_cursor(10)).json()
    expected = sim.follower_ids("acc_li")[10:20]
    for position, item in enumerate(page["items"]):
        if position % 4:
            assert item["id"] == expected[position]
        elif looks == "absent":
            assert "id" not in item
        elif looks == "number":
            assert item["id"] == 10 + position  # its place in the listing, as a JSON integer
        else:
            assert item["id"] == looks
    assert page["cursor"] == encode_cursor(20)


# -- short pages --------------------------------------------------------------------------------------


def test_short_pages_continue_right_after_the_items_returned(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.short_page(37), account_id="acc_li", times=-1)
    pages = fetch_pass(client, "acc_li", limit=100)
    assert [len(p["items"]) for p in pages] == [37] * 6 + [28]
    assert ids_of(pages) == sim.follower_ids("acc_li")  # nothing skipped, nothing twice


def test_a_short_page_that_reaches_the_end_has_cursor_null(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(Fault.short_page(50), account_id="acc_li", times=-1)
    pages = fetch_pass(client, "acc_li", limit=100)
    assert [len(p["items"]) for p in pages] == [50] * 5
    assert pages[-1]["cursor"] is None and ids_of(pages) == sim.follower_ids("acc_li")
    with pytest.raises(ValueError, match="keep"):
        Fault.short_page(0)


def test_quirks_combine_on_the_same_page(sim: Simulator, client: httpx.Client) -> None:
    sim.inject(
        Fault.combined(
            Fault.short_page(30), Fault.items_without_id(every=10), Fault.null_fields("name", every=5)
        ),
        account_id="acc_ig",
        times=-1,
    )
    pages = fetch_pass(client, "acc_ig", limit=100)
    assert [len(p["items"]) for p in pages] == [30, 30, 30, 30]
    for page in pages:
        assert [i for i, item in enumerate(page["items"]) if "id" not in item] == [0, 10, 20]
        assert [i for i, item in enumerate(page["items"]) if item["name"] is None] == [0, 5, 10, 15, 20, 25]
    with pytest.raises(ValueError, match="combine"):
        Fault.combined(Fault.truncate())


# -- a listing closed early ---------------------------------------------------------------------------


def test_a_listing_closed_early_ends_every_pass_after_the_same_count(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.close_listing_early("acc_li", after=225)  # 90% of 250
    pages = fetch_pass(client, "acc_li", limit=100)
    assert [len(p["items"]) for p in pages] == [100, 100, 25]
    assert ids_of(pages) == sim.follower_ids("acc_li")[:225]
    assert len(sim.follower_ids("acc_li")) == 250  # the listing still holds everyone

    new = sim.follow("acc_li", 5)
    again = ids_of(fetch_pass(client, "acc_li", limit=100))
    assert len(again) == 225 and again[:5] == new  # always the first 225, whoever they are now

    beyond = get(client, account_id="acc_li", cursor=encode_cursor(240)).json()
    assert beyond["items"] == [] and beyond["cursor"] is None

    sim.close_listing_early("acc_li", after=None)
    assert len(ids_of(fetch_pass(client, "acc_li", limit=100))) == 255


def test_an_early_close_cuts_short_pages_too(sim: Simulator, client: httpx.Client) -> None:
    sim.close_listing_early("acc_ig", after=100)
    sim.inject(Fault.short_page(30), account_id="acc_ig", times=-1)
    pages = fetch_pass(client, "acc_ig", limit=50)
    assert [len(p["items"]) for p in pages] == [30, 30, 30, 10]  # the last one cut at 100
    assert ids_of(pages) == sim.follower_ids("acc_ig")[:100]


# -- the cache ----------------------------------------------------------------------------------------


def test_cached_answers_carry_age_and_x_cache(sim: Simulator, client: httpx.Client, clock: Clock) -> None:
    sim.enable_cache("acc_li", ttl=3600)
    first = get(client, account_id="acc_li", limit=5)
    assert first.headers["x-cache"] == "MISS" and "age" not in first.headers

    sim.follow("acc_li", 2)  # the cache does not know
    clock.advance(120.7)
    second = get(client, account_id="acc_li", limit=5)
    assert (second.headers["x-cache"], second.headers["age"]) == ("HIT", "120")
    assert second.json() == first.json()

    # Per request and params: another page, or the same one asked differently, is its own entry.
    assert get(client, account_id="acc_li", limit=6).headers["x-cache"] == "MISS"
    assert get(client, limit=5, account_id="acc_li").headers["x-cache"] == "HIT"

    clock.advance(3600 - 120.7)  # an hour after it was cached: expired
    third = get(client, account_id="acc_li", limit=5)
    assert third.headers["x-cache"] == "MISS"
    assert third.json()["items"] == sim.followers("acc_li")[:5]

    assert "x-cache" not in get(client, account_id="acc_ig").headers  # only acc_li is cached
    assert [r.cache for r in sim.requests_for("acc_li")] == ["MISS", "HIT", "MISS", "HIT", "MISS"]


def test_no_cache_bypasses_and_refreshes_the_entry(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    sim.enable_cache()  # every account
    stale = get(client, account_id="acc_ig", limit=3).json()
    new = sim.follow("acc_ig")
    clock.advance(50)
    fresh = get(client, headers={"Cache-Control": "no-cache"}, account_id="acc_ig", limit=3)
    assert fresh.headers["x-cache"] == "MISS" and "age" not in fresh.headers
    assert fresh.json()["items"][0]["id"] == new[0] != stale["items"][0]["id"]

    clock.advance(7)
    again = get(client, account_id="acc_ig", limit=3)
    assert (again.headers["x-cache"], again.headers["age"]) == ("HIT", "7")  # the refreshed entry
    assert again.json() == fresh.json()
    assert [r.cache_control for r in sim.requests_for("acc_ig")] == [None, "no-cache", None]


def test_a_cache_that_ignores_no_cache_serves_stale_pages_with_their_age(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    sim.enable_cache(ttl=600, honour_no_cache=False)
    first = get(client, account_id="acc_ig", limit=3).json()
    sim.follow("acc_ig")
    clock.advance(299)
    stale = get(client, headers={"Cache-Control": "no-cache, max-age=0"}, account_id="acc_ig", limit=3)
    assert (stale.headers["x-cache"], stale.headers["age"]) == ("HIT", "299")
    assert stale.json() == first
    assert sim.requests_for("acc_ig")[-1].cache_control == "no-cache, max-age=0"


def test_errors_are_not_cached_and_the_cache_can_be_turned_off(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    sim.enable_cache()
    sim.inject(Fault.error("errors/provider_error"), account_id="acc_li")
    assert get(client, account_id="acc_li").status_code == 500  # an injected fault: not through the cache
    for _ in range(2):
        missing = get(client, account_id="acc_li", user_id="nobody")
        assert (missing.status_code, missing.headers["x-cache"]) == (404, "MISS")

    get(client, account_id="acc_li")
    assert get(client, account_id="acc_li").headers["x-cache"] == "HIT"
    sim.disable_cache("acc_li")
    assert "x-cache" not in get(client, account_id="acc_li").headers
    assert get(client, account_id="acc_ig").headers["x-cache"] == "MISS"  # still on for the others
    sim.disable_cache()
    assert "x-cache" not in get(client, account_id="acc_ig").headers


def test_a_page_fault_on_a_cache_hit_is_used_up_without_effect(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    sim.enable_cache("acc_ig")
    shaped = get(client, account_id="acc_ig", limit=5).json()
    sim.inject(Fault.null_fields("name"), account_id="acc_ig")
    hit = get(client, account_id="acc_ig", limit=5)
    assert hit.headers["x-cache"] == "HIT" and hit.json() == shaped
    assert all(item["name"] for item in get(client, account_id="acc_ig", limit=7).json()["items"])


# -- request limits -----------------------------------------------------------------------------------


def test_a_fixed_window_from_the_first_request(sim: Simulator, client: httpx.Client, clock: Clock) -> None:
    sim.limit_requests("acc_li", max_requests=3, window=60)
    clock.advance(500)  # nothing is counted before the first request
    assert [get(client, account_id="acc_li").status_code for _ in range(3)] == [200, 200, 200]
    refused = get(client, account_id="acc_li")
    body = refused.json()
    assert (refused.status_code, body["type"], body["status"]) == (500, "errors/provider_error", 500)
    assert list(body) == ["title", "detail", "instance", "type", "status"]
    assert "retry-after" not in refused.headers and "x-ratelimit-limit" not in refused.headers

    assert get(client, account_id="acc_ig").status_code == 200  # another account: no limit
    clock.advance(59.9)
    assert get(client, account_id="acc_li").status_code == 500  # refusals did not extend the window
    clock.advance(0.1)  # the window is over: the next request starts a new one
    assert [get(client, account_id="acc_li").status_code for _ in range(4)] == [200, 200, 200, 500]


def test_a_limit_answered_with_429_and_ratelimit_headers(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    sim.limit_requests(max_requests=2, window=100, answer="rate_limited", headers=True)

    def limits(response: httpx.Response) -> tuple[int, str, str, str]:
        h = response.headers
        return (
            response.status_code,
            h["x-ratelimit-limit"],
            h["x-ratelimit-remaining"],
            h["x-ratelimit-reset"],
        )

    assert limits(get(client, account_id="acc_ig")) == (200, "2", "1", "100")
    clock.advance(30.5)
    assert limits(get(client, account_id="acc_ig")) == (200, "2", "0", "70")  # whole seconds, rounded up
    refused = get(client, account_id="acc_ig")
    assert limits(refused) == (429, "2", "0", "70")
    assert refused.json()["type"] == "errors/too_many_requests" and "retry-after" not in refused.headers
    # Every account has its own window; a 404 for a bad request is an answer and counts too.
    assert limits(get(client, account_id="acc_li", user_id="nobody")) == (404, "2", "1", "100")
    assert limits(get(client, account_id="acc_li")) == (200, "2", "0", "100")


def test_cache_hits_and_injected_faults_do_not_count(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    sim.enable_cache("acc_li")
    sim.limit_requests("acc_li", max_requests=1, window=60, headers=True)
    assert get(client, account_id="acc_li").headers["x-ratelimit-remaining"] == "0"
    hits = [get(client, account_id="acc_li") for _ in range(3)]
    assert {(h.status_code, h.headers["x-cache"], h.headers["x-ratelimit-remaining"]) for h in hits} == {
        (200, "HIT", "0")
    }
    assert get(client, account_id="acc_li", limit=7).status_code == 500  # a miss is over the limit

    sim.remove_limits("acc_li")
    sim.limit_requests("acc_ig", max_requests=1, window=60)
    sim.inject(Fault.disconnect(), account_id="acc_ig")
    with pytest.raises(httpx.RemoteProtocolError):
        get(client, account_id="acc_ig")
    assert get(client, account_id="acc_ig").status_code == 200  # the disconnect was not counted
    assert get(client, account_id="acc_li", limit=7).status_code == 200  # acc_li: no limit any more


def test_the_clock_can_be_changed_later(sim: Simulator, client: httpx.Client) -> None:
    times = iter([10.0, 10.0, 25.0])
    sim.set_clock(lambda: next(times))
    sim.enable_cache("acc_ig")
    get(client, account_id="acc_ig")
    get(client, account_id="acc_ig", limit=3)
    assert get(client, account_id="acc_ig").headers["age"] == "15"


def test_bad_arguments_are_refused(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="max_requests"):
        sim.limit_requests(max_requests=0, window=1)
    with pytest.raises(ValueError, match="window"):
        sim.limit_requests(max_requests=1, window=0)
    with pytest.raises(ValueError, match="ttl"):
        sim.enable_cache(ttl=0)
    with pytest.raises(ValueError, match="after"):
        sim.close_listing_early("acc_li", after=-1)
    with pytest.raises(KeyError):
        sim.close_listing_early("acc_nobody", after=1)
    with pytest.raises(ValueError, match="every"):
        Fault.null_fields("name", every=0)
    with pytest.raises(ValueError, match="how"):
        Fault.items_without_id(how="zero")  # type: ignore[arg-type]


# -- followersync simulate --quirk ---------------------------------------------------------------------


def test_quirks_from_the_command_line_reach_every_account(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    quirks = [
        parse_quirk(text)
        for text in (
            "null-fields=profile_picture_url,headline",
            "wrong-types=is_private:yes,is_verified:1",
            "no-id-every=50:null",
            "short-pages=37",
            "close-early=200",
            "cache=3600",
            "limit=100/3600",
            "ratelimit-headers",
        )
    ]
    apply_quirks(sim, quirks)

    response = get(client, account_id="acc_li", limit=100)
    page = response.json()
    assert len(page["items"]) == 37
    assert all(i["profile_picture_url"] is None and i["headline"] is None for i in page["items"])
    assert [i for i, item in enumerate(page["items"]) if item["id"] is None] == [0]
    assert response.headers["x-cache"] == "MISS"
    assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == ("100", "99")

    ig = get(client, account_id="acc_ig", limit=200).json()
    assert {(i["is_private"], i["is_verified"]) for i in ig["items"]} == {("yes", 1)}
    assert [i for i, item in enumerate(ig["items"]) if item["id"] is None] == [0]

    sim.clear_faults()  # the page quirks are one injected fault; the rest are modes
    clock.advance(3601)
    li = fetch_pass(client, "acc_li", limit=100)
    assert [len(p["items"]) for p in li] == [100, 100]  # closed after 200


def test_stale_cache_and_limit_429_from_the_command_line(
    sim: Simulator, client: httpx.Client, clock: Clock
) -> None:
    apply_quirks(sim, [parse_quirk("stale-cache=60"), parse_quirk("limit-429=1/10")])
    get(client, account_id="acc_ig")
    clock.advance(3)
    stale = get(client, headers={"Cache-Control": "no-cache"}, account_id="acc_ig")
    assert (stale.headers["x-cache"], stale.headers["age"]) == ("HIT", "3")
    assert get(client, account_id="acc_ig", limit=3).status_code == 429


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--quirk", "bogus"], "unknown quirk 'bogus'"),
        (["--quirk", "short-pages"], "quirk 'short-pages' needs a value"),
        (["--quirk", "short-pages=0"], "quirk 'short-pages': '0' is not a whole number >= 1"),
        (["--quirk", "limit=100"], "quirk 'limit': '100' is not N/SECONDS"),
        (["--quirk", "limit=100/soon"], "quirk 'limit': 'soon' is not a number of seconds"),
        (["--quirk", "cache=-5"], "quirk 'cache': '-5' is not a positive number of seconds"),
        (["--quirk", "no-id-every=5:zero"], "quirk 'no-id-every': HOW must be one of"),
        (["--quirk", "wrong-types=is_private"], "quirk 'wrong-types': 'is_private' is not FIELD:VALUE"),
        (["--quirk", "ratelimit-headers=1"], "quirk 'ratelimit-headers' takes no value"),
        (["--quirk", "ratelimit-headers"], "quirk 'ratelimit-headers' needs a limit"),
        (["--quirk", "cache=60", "--quirk", "stale-cache=60"], "one cache quirk at most"),
    ],
)
def test_a_bad_quirk_is_a_one_line_usage_error(args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(simulate_command, args, prog_name="followersync simulate")
    assert result.exit_code == 2
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: Invalid value for '--quirk': ") and complaint in error


def test_help_lists_every_quirk() -> None:
    result = CliRunner().invoke(simulate_command, ["--help"], prog_name="followersync simulate")
    assert result.exit_code == 0
    for name, (takes, _) in QUIRKS.items():
        assert f"  {name}{'=' + takes if takes else ''}\n" in result.output
    assert "docs/simulator.md" in result.output
