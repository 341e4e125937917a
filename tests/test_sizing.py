"""How long a full pass takes at a source's pacing and budget, and what followersync says about it."""

from __future__ import annotations

import pytest

from followersync.config import ProviderSettings, SyncSettings
from followersync.sync.sizing import PassSize, progress, seconds_for, too_slow

LINKEDIN = ProviderSettings(page_size=100)  # the defaults: 3 s between requests, 2,000 a day
INSTAGRAM = ProviderSettings(page_size=200)


def test_a_pass_is_one_request_per_page_and_at_least_one() -> None:
    assert PassSize.of(200_000, LINKEDIN).pages == 2_000
    assert PassSize.of(200_001, LINKEDIN).pages == 2_001
    assert PassSize.of(200_000, INSTAGRAM).pages == 1_000
    assert PassSize.of(0, LINKEDIN).pages == 1  # an empty listing is still one request


def test_the_time_of_requests_counts_whole_days_of_budget_then_the_pacing() -> None:
    paced = 3.0 * 1.25  # 3 s plus 25% jitter on average
    assert seconds_for(2_000, LINKEDIN) == pytest.approx(2_000 * paced)
    assert seconds_for(4_000, LINKEDIN) == pytest.approx(86_400 + 2_000 * paced)
    unlimited = ProviderSettings(page_size=100, daily_request_budget=0)
    assert seconds_for(4_000, unlimited) == pytest.approx(4_000 * paced)


def test_an_account_of_200000_linkedin_followers_cannot_confirm_within_a_day_at_the_defaults() -> None:
    size = PassSize.of(200_000, LINKEDIN)
    said = too_slow("acme-page", "linkedin", size, LINKEDIN, SyncSettings())
    assert said is not None
    assert said.startswith("acme-page: a full pass is about 2,000 requests (200,000 followers, 100 a page)")
    assert "4,000 requests" in said and "2.0 days of daily_request_budget 2,000" in said
    assert "longer than sync.full_pass_interval (24 h)" in said
    assert "[providers.linkedin] daily_request_budget or [sync] full_pass_interval" in said


@pytest.mark.parametrize(
    ("followers", "provider", "sync"),
    [
        (100_000, LINKEDIN, SyncSettings()),
        (200_000, INSTAGRAM, SyncSettings()),
        (200_000, LINKEDIN, SyncSettings(full_pass_interval=3 * 86_400)),
        (200_000, ProviderSettings(page_size=100, daily_request_budget=5_000), SyncSettings()),
    ],
)
def test_a_source_that_fits_gets_no_word(
    followers: int, provider: ProviderSettings, sync: SyncSettings
) -> None:
    assert too_slow("s", "linkedin", PassSize.of(followers, provider), provider, sync) is None


def test_a_first_pass_cannot_know_its_total() -> None:
    assert progress(860, 86_000, True, LINKEDIN) == (
        "first full pass: 860 pages so far (the total is known when it ends); 2,000 pages a day at the budget"
    )


def test_a_later_pass_paused_by_the_budget_ends_on_a_later_day() -> None:
    assert progress(860, 200_000, False, LINKEDIN, budget_used_up=True) == (
        "full pass 43%: 860 of about 2,000 pages; about 1 more day at the budget"
    )
    small_budget = ProviderSettings(page_size=100, daily_request_budget=500)
    assert progress(860, 200_000, False, small_budget) == (
        "full pass 43%: 860 of about 2,000 pages; about 3 more days at the budget"
    )


def test_a_later_pass_within_the_budget_ends_at_the_pacing() -> None:
    assert (
        progress(10, 2_000, False, LINKEDIN)
        == "full pass 50%: 10 of about 20 pages; about 1 more minute at the pacing"
    )
