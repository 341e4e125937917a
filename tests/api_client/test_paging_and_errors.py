"""The client pages a listing to its end, and classes every documented error (docs/api.md#errors)."""

from __future__ import annotations

import pytest

from followersync.api import (
    AccountRestrictedError,
    ApiError,
    BadRequestError,
    Client,
    CredentialError,
    ForbiddenError,
    InstagramFollower,
    LinkedInFollower,
    NotFoundError,
    NotImplementedByApiError,
    PostpressError,
    ProviderLimitError,
    RequestStats,
    ServerError,
    TransientApiError,
)
from followersync.clock import FakeClock
from followersync.config import PROVIDER_MAX_PAGE_SIZE, SourceConfig
from followersync.simulator import DOCUMENTED_ERRORS, Fault, Simulator, encode_cursor
from tests.api_client.support import IG, LI, fetch, make_client
from tests.sim_support import linkedin_source

# -- pagination and the request ----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "sizes"), [(LI, [100, 100, 50]), (IG, [200, 200, 50])])
def test_a_listing_is_paged_to_cursor_null_with_the_provider_maximum(
    sim: Simulator, client: Client, source: SourceConfig, sizes: list[int]
) -> None:
    stats = RequestStats()
    limit = PROVIDER_MAX_PAGE_SIZE[source.provider]
    pages = list(client.pages(source, cursor=None, limit=limit, stats=stats))

    assert [len(p.items) for p in pages] == sizes
    assert pages[-1].cursor is None
    assert [p.request_cursor for p in pages] == [None, pages[0].cursor, pages[1].cursor]
    assert [i.id for p in pages for i in p.items] == sim.follower_ids(source.account_id)
    kind = LinkedInFollower if source.provider == "linkedin" else InstagramFollower
    assert all(isinstance(i, kind) for p in pages for i in p.items)
    assert all(p.provider == source.provider and len(p.raw_items) == len(p.items) for p in pages)

    records = sim.requests_for(source.account_id)
    assert [r.limit for r in records] == [limit] * 3
    assert [r.cursor for r in records] == [p.request_cursor for p in pages]
    assert (stats.requests, stats.retries) == (3, 0)


def test_the_key_goes_only_in_the_header_and_account_id_and_user_id_are_sent(
    sim: Simulator, client: Client
) -> None:
    # Characters that break a hand-built query string: the client must let httpx encode them.
    user_id = "jordan w&limit=1#x"
    sim.add_account("acc_li", "linkedin", followers=3, user_id=user_id)
    company = linkedin_source(name="company", account_id="acc_li", user_id=user_id)
    fetch(client, company)
    fetch(client, LI)

    with_user, own = sim.requests_for("acc_li")
    assert (with_user.account_id, with_user.user_id, with_user.limit) == ("acc_li", user_id, 100)
    assert (own.account_id, own.user_id, own.cursor) == ("acc_li", None, None)
    assert all(r.key_ok and not r.key_in_query for r in sim.requests)
    assert all(r.path == "/api/v1/users/followers" for r in sim.requests)


def test_a_listing_resumes_from_a_cursor(sim: Simulator, client: Client) -> None:
    pages = list(client.pages(LI, cursor=encode_cursor(200), limit=100, stats=RequestStats()))
    assert len(pages) == 1
    assert [i.id for i in pages[0].items] == sim.follower_ids("acc_li")[200:]
    assert sim.requests_for("acc_li")[0].cursor == encode_cursor(200)


def test_a_stale_cursor_is_a_bad_request_not_retried(sim: Simulator, client: Client) -> None:
    with pytest.raises(BadRequestError) as caught:
        fetch(client, LI, cursor="not-a-cursor-we-made")
    assert caught.value.status == 400
    assert len(sim.requests) == 1


def test_the_limit_is_checked_against_the_provider_maximum(client: Client) -> None:
    with pytest.raises(ValueError, match=r"limit must be 1\.\.100"):
        client.fetch_page(LI, cursor=None, limit=101, stats=RequestStats())


# -- errors --------------------------------------------------------------------------------------------


def expected_class(error_type: str, status: int) -> type[ApiError]:
    """What docs/api.md#errors says, written out again independently of the client's tables."""
    if status == 401:
        return CredentialError
    if error_type == "errors/account_restricted":
        return AccountRestrictedError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if error_type == "errors/authentication_intent_error":
        return ServerError
    if status == 501:
        return NotImplementedByApiError
    if error_type == "errors/provider_error":
        return ProviderLimitError
    return TransientApiError


@pytest.mark.parametrize("error_type", sorted(DOCUMENTED_ERRORS))
def test_every_documented_error_lands_in_its_class_retried_only_if_retryable(
    sim: Simulator, clock: FakeClock, error_type: str
) -> None:
    status, title = DOCUMENTED_ERRORS[error_type]
    sim.inject(
        Fault.error(error_type, detail="Detail of it.", instance="req_0123"), account_id="acc_li", times=-1
    )
    stats = RequestStats()
    with make_client(sim.base_url, clock, max_attempts=3) as client, pytest.raises(PostpressError) as caught:
        client.fetch_page(LI, cursor=None, limit=100, stats=stats)

    error = caught.value
    cls = expected_class(error_type, status)
    assert type(error) is cls
    assert isinstance(error, ApiError)
    assert (error.type, error.error_type, error.status) == (error_type, error_type, status)
    assert (error.title, error.detail, error.instance) == (title, "Detail of it.", "req_0123")
    assert error.error_detail == {
        "status": status,
        "title": title,
        "detail": "Detail of it.",
        "instance": "req_0123",
    }
    assert str(error).startswith(f"{status} {error_type}: {title} (Detail of it.) [instance req_0123]")
    # A provider_error may be the account's limits: one quick retry, never more (max_attempts is 3).
    attempts = {TransientApiError: 3, ProviderLimitError: 2}.get(cls, 1)
    assert error.attempts == attempts
    assert len(sim.requests_for("acc_li")) == attempts == stats.requests
    assert stats.retries == attempts - 1


def test_a_wrong_key_is_a_credential_error(sim: Simulator, clock: FakeClock) -> None:
    with (
        make_client(sim.base_url, clock, key="pp_live_WRONG_KEY_99") as client,
        pytest.raises(CredentialError) as caught,
    ):
        fetch(client)
    assert caught.value.type == "errors/invalid_credentials"
    assert not sim.requests[0].key_ok
    assert "pp_live_WRONG_KEY_99" not in str(caught.value) + repr(caught.value)


def test_an_unknown_account_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        fetch(client, linkedin_source(name="x", account_id="acc_nope"))


def test_an_html_error_page_is_classed_by_status_and_not_retried(sim: Simulator, client: Client) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    sim.inject(Fault.body(html, status=502, content_type="text/html"), account_id="acc_li")
    with pytest.raises(ServerError) as caught:
        fetch(client)
    assert caught.value.error_type == "http_502"
    assert caught.value.detail is not None and "not an error envelope (text/html" in caught.value.detail
    assert len(sim.requests) == 1
