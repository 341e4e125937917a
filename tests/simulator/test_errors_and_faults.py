"""Authentication, validation and every injected fault, as a client observes them (status, body,
a dropped connection, a read timeout)."""

from __future__ import annotations

import base64

import httpx
import pytest

from followersync.simulator import (
    DOCUMENTED_ERRORS,
    Fault,
    Simulator,
    encode_cursor,
)
from tests.simulator.support import (
    INSTAGRAM_REQUIRED,
    JSON,
    KEY,
    assert_envelope,
    get,
    wait_until,
)

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket


# -- authentication and validation ----------------------------------------------------------------


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
