"""A 200 answer that is not the documented page (docs/semantics.md#bad-input): the run fails
`invalid_response` with a detail naming what was wrong, nothing of the bad page is written, earlier
pages and the checkpoint stay, and the next run resumes at the bad page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from followersync.simulator import Fault, Simulator
from tests.faults.support import (
    FOLLOWERS,
    assert_stopped_after,
    error_detail,
    make_harness,
    resume_and_check,
)
from tests.harness import Harness
from tests.sim_support import LI, linkedin_source

TEN_MB = 10 * 1024 * 1024


def set_item(index: int, **fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def transform(page: dict[str, Any]) -> dict[str, Any]:
        page["items"][index].update(fields)
        return page

    return transform


def drop_field(index: int, name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def transform(page: dict[str, Any]) -> dict[str, Any]:
        del page["items"][index][name]
        return page

    return transform


# Items without a usable id are not bad pages: they are quarantined and the pass goes on
# (tests/test_real_api_cli.py).
BAD_PAGES = {
    "an HTML page with status 200": (
        Fault.body(b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>", content_type="text/html"),
        "body is not JSON",
    ),
    "gzip that does not decompress": (
        Fault.body(b"\x1f\x8b\x08\x00 this is not deflate data", headers={"Content-Encoding": "gzip"}),
        "could not be decoded",
    ),
    "10 MB that is not JSON": (
        Fault.body(b"<html>" + b"x" * TEN_MB + b"</html>", content_type="text/html"),
        "body is not JSON",
    ),
    "10 MB of JSON that is not a page": (
        Fault.body(b'{"object": "UserFollowersList", "items": "' + b"A" * TEN_MB + b'", "cursor": null}'),
        "items: Expected `array`, got `str`",
    ),
    "items of the other provider's variant": (
        Fault.wrong_variant(),
        "items[0]: the items look like instagram's, not linkedin's: is the provider of this source right?",
    ),
    "an empty cursor": (
        Fault.page_transform(lambda page: {**page, "cursor": ""}),
        "cursor: Expected `str` of length >= 1",
    ),
    "a page object of the wrong kind": (
        Fault.page_transform(lambda page: {**page, "object": "UserFollowingList"}),
        "object: expected 'UserFollowersList', got 'UserFollowingList'",
    ),
}


def test_every_bad_page_fails_its_run_and_writes_nothing_of_it(db_url: str, sim: Simulator) -> None:
    # One source per bad page, each on its own linked account, all synced in one go.
    sources = [linkedin_source(name=f"bad-{n}", account_id=f"acc_bad_{n}") for n in range(len(BAD_PAGES))]
    for source, (fault, _) in zip(sources, BAD_PAGES.values(), strict=True):
        sim.add_account(source.account_id, "linkedin", followers=FOLLOWERS)
        sim.inject(fault, account_id=source.account_id, on_page=1)
    h = make_harness(db_url, sim, sources)
    try:
        results = h.sync()

        for source, result, (case, (_, named)) in zip(sources, results, BAD_PAGES.items(), strict=True):
            assert (result.status, result.error_type) == ("failed", "invalid_response"), case
            run = h.runs(source.name)[-1]
            assert (run.status, run.error_type, run.pages) == ("failed", "invalid_response", 1), case
            detail = error_detail(run)["detail"]
            assert named in detail, case
            assert len(detail) < 1000, case  # an excerpt, never the body itself
            # The same request would get the same page: no retry.
            assert (run.requests, run.retries) == (2, 0), case
            assert_stopped_after(h, sim, good_pages=1, source=source)

        for source in sources:
            resume_and_check(h, sim, source)
    finally:
        h.close()


def test_a_bad_first_page_leaves_no_pass_to_resume(h: Harness, sim: Simulator) -> None:
    sim.inject(Fault.wrong_variant(), account_id=LI.account_id, on_page=0)
    [result] = h.sync()
    assert (result.status, result.error_type) == ("failed", "invalid_response")
    assert_stopped_after(h, sim, good_pages=0)
    resume_and_check(h, sim)
