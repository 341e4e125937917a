"""The progress line a terminal run shows per source."""

from __future__ import annotations

from followersync.api.client import RequestStats
from followersync.cli.progress import detail
from followersync.sync.result import SourceResult


def test_one_of_a_kind_is_singular() -> None:
    one = SourceResult("acme", "running", mode="full", pages=1, listed=1, new=1)
    assert detail(one, RequestStats(requests=1)) == "full pass: 1 page, 1 follower listed, 1 new, 1 request"


def test_many_and_the_baseline() -> None:
    first = SourceResult("acme", "succeeded", mode="full", pages=12, listed=1200, baseline=1200)
    stats = RequestStats(requests=13, waited=2.25)
    assert detail(first, stats) == (
        "full pass: 12 pages, 1,200 followers recorded (baseline), 13 requests, "
        "waited 2.2s for pacing/backoff"
    )
